import RateLimitConfig

/// Polls a file and calls `onChange` when its contents change and have settled. Polling (not
/// inotify) because Kubernetes updates ConfigMap volumes by swapping a symlinked directory.
struct ConfigWatcher: Sendable {
    let path: String
    let interval: Duration

    init(path: String, interval: Duration = .milliseconds(500)) {
        self.path = path
        self.interval = interval
    }

    /// Runs until the task is cancelled.
    func run(onChange: @Sendable () async -> Void) async {
        var settle = SettledChange(loaded: ConfigFile.snapshot(path: path))
        while !Task.isCancelled {
            do { try await Task.sleep(for: interval) } catch { return }
            if settle.observe(ConfigFile.snapshot(path: path)) { await onChange() }
        }
    }
}

/// Debounces a polled file: a change counts once the same new contents were read twice in a
/// row, so a file rewritten in place is not installed half-written (red team 2, F16). Writers
/// should still replace the file atomically (write a temporary file, then rename).
public struct SettledChange<Snapshot: Equatable & Sendable>: Sendable {
    private var loaded: Snapshot
    private var candidate: Snapshot?

    public init(loaded: Snapshot) {
        self.loaded = loaded
    }

    /// Takes one poll's contents; true when they are a settled change (reload now).
    public mutating func observe(_ now: Snapshot) -> Bool {
        if now == loaded {
            candidate = nil
            return false
        }
        if let candidate, candidate == now {
            loaded = now
            self.candidate = nil
            return true
        }
        candidate = now
        return false
    }
}
