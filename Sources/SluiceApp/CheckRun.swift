import RateLimitHTTP

/// `sluice check`: asks a running sidecar once and prints its answer.
public enum CheckRun {
    /// The exit status: 0 allowed, 1 denied, 2 any other answer or no answer (said on stderr).
    public static func run(socket: String, rule: String, key: String, cost: Int64) -> Int32 {
        do {
            let client = try BlockingHTTPClient(unixSocket: socket)
            let body = "{\"rule\":\(JSONWriter.quoted(rule)),\"key\":\(JSONWriter.quoted(key)),\"cost\":\(cost)}"
            let response = try client.request("POST", "/v1/check", body: body)
            print(response.text)
            switch response.status {
            case 200: return 0
            case 429: return 1
            default: return 2
            }
        } catch {
            printError("sluice check: \(error.description)")
            return 2
        }
    }
}
