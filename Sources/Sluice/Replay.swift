import ArgumentParser
import Foundation
import RateLimitConfig
import RateLimitCore
import RateLimitHTTP

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a JSON Lines trace against a configuration on a virtual clock.",
        discussion: """
            Each input line: {"t_ms": 50, "rule": "api", "key": "user-42", "cost": 1} (t_ms non-decreasing, cost \
            defaults to 1). One JSON line out per input line; a per-rule summary on stderr.
            """)

    @Option(help: "The configuration file whose rules to replay against.")
    var config: String

    @Argument(help: "The trace (JSON Lines). Reads standard input when omitted.")
    var trace: String?

    func run() throws {
        let rules: RuleSet
        do { rules = try ConfigFile.load(path: config).rules } catch {
            printError("\(config): \(error.description)")
            throw ExitCode(1)
        }
        guard let input = trace.map({ FileHandle(forReadingAtPath: $0) }) ?? FileHandle.standardInput else {
            printError("cannot read \(trace ?? "stdin")")
            throw ExitCode(1)
        }
        let session = ReplaySession(rules: rules)
        var out = ""
        var lineNumber = 0
        for line in LineReader(input) {
            lineNumber += 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            do {
                let event = try TraceLine.parse(line)
                let d = try session.apply(event)
                out += "{\"line\":\(lineNumber),\"rule\":\(jsonString(event.rule)),\"key\":\(jsonString(event.key)),"
                out += "\"allowed\":\(d.allowed),\"remaining\":\(d.remaining),"
                out += "\"retry_after_ms\":\(ms(d.retryAfter)),\"delay_ms\":\(ms(d.delay))}\n"
                if out.utf8.count > 1 << 16 {
                    FileHandle.standardOutput.write(Data(out.utf8))
                    out = ""
                }
            } catch {
                FileHandle.standardOutput.write(Data(out.utf8))
                printError("line \(lineNumber): \(error)")
                throw ExitCode(2)
            }
        }
        FileHandle.standardOutput.write(Data(out.utf8))
        for s in session.summary() {
            let top = s.topDenied.map { "\($0.key)=\($0.denied)" }.joined(separator: " ")
            var line = "\(s.rule): \(s.requests) requests, \(s.allowed) allowed, \(s.denied) denied"
            if s.shadowDenied > 0 { line += ", \(s.shadowDenied) shadow-denied" }
            if !top.isEmpty { line += "; top denied: \(top)" }
            printError(line)
        }
    }

    private func ms(_ ns: Int64) -> Int64 { ns <= 0 ? 0 : (ns - 1) / 1_000_000 + 1 }
}

/// One trace line → a replay event; errors name the field.
enum TraceLine {
    struct Problem: Error, CustomStringConvertible { var description: String }

    static func parse(_ line: String) throws -> ReplayEvent {
        let value: JSONValue
        do { value = try JSONParser.parse(Array(line.utf8)) } catch { throw Problem(description: error.description) }
        guard case .object(let fields) = value else { throw Problem(description: "each line must be a JSON object") }
        var t: Int64?, rule: String?, key: String?, cost: Int64 = 1
        for (name, v) in fields {
            switch (name, v) {
            case ("t_ms", .number(let text)):
                guard let ns = nanoseconds(fromMilliseconds: text) else {
                    throw Problem(description: "t_ms must be a non-negative number of milliseconds, got \(text)")
                }
                t = ns
            case ("rule", .string(let s)): rule = s
            case ("key", .string(let s)): key = s
            case ("cost", .number(let text)):
                guard let n = Int64(text), n >= 0 else { throw Problem(description: "cost must be a non-negative integer, got \(text)") }
                cost = n
            case ("t_ms", _), ("rule", _), ("key", _), ("cost", _):
                throw Problem(description: "\(name) has the wrong type (\(v.typeName))")
            default:
                throw Problem(description: "unknown field \(name)")
            }
        }
        guard let t else { throw Problem(description: "missing field t_ms") }
        guard let rule else { throw Problem(description: "missing field rule") }
        guard let key else { throw Problem(description: "missing field key") }
        return ReplayEvent(time: t, rule: rule, key: key, cost: cost)
    }

    /// "12.5" ms → 12,500,000 ns, exactly (up to 6 decimals).
    static func nanoseconds(fromMilliseconds text: String) -> Int64? {
        let parts = text.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
        guard let whole = Int64(parts[0]), whole >= 0, whole < 9_000_000_000_000, !parts[0].hasPrefix("-") else { return nil }
        var fraction: Int64 = 0
        if parts.count == 2 {
            let digits = parts[1]
            guard !digits.isEmpty, digits.count <= 6, digits.allSatisfy(\.isNumber), let f = Int64(digits) else { return nil }
            fraction = f * Int64([1, 100_000, 10_000, 1_000, 100, 10, 1][digits.count])
        }
        return whole * 1_000_000 + fraction
    }
}

/// Lines of a file handle, read in chunks.
struct LineReader: Sequence, IteratorProtocol {
    let handle: FileHandle
    var buffer = Data()
    var done = false

    init(_ handle: FileHandle) { self.handle = handle }

    mutating func next() -> String? {
        while true {
            if let newline = buffer.firstIndex(of: 10) {
                let line = buffer[buffer.startIndex..<newline]
                buffer = Data(buffer[(newline + 1)...])
                return String(decoding: line, as: UTF8.self)
            }
            if done {
                guard !buffer.isEmpty else { return nil }
                defer { buffer = Data() }
                return String(decoding: buffer, as: UTF8.self)
            }
            let chunk = handle.readData(ofLength: 1 << 16)
            if chunk.isEmpty { done = true } else { buffer.append(chunk) }
        }
    }
}
