#if canImport(Glibc)
import Glibc
#endif
public import RateLimitCore

/// `--state-file`: the memory backend's key states on disk between two runs. Written atomically
/// (a temporary file, then rename), so a kill during the write loses only that snapshot.
public enum StateFile {
    public struct Problem: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    /// The snapshot at `path`, or nil when there is none; throws when the file is unreadable,
    /// corrupt or foreign.
    public static func read(_ path: String) throws(Problem) -> StateSnapshot? {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { return nil }
            throw Problem(description: "cannot open \(path): errno \(errno)")
        }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 { throw Problem(description: "cannot read \(path): errno \(errno)") }
            if n == 0 { break }
            bytes += chunk[..<n]
            if bytes.count > 1 << 30 { throw Problem(description: "\(path) is larger than 1 GiB") }
        }
        do { return try StateSnapshot(decoding: bytes) } catch { throw Problem(description: "\(path): \(error.description)") }
    }

    /// Writes `snapshot` to `path` by way of `path.tmp` and a rename.
    public static func write(_ snapshot: StateSnapshot, to path: String) throws(Problem) {
        let temporary = path + ".tmp"
        let fd = open(temporary, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw Problem(description: "cannot create \(temporary): errno \(errno)") }
        let bytes = snapshot.encoded()
        var offset = 0
        while offset < bytes.count {
            let n = bytes[offset...].withUnsafeBytes { Glibc.write(fd, $0.baseAddress, $0.count) }
            if n <= 0 {
                close(fd)
                unlink(temporary)
                throw Problem(description: "cannot write \(temporary): errno \(errno)")
            }
            offset += n
        }
        fsync(fd)
        close(fd)
        guard rename(temporary, path) == 0 else {
            unlink(temporary)
            throw Problem(description: "cannot rename \(temporary) to \(path): errno \(errno)")
        }
    }

    /// Removes the file once restored, so a crash later never restores the same snapshot again.
    public static func remove(_ path: String) { unlink(path) }
}
