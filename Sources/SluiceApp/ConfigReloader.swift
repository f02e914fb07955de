public import Logging
public import RateLimitConfig
public import RateLimitCore
public import RateLimitHTTP
public import RateLimitMetrics

/// Re-reads the configuration file and installs its rules; a bad file keeps the old rules.
public final class ConfigReloader: RulesReloading {
    /// The file being served; nil when running on the embedded defaults.
    public let path: String?
    let limiter: RateLimiter
    let metrics: SluiceMetrics
    let logger: Logger
    let backend: Backend

    public init(path: String?, backend: Backend, limiter: RateLimiter, metrics: SluiceMetrics, logger: Logger) {
        self.path = path
        self.backend = backend
        self.limiter = limiter
        self.metrics = metrics
        self.logger = logger
    }

    /// Reloads now. Returns the number of rules installed, or why nothing changed.
    @discardableResult
    public func reload(reason: String) -> Result<Int, ReloadError> {
        guard let path else { return .failure(.noFile) }
        do {
            let config = try ConfigFile.load(path: path)
            if config.backend != backend {
                logger.warning("backend settings changed in \(path); they apply at the next restart", metadata: ["reason": "\(reason)"])
            }
            limiter.replaceRules(config.rules)
            metrics.reloadSuccess.increment()
            metrics.configLoaded(true, unixSeconds: Double(limiter.clock.now) / 1e9)
            logger.info("configuration reloaded", metadata: ["reason": "\(reason)", "rules": "\(config.rules.rules.count)"])
            return .success(config.rules.rules.count)
        } catch {
            metrics.reloadFailure.increment()
            // Stays 0 until a load succeeds, so the alert lasts as long as the bad file.
            metrics.configLoaded(false, unixSeconds: 0)
            logger.error("configuration reload failed; keeping the previous rules", metadata: [
                "reason": "\(reason)", "error": "\(error.description)",
            ])
            return .failure(.invalid("\(path): \(error.description)"))
        }
    }
}
