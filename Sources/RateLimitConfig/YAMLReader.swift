import YAML

/// A YAML mapping being read field by field; remembers where each field is, so every error
/// names its field and line, and rejects fields nobody asked for.
struct MappingReader {
    let path: String
    let node: YAMLNode
    private var pairs: [(key: String, keyNode: YAMLNode, value: YAMLNode)] = []

    init(_ node: YAMLNode, path: String) throws(ConfigError) {
        self.path = path
        self.node = node
        guard case .mapping(let mapping) = node else {
            throw ConfigError.at(node, path, "must be a mapping (key: value)")
        }
        for pair in mapping.pairs {
            guard case .scalar(let scalar) = pair.key else { throw ConfigError.at(pair.key, path, "keys must be plain strings") }
            pairs.append((scalar.text, pair.key, pair.value))
        }
    }

    func child(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }

    func value(_ name: String) -> YAMLNode? { pairs.first { $0.key == name }?.value }

    /// Rejects any field not in `known` (a typo must not pass silently).
    func rejectUnknown(_ known: Set<String>) throws(ConfigError) {
        for pair in pairs where !known.contains(pair.key) {
            let expected = known.sorted().joined(separator: ", ")
            throw ConfigError.at(pair.keyNode, child(pair.key), "unknown field (expected one of: \(expected))")
        }
    }

    func string(_ name: String) throws(ConfigError) -> String? {
        guard let node = value(name) else { return nil }
        guard case .scalar(let scalar) = node, scalar.resolvedTag != YAMLTag.null || scalar.style != .plain
        else { throw ConfigError.at(node, child(name), "must be a string") }
        if scalar.style == .plain, ["~", "null", ""].contains(scalar.text) {
            throw ConfigError.at(node, child(name), "must be a string")
        }
        return scalar.text
    }

    func requiredString(_ name: String) throws(ConfigError) -> String {
        guard let s = try string(name) else { throw ConfigError.at(node, child(name), "is required") }
        return s
    }

    func integer(_ name: String) throws(ConfigError) -> Int64? {
        guard let node = value(name) else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain,
              let n = Int64(scalar.text.replacingUnderscores())
        else { throw ConfigError.at(node, child(name), "must be an integer") }
        return n
    }

    func bool(_ name: String) throws(ConfigError) -> Bool? {
        guard let node = value(name) else { return nil }
        guard case .scalar(let scalar) = node, scalar.style == .plain else {
            throw ConfigError.at(node, child(name), "must be true or false")
        }
        switch scalar.text {
        case "true": return true
        case "false": return false
        default: throw ConfigError.at(node, child(name), "must be true or false")
        }
    }

    func sequence(_ name: String) throws(ConfigError) -> [YAMLNode]? {
        guard let node = value(name) else { return nil }
        guard case .sequence(let seq) = node else { throw ConfigError.at(node, child(name), "must be a list") }
        return seq.items
    }

    /// Where field `name` is, or where this mapping is when it is absent.
    func node(for name: String) -> YAMLNode { value(name) ?? node }
}

extension String {
    fileprivate func replacingUnderscores() -> String { filter { $0 != "_" } }
}

extension ConfigError {
    static func at(_ node: YAMLNode, _ field: String, _ message: String) -> ConfigError {
        ConfigError(field: field, line: node.mark?.line, column: node.mark?.column, message: message)
    }

    /// Text the YAML parser refused, with its line and column.
    static func yaml(_ error: YAMLError, _ what: String = "YAML") -> ConfigError {
        let during = error.context.map { " (\($0)\(error.contextMark.map { " at \($0)" } ?? ""))" } ?? ""
        return ConfigError(field: "", line: error.mark.line, column: error.mark.column, message: "not valid \(what): \(error.message)\(during)")
    }
}
