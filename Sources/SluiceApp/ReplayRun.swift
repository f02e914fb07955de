import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RateLimitConfig
import RateLimitCore
import RateLimitHTTP

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a JSON Lines trace against a configuration on a virtual clock.",
        discussion: """
            Each input line: {"t_ms": 50, "rule": "api", "key": "user-42", "cost": 1} (t_ms non-decreasing, cost \
            defaults to 1). One JSON line out per input line; a check the rules refuse (an impossible cost, an \
            unknown rule) is an {"error": …} line and is counted, not fatal. A per-rule summary goes to stderr. \
            With --compare NEW the trace is decided under both rule sets and the differences are reported; \
            --max-new-denials makes it a CI gate (exit 3). Access logs: --time-field, --key-field and --rule or \
            --rule-field read other JSON lines (RFC 3339 or epoch timestamps, dotted paths).
            """)

    @Option(help: "The configuration file whose rules to replay against.")
    var config: String

    @Option(help: "New rules to compare with: report what they would change.")
    var compare: String?

    @Option(help: "With --compare: exit 3 when the newly denied requests exceed this share of all requests (e.g. 0.01).")
    var maxNewDenials: Double?

    @Option(help: "The field holding each line's time (default t_ms).")
    var timeField: String?

    @Option(help: "The unit of a numeric time field: s, ms, us or ns (default ms).")
    var timeUnit: String?

    @Option(help: "The field holding the key (default key).")
    var keyField: String?

    @Option(help: "The field holding the rule (default rule).")
    var ruleField: String?

    @Option(help: "The rule of every line, for logs that name none.")
    var rule: String?

    @Option(help: "The field holding the cost (default cost; absent means 1).")
    var costField: String?

    @Argument(help: "The trace (JSON Lines). Reads standard input when omitted.")
    var trace: String?

    func validate() throws {
        if maxNewDenials != nil, compare == nil { throw ValidationError("--max-new-denials needs --compare") }
        if let share = maxNewDenials, !(0...1).contains(share) { throw ValidationError("--max-new-denials must be from 0 to 1") }
        if let timeUnit, TraceFormat.TimeUnit(rawValue: timeUnit) == nil { throw ValidationError("--time-unit must be s, ms, us or ns") }
        if rule != nil, ruleField != nil { throw ValidationError("give --rule or --rule-field, not both") }
    }

    var format: TraceFormat {
        var f = TraceFormat.native
        f.accessLog = [timeField, keyField, ruleField, rule, costField, timeUnit].contains { $0 != nil }
        f.timeField = timeField ?? f.timeField
        f.timeUnit = timeUnit.flatMap(TraceFormat.TimeUnit.init(rawValue:)) ?? f.timeUnit
        f.keyField = keyField ?? f.keyField
        f.ruleField = ruleField ?? f.ruleField
        f.costField = costField ?? f.costField
        f.fixedRule = rule
        return f
    }

    func run() throws {
        let rules = try Self.rules(config)
        let input = trace.map { open($0, O_RDONLY | O_CLOEXEC) } ?? STDIN_FILENO
        guard input >= 0 else {
            printError("cannot read \(trace ?? "stdin")")
            throw ExitCode(1)
        }
        defer { if trace != nil { close(input) } }
        if let compare {
            try runComparison(ReplayComparison(before: rules, after: try Self.rules(compare)), input: input)
        } else {
            try runSingle(ReplaySession(rules: rules), input: input)
        }
    }

    private static func rules(_ path: String) throws -> RuleSet {
        do { return try ConfigFile.load(path: path).rules } catch {
            printError("\(path): \(error.description)")
            throw ExitCode(1)
        }
    }

    /// Every non-blank line as an event, or exit 2 naming the line.
    private func events(_ input: Int32, _ output: Output, _ body: (ReplayEvent, Int) throws -> Void) throws -> TraceLine {
        var parser = TraceLine(format: format)
        var lineNumber = 0
        for line in LineReader(input) {
            lineNumber += 1
            if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) { continue }
            do {
                try body(try parser.parse(line), lineNumber)
            } catch let error as ExitCode {
                throw error
            } catch {
                output.flush()
                printError("line \(lineNumber): \(error)")
                throw ExitCode(2)
            }
        }
        output.flush()
        return parser
    }

    private func runSingle(_ session: ReplaySession, input: Int32) throws {
        let output = Output()
        let parser = try events(input, output) { event, line in
            var out = "{\"line\":\(line),\"rule\":\(jsonString(event.rule)),\"key\":\(jsonString(event.key)),"
            switch try session.apply(event) {
            case .decided(let d):
                out += "\"allowed\":\(d.allowed),\"remaining\":\(d.remaining),"
                out += "\"retry_after_ms\":\(Self.ms(d.retryAfter)),\"delay_ms\":\(Self.ms(d.delay))}\n"
            case .refused(let error):
                out += "\"error\":\(jsonString(error.description))}\n"
            }
            output.write(out)
        }
        for s in session.summary() {
            let top = s.topDenied.map { "\($0.key)=\($0.denied)" }.joined(separator: " ")
            var line = "\(s.rule): \(s.requests) requests, \(s.allowed) allowed, \(s.denied) denied"
            if s.shadowDenied > 0 { line += ", \(s.shadowDenied) shadow-denied" }
            if s.refused > 0 { line += ", \(s.refused) refused (see the error lines)" }
            if !top.isEmpty { line += "; top denied: \(top)" }
            printError(line)
        }
        if parser.reordered > 0 { printError("\(parser.reordered) lines were earlier than a previous line; replayed at its time") }
    }

    /// Lines whose verdict changes, then one JSON summary line per rule; the same on stderr for
    /// people; exit 3 past --max-new-denials.
    private func runComparison(_ comparison: ReplayComparison, input: Int32) throws {
        let output = Output()
        _ = try events(input, output) { event, line in
            let (before, after) = try comparison.apply(event, line: line)
            guard before.allowed != after.allowed else { return }
            output.write("{\"line\":\(line),\"rule\":\(jsonString(event.rule)),\"key\":\(jsonString(event.key)),"
                + "\"before\":\(Self.verdict(before)),\"after\":\(Self.verdict(after))}\n")
        }
        for d in comparison.report() {
            let keys = { (top: [(key: String, denied: Int)]) in "[" + top.map { "{\"key\":\(jsonString($0.key)),\"requests\":\($0.denied)}" }.joined(separator: ",") + "]" }
            output.write("{\"rule\":\(jsonString(d.rule)),\"requests\":\(d.requests),\"denied_before\":\(d.deniedBefore),"
                + "\"denied_after\":\(d.deniedAfter),\"newly_denied\":\(d.newlyDenied),\"newly_allowed\":\(d.newlyAllowed),"
                + "\"first_divergence_line\":\(d.firstDivergence.map(String.init) ?? "null"),"
                + "\"newly_denied_keys\":\(keys(d.newlyDeniedKeys)),\"newly_allowed_keys\":\(keys(d.newlyAllowedKeys))}\n")
            var line = "\(d.rule): \(d.requests) requests, denied \(d.deniedBefore) → \(d.deniedAfter)"
            line += ", \(d.newlyDenied) newly denied, \(d.newlyAllowed) newly allowed"
            if let first = d.firstDivergence { line += ", first at line \(first)" }
            if !d.newlyDeniedKeys.isEmpty { line += "; newly denied keys: " + d.newlyDeniedKeys.map { "\($0.key)=\($0.denied)" }.joined(separator: " ") }
            printError(line)
        }
        output.flush()
        let share = comparison.newlyDeniedShare
        if let limit = maxNewDenials, share > limit {
            printError("newly denied: \(Self.percent(share)) of requests, over --max-new-denials \(Self.percent(limit))")
            throw ExitCode(3)
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
    private var pending = ""

    func write(_ text: String) {
        pending += text
        if pending.utf8.count > 1 << 16 { flush() }
    }

    func flush() {
        writeAll(STDOUT_FILENO, pending)
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
