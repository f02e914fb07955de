// The configuration loader (YAML → validated rules), the single-rule parser the admin API uses,
// the duration parser, and the decisions a loaded configuration makes.
//
// Invariants beyond "no crash":
// - an error names a place inside the document (1-based line and column);
// - a loaded rule, written as the admin API shows it, parses back to the same rule;
// - durations: format(parse(x)) parses back to the same value;
// - the limiter built from a loaded configuration allows a new key's first request of cost 1,
//   and its decisions have non-negative numbers, for every rule and override, over time.
@testable import RateLimitHTTP
import FuzzSupport
import NIOCore
import RateLimitConfig
import RateLimitCore

private let allocator = ByteBufferAllocator()

private func checkRoundTrip(_ rule: Rule) {
    var shown = allocator.buffer(capacity: 128)
    shown.writeRule(rule)
    do {
        let again = try ConfigLoader.parseRule(yaml: String(buffer: shown))
        require(again == rule, "rule does not round-trip: \(rule) vs \(again)")
    } catch {
        require(false, "the rule as shown does not parse back (\(error)): \(String(buffer: shown))")
    }
}

private func checkError(_ error: ConfigError, _ text: String) {
    // YAML's line breaks: LF, CR, CRLF, and (YAML 1.1, libyaml) NEL, LS, PS.
    var lines = 1
    var previous: Unicode.Scalar = " "
    for scalar in text.unicodeScalars {
        switch scalar {
        case "\n": if previous != "\r" { lines += 1 }
        case "\r", "\u{85}", "\u{2028}", "\u{2029}": lines += 1
        default: break
        }
        previous = scalar
    }
    if let line = error.line { require(line >= 1 && line <= lines + 1, "error line \(line) outside a \(lines)-line document") }
    if let column = error.column { require(column >= 1, "error column \(column)") }
    require(!error.description.isEmpty, "empty error")
}

private func checkDecision(_ d: Decision, _ what: String) {
    require(d.remaining >= 0 && d.resetAfter >= 0 && d.retryAfter >= 0 && d.delay >= 0, "\(what): negative field in \(d)")
    require(d.allowed || d.retryAfter > 0 || d.shadowDenied, "\(what): denied with retryAfter 0: \(d)")
}

private func exercise(_ rules: RuleSet, seed: UInt64) {
    let clock = ManualClock(now: 1_750_000_000_000_000_000 + Int64(seed % 1_000_000_007))
    let limiter = RateLimiter(rules: rules, clock: clock)
    for rule in rules.rules {
        for key in ["k"] + rule.overrides.keys.sorted().map(\.string) {
            let limits: Limits? = if case .limited(let l) = rule.policy(for: key) { l } else { nil }
            let what = "\(rule.name)/\(key)"
            do {
                let first = try limiter.check(CheckRequest(rule: rule.name, key: key, cost: 1))
                require(first.allowed, "\(what): a new key's first request is denied: \(first)")
                checkDecision(first, what)
                if let limits {
                    let big = try limiter.check(CheckRequest(rule: rule.name, key: key, cost: limits.capacity))
                    checkDecision(big, "\(what) cost \(limits.capacity)")
                    checkDecision(try limiter.status(CheckRequest(rule: rule.name, key: key, cost: 0)), "\(what) status")
                    clock.advance(by: limits.period / 3 + 1)
                    checkDecision(try limiter.check(CheckRequest(rule: rule.name, key: key, cost: 1)), "\(what) later")
                    let batch = try limiter.check(batch: [
                        CheckRequest(rule: rule.name, key: key, cost: 1), CheckRequest(rule: rule.name, key: key, cost: limits.capacity),
                    ])
                    for d in batch.decisions { checkDecision(d, "\(what) batch") }
                    clock.advance(by: limits.period * 2)
                }
            } catch {
                require(false, "\(what): check refused: \(error)")
            }
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    let text = String(decoding: bytes, as: UTF8.self)

    do {
        let config = try ConfigLoader.parse(yaml: text)
        require(!config.rules.rules.isEmpty, "a configuration without rules")
        if case .redis(let redis) = config.backend {
            require((1...60_000).contains(redis.timeoutMilliseconds), "timeout \(redis.timeoutMilliseconds)")
        }
        for rule in config.rules.rules { checkRoundTrip(rule) }
        exercise(config.rules, seed: fnv1a(bytes))
    } catch {
        checkError(error, text)
    }

    do {
        let rule = try ConfigLoader.parseRule(yaml: text)
        checkRoundTrip(rule)
        exercise(try RuleSet([rule]), seed: fnv1a(bytes))
    } catch let error as ConfigError {
        checkError(error, text)
    } catch {
        require(false, "unexpected error \(error)")
    }

    if let ns = DurationParser.parse(text) {
        require(ns >= 0, "negative duration \(ns)")
        let formatted = DurationParser.format(ns)
        require(DurationParser.parse(formatted) == ns, "duration \(text) → \(ns) → \(formatted) does not parse back")
    }
    return 0
}
