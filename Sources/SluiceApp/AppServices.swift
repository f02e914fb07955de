import Logging
import RateLimitConfig
import RateLimitCore
import RateLimitMetrics
import RateLimitRedis
import ServiceLifecycle
import UnixSignals

/// A listener's run, announcing through `Application.listening` until it stops (so a waiter
/// never waits for a listener that failed to bind).
struct ListenerService: Service {
    let body: @Sendable () async throws -> Void
    let finishing: AsyncStream<Application.Listener>.Continuation

    init(_ body: @escaping @Sendable () async throws -> Void, finishing: AsyncStream<Application.Listener>.Continuation) {
        self.body = body
        self.finishing = finishing
    }

    func run() async throws {
        defer { finishing.finish() }
        try await body()
    }
}

/// The Redis store's connections, closed once the listeners have stopped.
struct RedisStoreService: Service {
    let store: RedisStore

    func run() async throws {
        try? await gracefulShutdown()
        await store.shutdown()
    }
}

/// Evicts idle keys every `interval` (DESIGN.md §2: idle state is free).
struct IdleKeySweeper: Service {
    let limiter: RateLimiter
    let interval: Duration
    let metrics: SluiceMetrics

    func run() async throws {
        let sweeper = self
        try? await cancelWhenGracefulShutdown {
            while true {
                try await Task.sleep(for: sweeper.interval)
                sweeper.sweep()
            }
        }
    }

    /// One sweep now, counted.
    func sweep() {
        metrics.keysEvictedIdle.increment(by: Double(limiter.sweep()))
    }
}

/// SIGHUP → reload the configuration file.
struct ReloadOnSignal: Service {
    let reloader: ConfigReloader

    func run() async throws {
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            reloader.reload(reason: "SIGHUP")
        }
    }
}

/// Reload when the configuration file's contents change.
struct WatchConfigFile: Service {
    let path: String
    let reloader: ConfigReloader

    func run() async throws {
        let reloader = self.reloader
        await cancelWhenGracefulShutdown {
            await ConfigWatcher(path: path).run { reloader.reload(reason: "file changed") }
        }
    }
}
