// Profiling aid: decides one existing token-bucket key in a loop for SECONDS (default 3) and prints
// ns/decision. Run under perf or valgrind --tool=callgrind, e.g.
//   swift build -c release --package-path Benchmarks --product decide-loop
//   perf record -g Benchmarks/.build/release/decide-loop 3
import RateLimitCore

let seconds = Double(CommandLine.arguments.dropFirst().first ?? "3") ?? 3
guard let limits = try? Limits(algorithm: .tokenBucket, limit: 1_000_000, period: 1_000_000_000),
      let rule = try? Rule(name: "bench", limits: limits), let rules = try? RuleSet([rule])
else { fatalError("constant rule is valid") }
let clock = ManualClock(now: 1_700_000_000_000_000_000)
let limiter = RateLimiter(rules: rules, clock: clock)
let request = CheckRequest(rule: "bench", key: "user-42")
var allowed = 0
var n = 0
let start = ContinuousClock.now
let end = start + .milliseconds(Int64(seconds * 1000))
while ContinuousClock.now < end {
    for _ in 0..<10_000 {
        clock.advance(by: 1_000)
        if (try? limiter.check(request))?.allowed == true { allowed += 1 }
    }
    n += 10_000
}
let elapsed = ContinuousClock.now - start
let ns = Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) / 1e9
print("decisions=\(n) allowed=\(allowed) ns_per_decision=\(Int(ns / Double(n)))")
