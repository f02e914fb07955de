/// Which Cluster node serves each of the 16384 slots (the masters only: writes never go to a
/// replica), parsed from `CLUSTER SLOTS`. A value type, tested without a cluster.
struct ClusterSlotMap: Sendable, Equatable {
    /// The masters, in the order first seen.
    private(set) var nodes: [RedisEndpoint.Address] = []
    /// Per slot, an index into `nodes`, or -1 while no node serves it.
    private var owner = [Int16](repeating: -1, count: HashSlot.count)

    /// The master of `slot`, or nil when no node claims it (the cluster is resharding or down).
    func node(for slot: Int) -> RedisEndpoint.Address? {
        guard (0..<HashSlot.count).contains(slot) else { return nil }
        let index = Int(owner[slot])
        return index >= 0 ? nodes[index] : nil
    }

    /// Slots without a master.
    var uncovered: Int { owner.lazy.filter { $0 < 0 }.count }

    /// Parses a `CLUSTER SLOTS` reply: `[[start, end, [host, port, id, …], replica…], …]`.
    /// `askedHost` stands in for a master that reports no host (`""` or `"?"`: "the address you
    /// reached me on").
    init(slots reply: RESPValue, askedHost: String) throws(RedisConnectionError) {
        guard case .array(let ranges?) = reply else { throw .protocolError("CLUSTER SLOTS returned \(reply)") }
        for range in ranges {
            guard case .array(let parts?) = range, parts.count >= 3,
                  case .integer(let start) = parts[0], case .integer(let end) = parts[1],
                  0 <= start, start <= end, end < HashSlot.count,
                  case .array(let master?) = parts[2], master.count >= 2,
                  case .integer(let port) = master[1], (1...65535).contains(port)
            else { throw .protocolError("CLUSTER SLOTS has a malformed range") }
            var host = askedHost
            if case .bulkString(let bytes?) = master[0] {
                let text = String(buffer: bytes)
                if !text.isEmpty, text != "?" { host = text }
            }
            let address = RedisEndpoint.Address.tcp(host: host, port: Int(port))
            let index: Int
            if let known = nodes.firstIndex(of: address) {
                index = known
            } else {
                guard nodes.count < Int(Int16.max) else { throw .protocolError("CLUSTER SLOTS names too many nodes") }
                index = nodes.count
                nodes.append(address)
            }
            for slot in Int(start)...Int(end) { owner[slot] = Int16(index) }
        }
    }

    init() {}

    /// The map after a `MOVED`: `slot` now lives on `address` (the full map is refreshed too).
    mutating func move(_ slot: Int, to address: RedisEndpoint.Address) {
        guard (0..<HashSlot.count).contains(slot) else { return }
        if let known = nodes.firstIndex(of: address) {
            owner[slot] = Int16(known)
        } else if nodes.count < Int(Int16.max) {
            owner[slot] = Int16(nodes.count)
            nodes.append(address)
        }
    }
}

/// A Cluster redirection in an error reply: `MOVED slot host:port` (the slot has moved for
/// good) or `ASK slot host:port` (this one command goes there, after `ASKING`).
enum ClusterRedirect: Sendable, Equatable {
    case moved(slot: Int, to: RedisEndpoint.Address)
    case ask(slot: Int, to: RedisEndpoint.Address)

    /// nil for any other error reply. The host may be empty (Redis 7: "the one you asked").
    init?(_ message: String, askedHost: String) {
        let words = message.split(separator: " ")
        guard words.count == 3, words[0] == "MOVED" || words[0] == "ASK",
              let slot = Int(words[1]), (0..<HashSlot.count).contains(slot),
              let colon = words[2].lastIndex(of: ":"), let port = Int(words[2][words[2].index(after: colon)...]),
              (1...65535).contains(port)
        else { return nil }
        var host = String(words[2][..<colon])
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let address = RedisEndpoint.Address.tcp(host: host.isEmpty ? askedHost : host, port: port)
        self = words[0] == "MOVED" ? .moved(slot: slot, to: address) : .ask(slot: slot, to: address)
    }
}
