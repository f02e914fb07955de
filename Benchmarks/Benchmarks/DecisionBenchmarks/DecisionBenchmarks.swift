import Benchmark
import RateLimitCore
import RateLimitMetrics

// Decision cost in-process: one `RateLimiter.check` per iteration, on a manual clock that
// advances 1 µs per decision (so buckets refill and every path stays realistic).

/// `maxKeys`: the store's key cap (`sluice serve` always has one; nil measures the store without).
private func limiter(_ algorithm: Algorithm, clock: ManualClock, maxKeys: Int? = nil) -> RateLimiter {
    let limits = try! Limits(algorithm: algorithm, limit: 1_000_000, period: 1_000_000_000)  // constants: valid
    let rule = try! Rule(name: "bench", limits: limits)
    return RateLimiter(rules: try! RuleSet([rule]), clock: clock, store: MemoryStore(maxKeys: maxKeys))
}

private let keys: [String] = (0..<1_000_000).map { "user-\($0)" }

/// A limiter recording into the metrics, as `sluice serve` runs it: with the top-keys summary
/// (`topKeys` tracked per rule) or without (0).
private func recordingLimiter(topKeys: Int, clock: ManualClock) -> RateLimiter {
    var settings = TopKeysSettings()
    settings.capacity = topKeys
    let metrics = SluiceMetrics(version: "bench", topKeys: settings)
    let limits = try! Limits(algorithm: .tokenBucket, limit: 1_000_000, period: 1_000_000_000)  // constants: valid
    let rule = try! Rule(name: "bench", limits: limits)
    return RateLimiter(rules: try! RuleSet([rule]), clock: clock, store: MemoryStore(maxKeys: 2_000_000)) { metrics.recorder(forRule: $0.name) }
}

let benchmarks: @Sendable () -> Void = {
    Benchmark.defaultConfiguration = .init(
        metrics: [.wallClock, .throughput, .mallocCountTotal],
        timeUnits: .nanoseconds,
        scalingFactor: .kilo,
        maxDuration: .seconds(3),
        maxIterations: 10_000_000
    )

    // Each algorithm without a cap, and the token bucket with one (as `sluice serve` runs: the
    // eviction clock must cost the hit path next to nothing).
    let existingKeyCases = Algorithm.allCases.map { ($0, nil as Int?, $0.rawValue) } + [(.tokenBucket, 2_000_000, "token_bucket, key cap")]
    for (algorithm, maxKeys, label) in existingKeyCases {
        Benchmark("check existing key (\(label))") { benchmark in
            let clock = ManualClock(now: 1_700_000_000_000_000_000)
            let l = limiter(algorithm, clock: clock, maxKeys: maxKeys)
            let request = CheckRequest(rule: "bench", key: "user-42")
            _ = try l.check(request)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                clock.advance(by: 1_000)
                blackHole(try l.check(request))
            }
        }
    }

    // The top-keys summary's cost on the fast path: the same check recorded into the metrics,
    // without and with it; one hot key (a hit in the summary) and 10k keys in turn (each a miss
    // that replaces the smallest counter: the summary's worst case).
    for (topKeys, label) in [(0, "recorder"), (64, "recorder + top keys")] {
        Benchmark("check existing key (token_bucket, \(label))") { benchmark in
            let clock = ManualClock(now: 1_700_000_000_000_000_000)
            let l = recordingLimiter(topKeys: topKeys, clock: clock)
            let request = CheckRequest(rule: "bench", key: "user-42")
            _ = try l.check(request)
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                clock.advance(by: 1_000)
                blackHole(try l.check(request))
            }
        }
        Benchmark("check 10k keys in turn (token_bucket, \(label))") { benchmark in
            let clock = ManualClock(now: 1_700_000_000_000_000_000)
            let l = recordingLimiter(topKeys: topKeys, clock: clock)
            let requests = keys.prefix(10_000).map { CheckRequest(rule: "bench", key: $0) }
            for request in requests { _ = try l.check(request) }
            var i = 0
            benchmark.startMeasurement()
            for _ in benchmark.scaledIterations {
                clock.advance(by: 1_000)
                blackHole(try l.check(requests[i % requests.count]))
                i += 1
            }
        }
    }

    Benchmark("check new key, at the key cap (token_bucket)") { benchmark in
        let clock = ManualClock(now: 1_700_000_000_000_000_000)
        let l = limiter(.tokenBucket, clock: clock, maxKeys: 100_000)
        var i = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try l.check(CheckRequest(rule: "bench", key: keys[i % keys.count])))
            i += 1
        }
    }

    Benchmark("check new key (token_bucket)") { benchmark in
        let clock = ManualClock(now: 1_700_000_000_000_000_000)
        let l = limiter(.tokenBucket, clock: clock)
        var i = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try l.check(CheckRequest(rule: "bench", key: keys[i % keys.count])))
            i += 1
        }
    }

    Benchmark("check among 1M keys (token_bucket)", configuration: .init(metrics: [.wallClock, .mallocCountTotal], timeUnits: .nanoseconds, scalingFactor: .kilo, maxDuration: .seconds(5))) { benchmark in
        let clock = ManualClock(now: 1_700_000_000_000_000_000)
        let l = limiter(.tokenBucket, clock: clock)
        for key in keys { _ = try l.check(CheckRequest(rule: "bench", key: key)) }
        var i = 0
        benchmark.startMeasurement()
        for _ in benchmark.scaledIterations {
            blackHole(try l.check(CheckRequest(rule: "bench", key: keys[(i &* 7919) % keys.count])))
            i += 1
        }
    }

    // Bytes per tracked key = (peak RSS of "1M keys tracked" − peak RSS of "1M keys, none tracked") / 1M.
    Benchmark(
        "1M keys, none tracked",
        configuration: .init(metrics: [.peakMemoryResident], scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 1)
    ) { benchmark in
        let clock = ManualClock(now: 1_700_000_000_000_000_000)
        let l = limiter(.tokenBucket, clock: clock)
        blackHole(keys.count)
        blackHole(l)
    }

    Benchmark(
        "1M keys tracked (token_bucket, key cap)",
        configuration: .init(metrics: [.peakMemoryResident, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 1)
    ) { benchmark in
        let clock = ManualClock(now: 1_700_000_000_000_000_000)
        let l = limiter(.tokenBucket, clock: clock, maxKeys: 2_000_000)
        for key in keys { _ = try l.check(CheckRequest(rule: "bench", key: key)) }
        blackHole(l)
    }

    Benchmark(
        "1M keys tracked (token_bucket)",
        configuration: .init(metrics: [.peakMemoryResident, .mallocCountTotal], scalingFactor: .one, maxDuration: .seconds(20), maxIterations: 1)
    ) { benchmark in
        let clock = ManualClock(now: 1_700_000_000_000_000_000)
        let l = limiter(.tokenBucket, clock: clock)
        for key in keys { _ = try l.check(CheckRequest(rule: "bench", key: key)) }
        blackHole(l)
    }
}

