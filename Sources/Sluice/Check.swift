import ArgumentParser
import RateLimitHTTP
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
        do {
            let client = try BlockingHTTPClient(unixSocket: socket)
            let body = "{\"rule\":\(JSONWriter.quoted(rule)),\"key\":\(JSONWriter.quoted(key)),\"cost\":\(cost)}"
            let response = try client.request("POST", "/v1/check", body: body)
            print(response.text)
            switch response.status {
            case 200: return
            case 429: throw ExitCode(1)
            default: throw ExitCode(2)
            }
        } catch let failure as BlockingHTTPClient.Failure {
            printError("sluice check: \(failure.description)")
            throw ExitCode(2)
        }
    }
}
