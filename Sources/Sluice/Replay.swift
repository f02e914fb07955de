import ArgumentParser
import SluiceApp

struct Replay: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Replay a JSON Lines trace against a configuration on a virtual clock.",
        discussion: """
            Each input line: {"t_ms": 50, "rule": "api", "key": "user-42", "cost": 1} (t_ms non-decreasing, cost \
            defaults to 1). On a concurrency rule a line acquires a lease; "hold_ms": N releases it N ms later, \
            and without it the lease expires at its lease_ttl. One JSON line out per input line; a check the rules refuse (an impossible cost, an \
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

    func run() throws {
        let format = TraceFormat(
            timeField: timeField, timeUnit: timeUnit.flatMap(TraceFormat.TimeUnit.init(rawValue:)), keyField: keyField,
            ruleField: ruleField, costField: costField, fixedRule: rule)
        let status = ReplayRun(format: format, maxNewDenials: maxNewDenials).run(config: config, compare: compare, trace: trace)
        if status != 0 { throw ExitCode(status) }
    }
}
