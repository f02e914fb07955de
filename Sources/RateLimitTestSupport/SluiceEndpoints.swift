public import SluiceApp

/// A running sidecar's two listeners as a test reaches them, whether it runs in this process
/// (`TestApp`) or in its own (`SluiceProcess`).
public protocol SluiceEndpoints {
    var socketPath: String { get }
    var metricsPort: Int { get }
}

extension SluiceEndpoints {
    /// A new API connection.
    public func client() throws -> BlockingHTTPClient {
        try BlockingHTTPClient(unixSocket: socketPath)
    }

    /// One request on a fresh connection to the TCP (ops) listener.
    public func ops(_ method: String, _ path: String) throws -> BlockingHTTPClient.Response {
        try BlockingHTTPClient(loopbackPort: metricsPort).request(method, path)
    }

    /// One request on a fresh API connection.
    @discardableResult
    public func api(_ method: String, _ path: String, body: String? = nil) throws -> BlockingHTTPClient.Response {
        try client().request(method, path, body: body)
    }

    /// The value of one metric series in the current exposition (nil when absent).
    public func metric(_ series: String) throws -> Double? {
        let text = try ops("GET", "/metrics").text
        for line in text.split(separator: "\n") where line.hasPrefix(series + " ") {
            return Double(line.dropFirst(series.count + 1))
        }
        return nil
    }
}
