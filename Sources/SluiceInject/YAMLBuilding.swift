internal import YAML

/// Small constructors for the nodes `sluice inject` writes, so the sidecar reads like the YAML it
/// becomes.
enum YAML {
    /// A string scalar, double-quoted when plain text would read back as something else
    /// ("true", "1", "0666"): the emitter writes the text, not its tag, so the quoting carries the type.
    static func string(_ text: String) -> YAMLNode {
        let plain = YAMLScalar(text)
        return .scalar(plain.resolvedTag == YAMLTag.str ? plain : YAMLScalar(text, style: .doubleQuoted))
    }

    static func int(_ value: Int) -> YAMLNode { .scalar(YAMLScalar(String(value))) }

    static func bool(_ value: Bool) -> YAMLNode { .scalar(YAMLScalar(value ? "true" : "false")) }

    /// A mapping in the order given.
    static func map(_ pairs: KeyValuePairs<String, YAMLNode>) -> YAMLNode {
        .mapping(YAMLMapping(pairs.map { YAMLPair(.scalar(YAMLScalar($0.key)), $0.value) }))
    }

    static func list(_ items: [YAMLNode]) -> YAMLNode { .sequence(YAMLSequence(items)) }

    static func strings(_ items: [String]) -> YAMLNode { list(items.map(string)) }
}

extension YAMLMapping {
    /// This mapping with `key` set to `value`: replaced where it is, else added before the key
    /// `before` (or first, with `first`) so it reads where a person would write it, else at the end.
    func setting(_ key: String, _ value: YAMLNode, before: String? = nil, first: Bool = false) -> YAMLMapping {
        var copy = self
        if let index = pairs.firstIndex(where: { $0.key.string == key }) {
            copy.pairs[index].value = value
            return copy
        }
        let keys = pairs.map(\.key.string)
        let position = first ? 0 : before.flatMap { keys.firstIndex(of: $0) } ?? pairs.count
        copy.pairs.insert(YAMLPair(.scalar(YAMLScalar(key)), value), at: position)
        return copy
    }

    /// The line of `key` itself (where a person looks for `containers:`), else of the mapping.
    func line(of key: String) -> Int? {
        pair(key)?.key.mark?.line ?? mark?.line
    }
}

extension YAMLNode {
    /// The `name` (or another key) of a list item, when it is a mapping with a string there.
    func field(_ key: String) -> String? { mapping?[key]?.string }

    /// The line of this node in its document (1-based), when it came from the parser.
    var line: Int? { mark?.line }
}

/// Edits of name-keyed lists (containers, volumes, env, volumeMounts) that keep every other item
/// and its order.
enum NamedList {
    /// `items` with the item whose `key` equals that of `item` replaced in place (later duplicates
    /// dropped), or `item` added: at the front with `atStart`, else at the end.
    static func upsert(_ item: YAMLNode, in items: [YAMLNode], key: String = "name", atStart: Bool = false) -> [YAMLNode] {
        let name = item.field(key)
        var result: [YAMLNode] = []
        var placed = false
        for existing in items {
            guard existing.field(key) == name else {
                result.append(existing)
                continue
            }
            if !placed { result.append(item) }
            placed = true
        }
        if !placed {
            if atStart { result.insert(item, at: 0) } else { result.append(item) }
        }
        return result
    }
}
