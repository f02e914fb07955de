public import Logging
import RateLimitHTTP
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes `message` and a line break to stderr.
public func printError(_ message: String) {
    writeAll(STDERR_FILENO, message + "\n")
}

/// Writes every byte of `text` to `descriptor`, retrying short and interrupted writes; gives up
/// silently on an error (a closed stderr must not stop the server).
public func writeAll(_ descriptor: Int32, _ text: String) {
    var text = text
    text.withUTF8 { buffer in
        guard let base = buffer.baseAddress else { return }
        var offset = 0
        while offset < buffer.count {
            let written = write(descriptor, base + offset, buffer.count - offset)
            if written < 0, errno == EINTR { continue }
            guard written > 0 else { return }
            offset += written
        }
    }
}

/// One JSON object per line on stderr: `{"label":…,"level":…,"msg":…,"ts":…,…metadata}`, keys
/// sorted, `ts` in RFC 3339 UTC with milliseconds.
public struct JSONLogHandler: LogHandler {
    let label: String
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]

    public init(label: String) { self.label = label }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        writeAll(STDERR_FILENO, Self.line(
            time: SystemClock().now, level: event.level, label: label, message: "\(event.message)",
            metadata: metadata.merging(event.metadata ?? [:], uniquingKeysWith: { $1 })))
    }

    /// The log line, ending in a line break. Metadata cannot replace the four standard fields.
    static func line(time: Int64, level: Logger.Level, label: String, message: String, metadata: Logger.Metadata) -> String {
        var fields: [String: String] = [
            "ts": RFC3339.string(nanoseconds: time), "level": level.rawValue, "label": label, "msg": message,
        ]
        for (key, value) in metadata where fields[key] == nil {
            fields[key] = "\(value)"
        }
        return "{" + fields.sorted { $0.key < $1.key }.map { JSONWriter.quoted($0.key) + ":" + JSONWriter.quoted($0.value) }.joined(separator: ",") + "}\n"
    }
}
