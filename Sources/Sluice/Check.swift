import ArgumentParser
import RateLimitHTTP

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
            let body = "{\"rule\":\(jsonString(rule)),\"key\":\(jsonString(key)),\"cost\":\(cost)}"
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

func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
        switch scalar {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        case _ where scalar.value < 0x20:
            let hex = String(scalar.value, radix: 16)
            out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        default: out.unicodeScalars.append(scalar)
        }
    }
    return out + "\""
}
