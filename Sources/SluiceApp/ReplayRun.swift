#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RateLimitConfig
public import RateLimitCore
import RateLimitHTTP

/// `sluice replay`: a JSON Lines trace decided on a virtual clock, one JSON line out per line
/// in, a per-rule summary on stderr; with a second rule set, what changes between the two.
public struct ReplayRun {
    public var format: TraceFormat
    /// With a comparison: past this share of newly denied requests the exit status is 3.
    public var maxNewDenials: Double?
    /// Where the JSON lines go (standard output) and the summary and errors (standard error).
    public var standardOutput: @Sendable (String) -> Void = { writeAll(STDOUT_FILENO, $0) }
    public var standardError: @Sendable (String) -> Void = { printError($0) }

    public init(format: TraceFormat, maxNewDenials: Double? = nil) {
        self.format = format
        self.maxNewDenials = maxNewDenials
    }

    /// Replays the trace read from `input`: the exit status (0; 2 for an unreadable line, named
    /// on stderr; 3 past `maxNewDenials`).
    public func run(rules: RuleSet, compare: RuleSet?, input: Int32) -> Int32 {
        do throws(Exit) {
            if let compare {
                try runComparison(ReplayComparison(before: rules, after: compare), input: input)
            } else {
                try runSingle(ReplaySession(rules: rules), input: input)
            }
            return 0
        } catch {
            return error.status
        }
    }

    /// Replays the trace at `trace` (standard input when nil) against the rules of `config`,
    /// and of `compare` when given; a file that cannot be read or used exits 1, named.
    public func run(config: String, compare: String?, trace: String?) -> Int32 {
        guard let before = rules(config) else { return 1 }
        var after: RuleSet?
        if let compare {
            guard let rules = rules(compare) else { return 1 }
            after = rules
        }
        let input = trace.map { open($0, O_RDONLY | O_CLOEXEC) } ?? STDIN_FILENO
        guard input >= 0 else {
            standardError("cannot read \(trace ?? "stdin")")
            return 1
        }
        defer { if trace != nil { close(input) } }
        return run(rules: before, compare: after, input: input)
    }

    private func rules(_ path: String) -> RuleSet? {
        do { return try ConfigFile.load(path: path).rules } catch {
            standardError("\(path): \(error.description)")
            return nil
        }
    }

    private struct Exit: Error { var status: Int32 }

    /// Every non-blank line as an event, or exit 2 naming the line.
    private func events(_ input: Int32, _ output: Output, _ body: (ReplayEvent, Int) throws -> Void) throws(Exit) -> TraceLine {
        var parser = TraceLine(format: format)
        var lineNumber = 0
        for line in LineReader(input) {
            lineNumber += 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            do {
                try body(try parser.parse(line), lineNumber)
            } catch {
                output.flush()
                standardError("line \(lineNumber): \(error)")
                throw Exit(status: 2)
            }
        }
        output.flush()
        return parser
    }

    private func runSingle(_ session: ReplaySession, input: Int32) throws(Exit) {
        let output = Output(standardOutput)
        let parser = try events(input, output) { event, line in
            var out = "{\"line\":\(line),\"rule\":\(JSONWriter.quoted(event.rule)),\"key\":\(JSONWriter.quoted(event.key)),"
            switch try session.apply(event) {
            case .decided(let d):
                out += "\"allowed\":\(d.allowed),\"remaining\":\(d.remaining),"
                if let lease = d.lease { out += "\"lease\":\"\(lease.id)\"," }
                out += "\"retry_after_ms\":\(Self.ms(d.retryAfter)),\"delay_ms\":\(Self.ms(d.delay))}\n"
            case .refused(let error):
                out += "\"error\":\(JSONWriter.quoted(error.description))}\n"
            }
            output.write(out)
        }
        for s in session.summary() {
            let top = s.topDenied.map { "\($0.key)=\($0.denied)" }.joined(separator: " ")
            var line = "\(s.rule): \(s.requests) requests, \(s.allowed) allowed, \(s.denied) denied"
            if s.shadowDenied > 0 { line += ", \(s.shadowDenied) shadow-denied" }
            if s.refused > 0 { line += ", \(s.refused) refused (see the error lines)" }
            if !top.isEmpty { line += "; top denied: \(top)" }
            standardError(line)
        }
        if parser.reordered > 0 { standardError("\(parser.reordered) lines were earlier than a previous line; replayed at its time") }
    }

