/// What `sluice inject` adds; the defaults match `k8s/base/deployment.yaml`.
public struct InjectOptions: Equatable, Sendable {
    /// The sidecar's image.
    public var image: String
    /// The ConfigMap holding `rules.yaml`, mounted at /etc/sluice.
    public var configMap: String
    /// The app containers that get the socket mount and `SLUICE_SOCKET`; empty means all of them.
    public var containers: [String]
    public var cpuRequest: String
    public var memoryRequest: String
    public var cpuLimit: String
    public var memoryLimit: String

    public init(
        image: String = "ghcr.io/sluice-rl/sluice:0.1.0",
        configMap: String = "sluice-rules",
        containers: [String] = [],
        cpuRequest: String = "50m",
        memoryRequest: String = "32Mi",
        cpuLimit: String = "1",
        memoryLimit: String = "128Mi"
    ) {
        self.image = image
        self.configMap = configMap
        self.containers = containers
        self.cpuRequest = cpuRequest
        self.memoryRequest = memoryRequest
        self.cpuLimit = cpuLimit
        self.memoryLimit = memoryLimit
    }

    /// Rejects values Kubernetes would refuse, so a bad flag fails here rather than at `kubectl apply`.
    public func validate() throws(InjectError) {
        func fail(_ message: String) -> InjectError { InjectError(document: nil, line: nil, message: message) }
        if image.isEmpty || image.contains(where: \.isWhitespace) {
            throw fail("image must be a non-empty image reference without spaces, got \"\(image)\"")
        }
        if !Self.isDNSSubdomain(configMap) {
            throw fail("config map name must be a DNS subdomain (lower-case letters, digits, '-', '.'), got \"\(configMap)\"")
        }
        for (flag, value) in [("cpu request", cpuRequest), ("memory request", memoryRequest),
                              ("cpu limit", cpuLimit), ("memory limit", memoryLimit)]
        where !Self.isQuantity(value) {
            throw fail("\(flag) must be a Kubernetes quantity such as 50m, 1 or 128Mi, got \"\(value)\"")
        }
    }

    /// `[0-9]+(\.[0-9]+)?` followed by an optional suffix (m, k, M, G, …, Ki, Mi, Gi, …); the
    /// common subset of the quantity grammar (no signs or exponents).
    static func isQuantity(_ text: String) -> Bool {
        let suffixes: Set<Substring> = ["", "m", "k", "M", "G", "T", "P", "E", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"]
        let number = text.prefix { $0.isASCII && ($0.isNumber || $0 == ".") }
        let parts = number.split(separator: ".", omittingEmptySubsequences: false)
        guard !number.isEmpty, parts.count <= 2, parts.allSatisfy({ !$0.isEmpty }) else { return false }
        return suffixes.contains(text.dropFirst(number.count))
    }

    static func isDNSSubdomain(_ name: String) -> Bool {
        let allowed = name.utf8.allSatisfy { ($0 >= 0x61 && $0 <= 0x7A) || ($0 >= 0x30 && $0 <= 0x39) || $0 == 0x2D || $0 == 0x2E }
        let ends = name.first.map { $0.isLetter || $0.isNumber } == true && name.last.map { $0.isLetter || $0.isNumber } == true
        return allowed && ends && name.utf8.count <= 253
    }
}
