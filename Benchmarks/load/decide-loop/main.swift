// Profiling aid: decides existing token-bucket keys in a loop for SECONDS (default 3), spread over
// KEYS keys (default 1, all tracked first), and prints ns/decision. Run under perf or
// valgrind --tool=callgrind, e.g.
//   swift build -c release --package-path Benchmarks --product decide-loop
//   perf record -g Benchmarks/.build/release/decide-loop 3 [KEYS]
import RateLimitCore

let arguments = Array(CommandLine.arguments.dropFirst())
let seconds = Double(arguments.first ?? "3") ?? 3
let keyCount = max(Int(arguments.dropFirst().first ?? "1") ?? 1, 1)
guard let limits = try? Limits(algorithm: .tokenBucket, limit: 1_000_000, period: 1_000_000_000),
      let rule = try? Rule(name: "bench", limits: limits), let rules = try? RuleSet([rule])
else { fatalError("constant rule is valid") }
let clock = ManualClock(now: 1_700_000_000_000_000_000)
let limiter = RateLimiter(rules: rules, clock: clock)
let requests = (0..<keyCount).map { CheckRequest(rule: "bench", key: "user-\($0)") }
for request in requests { _ = try? limiter.check(request) }
var allowed = 0
var i = 0
var n = 0
let start = ContinuousClock.now
let end = start + .milliseconds(Int64(seconds * 1000))
while ContinuousClock.now < end {
    for _ in 0..<10_000 {
        clock.advance(by: 1_000)
        if (try? limiter.check(requests[i]))?.allowed == true { allowed += 1 }
        i = (i &+ 7919) % keyCount
    }
    n += 10_000
}
let elapsed = ContinuousClock.now - start
let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
print("decisions=\(n) allowed=\(allowed) ns_per_decision=\(Int(ns / Double(n)))")