    /// Lines whose verdict changes, then one JSON summary line per rule; the same on stderr for
    /// people; exit 3 past --max-new-denials.
    private func runComparison(_ comparison: ReplayComparison, input: Int32) throws(Exit) {
        let output = Output(standardOutput)
        _ = try events(input, output) { event, line in
            let (before, after) = try comparison.apply(event, line: line)
            guard before.allowed != after.allowed else { return }
            output.write("{\"line\":\(line),\"rule\":\(JSONWriter.quoted(event.rule)),\"key\":\(JSONWriter.quoted(event.key)),"
                + "\"before\":\(Self.verdict(before)),\"after\":\(Self.verdict(after))}\n")
        }
        for d in comparison.report() {
            let keys = { (top: [(key: String, denied: Int)]) in "[" + top.map { "{\"key\":\(JSONWriter.quoted($0.key)),\"requests\":\($0.denied)}" }.joined(separator: ",") + "]" }
            output.write("{\"rule\":\(JSONWriter.quoted(d.rule)),\"requests\":\(d.requests),\"denied_before\":\(d.deniedBefore),"
                + "\"denied_after\":\(d.deniedAfter),\"newly_denied\":\(d.newlyDenied),\"newly_allowed\":\(d.newlyAllowed),"
                + "\"first_divergence_line\":\(d.firstDivergence.map(String.init) ?? "null"),"
                + "\"newly_denied_keys\":\(keys(d.newlyDeniedKeys)),\"newly_allowed_keys\":\(keys(d.newlyAllowedKeys))}\n")
            var line = "\(d.rule): \(d.requests) requests, denied \(d.deniedBefore) → \(d.deniedAfter)"
            line += ", \(d.newlyDenied) newly denied, \(d.newlyAllowed) newly allowed"
            if let first = d.firstDivergence { line += ", first at line \(first)" }
            if !d.newlyDeniedKeys.isEmpty { line += "; newly denied keys: " + d.newlyDeniedKeys.map { "\($0.key)=\($0.denied)" }.joined(separator: " ") }
            standardError(line)
        }
        output.flush()
        let share = comparison.newlyDeniedShare
        if let limit = maxNewDenials, share > limit {
            standardError("newly denied: \(Self.percent(share)) of requests, over --max-new-denials \(Self.percent(limit))")
            throw Exit(status: 3)
        }
    }

    private static func verdict(_ outcome: ReplayOutcome) -> String {
        switch outcome {
        case .decided(let d): d.allowed ? "\"allowed\"" : "\"denied\""
        case .refused: "\"refused\""
        }
    }

    private static func percent(_ share: Double) -> String { "\((share * 10_000).rounded() / 100)%" }

    private static func ms(_ ns: Int64) -> Int64 { ns <= 0 ? 0 : (ns - 1) / 1_000_000 + 1 }
}

/// Standard output, written in 64 KiB pieces.
final class Output {
    private let sink: (String) -> Void
    private var pending = ""

    init(_ sink: @escaping (String) -> Void) { self.sink = sink }

    func write(_ text: String) {
        pending += text
        if pending.utf8.count > 1 << 16 { flush() }
    }

    func flush() {
        sink(pending)
        pending = ""
    }
}

/// Lines of a file descriptor (without their `\n`), read in 64 KiB chunks; a read error ends
/// the input like its end does.
struct LineReader: Sequence, IteratorProtocol {
    let descriptor: Int32
    var buffer: [UInt8] = []
    var start = 0
    var done = false

    init(_ descriptor: Int32) { self.descriptor = descriptor }

    mutating func next() -> String? {
        var searchFrom = start
        while true {
            if let newline = buffer[searchFrom...].firstIndex(of: 10) {
                defer { start = newline + 1 }
                return String(decoding: buffer[start..<newline], as: UTF8.self)
            }
            if done {
                guard start < buffer.count else { return nil }
                defer { start = buffer.count }
                return String(decoding: buffer[start...], as: UTF8.self)
            }
            buffer.removeSubrange(..<start)
            start = 0
            searchFrom = buffer.count
            var chunk = [UInt8](repeating: 0, count: 1 << 16)
            let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
            if count < 0, errno == EINTR { continue }
            if count <= 0 { done = true } else { buffer += chunk[..<count] }
        }
    }
}
