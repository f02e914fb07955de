import Yams

/// A YAML mapping being read field by field; remembers where each field is, so every error
/// names its field and line, and rejects fields nobody asked for.
struct MappingReader {
    let path: String
    let node: Node
    private var pairs: [(key: String, keyNode: Node, value: Node)] = []

    init(_ node: Node, path: String) throws(ConfigError) {
        self.path = path
        self.node = node
        guard case .mapping(let mapping) = node else {
            throw ConfigError.at(node, path, "must be a mapping (key: value)")
        }
        for (key, value) in mapping {
            guard case .scalar(let scalar) = key else { throw ConfigError.at(key, path, "keys must be plain strings") }
            pairs.append((scalar.string, key, value))
        }
    }

    func child(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func value(_ name: String) -> Node? { pairs.first { $0.key == name }?.value }

    /// Rejects any field not in `known` (a typo must not pass silently).
    func rejectUnknown(_ known: Set<String>) throws(ConfigError) {
        for pair in pairs where !known.contains(pair.key) {
            let expected = known.sorted().joined(separator: ", ")
            throw ConfigError.at(pair.keyNode, child(pair.key), "unknown field (expected one of: \(expected))")
        }
    }

    func string(_ name: String) throws(ConfigError) -> String? {
        guard let node = value(name) else { return nil }
        guard case .scalar(let scalar) = node, scalar.tag.description != Tag.Name.null.rawValue || scalar.style != .plain
        else { throw ConfigError.at(node, child(name), "must be a string") }
        if scalar.style == .plain, ["~", "null", ""].contains(scalar.string) {
            throw ConfigError.at(node, child(name), "must be a string")
        }
        return scalar.string
    }

    func requiredString(_ name: String) throws(ConfigError) -> String {
        guard let s = try string(name) else { throw ConfigError.at(node, child(name), "is required") }
        return s
    }

    func integer(_ name: String) throws(ConfigError) -> Int64? {
        guard let node = value(name) else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain,
              let n = Int64(scalar.string.replacingUnderscores())
        else { throw ConfigError.at(node, child(name), "must be an integer") }
        return n
    }

    func bool(_ name: String) throws(ConfigError) -> Bool? {
        guard let node = value(name) else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain else {
            throw ConfigError.at(node, child(name), "must be true or false")
        }
        switch scalar.string {
        case "true": return true
        case "false": return false
        default: throw ConfigError.at(node, child(name), "must be true or false")
        }
    }

    func sequence(_ name: String) throws(ConfigError) -> [Node]? {
        guard let node = value(name) else { return nil }
        guard case .sequence(let seq) = node else { throw ConfigError.at(node, child(name), "must be a list") }
        return Array(seq)
    }

    /// Where field `name` is, or where this mapping is when it is absent.
    func node(for name: String) -> Node { value(name) ?? node }
}

extension String {
    fileprivate func replacingUnderscores() -> String { filter { $0 != "_" } }
}

extension ConfigError {
    static func at(_ node: Node, _ field: String, _ message: String) -> ConfigError {
        // Yams marks are 1-based lines and 1-based columns.
        ConfigError(field: field, line: node.mark?.line, column: node.mark?.column, message: message)
    }
}
