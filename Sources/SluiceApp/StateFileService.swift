import Logging
import RateLimitCore
import RateLimitMetrics
import ServiceLifecycle

/// `--state-file` with the memory backend: the key states are restored when the app is built
/// and saved once the listeners have stopped (so every decision they made is in the file).
struct StateFileService: Service {
    let path: String
    let limiter: RateLimiter
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        save()
    }

    /// A missing file is a first start; a bad one is logged and counted, never a failed start.
    func restore(metrics: SluiceMetrics) {
        do throws(StateFile.Problem) {
            guard let snapshot = try StateFile.read(path) else { return }
            let (restored, skipped) = limiter.restore(snapshot)
            metrics.stateRestoredKeys.set(to: Double(restored))
            StateFile.remove(path)
            logger.info("key states restored", metadata: ["state_file": "\(path)", "restored": "\(restored)", "skipped": "\(skipped)"])
        } catch {
            metrics.stateRestoreFailures.increment()
            logger.warning("state file ignored; starting with fresh counters", metadata: ["error": "\(error.description)"])
        }
    }

    func save() {
        let snapshot = limiter.stateSnapshot()
        do throws(StateFile.Problem) {
            try StateFile.write(snapshot, to: path)
            logger.info("key states saved", metadata: ["state_file": "\(path)", "keys": "\(snapshot.entries.count)"])
        } catch {
            logger.error("could not save the key states", metadata: ["error": "\(error.description)"])
        }
    }
}
