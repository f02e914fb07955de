import ArgumentParser
import SluiceApp

struct Check: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Ask a running sidecar once. Exit 0 allowed, 1 denied, 2 error.")
    @Option(help: "Path of the sidecar's Unix socket.")
    var socket = "/tmp/sluice.sock"
    @Option(help: "Rule name.")
    var rule: String
    @Option(help: "Key (user, client, IP, …).")
    var key: String
    @Option(help: "Cost of the request (0 = peek).")
    var cost: Int64 = 1

    func run() throws {
        let status = CheckRun.run(socket: socket, rule: rule, key: key, cost: cost)
        if status != 0 { throw ExitCode(status) }
    }
}
