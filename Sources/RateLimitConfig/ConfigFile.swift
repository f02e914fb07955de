#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Reading the configuration file from disk.
public enum ConfigFile {
    /// Reads and validates the file at `path`.
    public static func load(path: String) throws(ConfigError) -> Configuration {
        try ConfigLoader.parse(yaml: try read(path: path))
    }

    /// The file's text, or an error naming the file.
    public static func read(path: String) throws(ConfigError) -> String {
        guard let bytes = contents(path: path) else {
            throw ConfigError(field: "", line: nil, column: nil, message: "cannot read \(path): no such file or not readable")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw ConfigError(field: "", line: nil, column: nil, message: "\(path) is not UTF-8 text")
        }
        return text
    }

    /// The file's current bytes (nil when it cannot be read), compared whole to notice changes —
    /// including a Kubernetes ConfigMap's atomic symlink swap, which keeps mtimes.
    public static func snapshot(path: String) -> [UInt8]? {
        contents(path: path)
    }

    /// Every byte of the file at `path` (`-` is not special); nil when it cannot be opened or read.
    public static func contents(path: String) -> [UInt8]? {
        let descriptor = open(path, O_RDONLY | O_CLOEXEC)
        guard descriptor >= 0 else { return nil }
        defer { close(descriptor) }
        return readAll(descriptor)
    }

    /// Every byte readable from `descriptor` until its end; nil on a read error.
    public static func readAll(_ descriptor: Int32) -> [UInt8]? {
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let count = chunk.withUnsafeMutableBytes { systemRead(descriptor, $0.baseAddress, $0.count) }
            if count == 0 { return bytes }
            if count < 0 {
                if errno == EINTR { continue }
                return nil
            }
            bytes += chunk[..<count]
        }
    }
}

/// read(2), named apart from `ConfigFile.read(path:)`.
private func systemRead(_ descriptor: Int32, _ buffer: UnsafeMutableRawPointer?, _ count: Int) -> Int {
    read(descriptor, buffer, count)
}
