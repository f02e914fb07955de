import Foundation

/// Reading the configuration file from disk.
public enum ConfigFile {
    /// Reads and validates the file at `path`.
    public static func load(path: String) throws(ConfigError) -> Configuration {
        try ConfigLoader.parse(yaml: try read(path: path))
    }

    /// The file's text, or an error naming the file.
    public static func read(path: String) throws(ConfigError) -> String {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw ConfigError(field: "", line: nil, column: nil, message: "cannot read \(path): no such file or not readable")
        }
        guard let text = String(data: data, encoding: .utf8) else {
            throw ConfigError(field: "", line: nil, column: nil, message: "\(path) is not UTF-8 text")
        }
        return text
    }

    /// The file's current bytes (nil when it cannot be read), compared whole to notice changes —
    /// including a Kubernetes ConfigMap's atomic symlink swap, which keeps mtimes.
    public static func snapshot(path: String) -> [UInt8]? {
        FileManager.default.contents(atPath: path).map { [UInt8]($0) }
    }
}

/// Polls a file and calls `onChange` when its contents change and have settled. Polling (not
/// inotify) because Kubernetes updates ConfigMap volumes by swapping a symlinked directory.
public struct ConfigWatcher: Sendable {
    public let path: String
    public let interval: Duration

    public init(path: String, interval: Duration = .milliseconds(500)) {
        self.path = path
        self.interval = interval
    }

    /// Runs until the task is cancelled.
    public func run(onChange: @Sendable () async -> Void) async {
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
