#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Preparing the API socket's path: a stale file from a crashed run is replaced; a live one
/// (another instance listening) is an error, never stolen.
public enum UnixSocketPath {
    public struct Problem: Error, CustomStringConvertible, Sendable {
        public var description: String
    }

    /// Longest socket path SwiftNIO binds (`sun_path` less its terminator and NIO's margin).
    public static let maxBytes = 103

    public static func prepare(_ path: String) throws(Problem) {
        guard !path.isEmpty, path.utf8.count <= maxBytes else {
            throw Problem(description: "socket path must be 1-\(maxBytes) bytes (got \(path.utf8.count)): \(path)")
        }
        let directory = path.contains("/") ? String(path[..<(path.lastIndex(of: "/") ?? path.endIndex)]) : "."
        var info = stat()
        if !directory.isEmpty, stat(directory, &info) != 0 || (info.st_mode & S_IFMT) != S_IFDIR {
            throw Problem(description: "socket directory \(directory) does not exist or is not a directory")
        }
        guard lstat(path, &info) == 0 else { return }  // nothing there
        guard (info.st_mode & S_IFMT) == S_IFSOCK else {
            throw Problem(description: "\(path) exists and is not a socket; refusing to replace it")
        }
        if isListening(path) {
            throw Problem(description: "another process is listening on \(path); is sluice already running?")
        }
        guard unlink(path) == 0 else {
            throw Problem(description: "cannot remove stale socket \(path): errno \(errno)")
        }
    }

    /// True when something accepts connections on the socket at `path`.
    static func isListening(_ path: String) -> Bool {
        (try? BlockingHTTPClient(unixSocket: path, timeoutSeconds: 1)) != nil
    }

    /// Sets the socket file's permission bits.
    public static func setMode(_ path: String, _ mode: UInt32) throws(Problem) {
        guard chmod(path, mode_t(mode)) == 0 else {
            throw Problem(description: "cannot chmod \(path) to \(String(mode, radix: 8)): errno \(errno)")
        }
    }

    /// Runs `bind` with a umask that lets nobody but the owner in, so the socket never exists
    /// with a looser mode than the one `setMode` gives it next (red team 2, F21). The umask is
    /// process-wide and the listeners bind concurrently (and apps in one test process too):
    /// the first bind sets it, the last one to finish puts back what it was. Saving and
    /// restoring per call would leave 0o177 behind whenever two binds overlap.
    public static func bindingPrivately<T>(_ bind: () async throws -> T) async throws -> T {
        privateBinds.withLock { binds in
            if binds.enter() { binds.saved = umask(0o177) }
        }
        defer {
            privateBinds.withLock { binds in
                if let restore = binds.leave() { umask(restore) }
            }
        }
        return try await bind()
    }

    private static let privateBinds = Mutex(PrivateBinds())
    /// Removes the socket file (at shutdown).
    public static func remove(_ path: String) {
        unlink(path)
    }
}

/// The private binds in flight, as a value: the first one sets the private umask (and saves the
/// one it replaced), the last one to finish puts the saved one back, in whatever order they
/// overlap.
struct PrivateBinds {
    private(set) var count = 0
    /// The umask from before the first bind in flight.
    var saved: mode_t = 0

    /// A bind starts: true when it is the first (set the private umask, save the old one).
    mutating func enter() -> Bool {
        count += 1
        return count == 1
    }

    /// A bind ended: the umask to put back when it was the last.
    mutating func leave() -> mode_t? {
        count -= 1
        return count == 0 ? saved : nil
    }
}
