internal import Yams

/// Small constructors for the nodes `sluice inject` writes, so the sidecar reads like the YAML it
/// becomes.
enum YAML {
    /// A string scalar, double-quoted when plain text would read back as something else
    /// ("true", "1", "0666"): Yams emits the string, not its tag, so the quoting carries the type.
    static func string(_ text: String) -> Node {
        let plain = Node(text)
        guard Resolver.default.resolveTag(of: plain) != .str else { return plain }
        return Node(text, Tag(.str), .doubleQuoted)
    }

    static func int(_ value: Int) -> Node { Node(String(value)) }

    static func bool(_ value: Bool) -> Node { Node(value ? "true" : "false") }

    /// A mapping in the order given.
    static func map(_ pairs: KeyValuePairs<String, Node>) -> Node {
        Node(pairs.map { (Node($0.key), $0.value) })
    }

    static func list(_ items: [Node]) -> Node { Node(items) }

    static func strings(_ items: [String]) -> Node { Node(items.map(string)) }
}

extension Node.Mapping {
    /// This mapping with `key` set to `value`: replaced where it is, else added before the key
    /// `before` (or first, with `first`) so it reads where a person would write it, else at the end.
    func setting(_ key: String, _ value: Node, before: String? = nil, first: Bool = false) -> Node.Mapping {
        var copy = self
        let keys = map { $0.key.string }
        guard copy[key] == nil, let position = first ? 0 : before.flatMap({ keys.firstIndex(of: $0) }) else {
            copy[key] = value
            return copy
        }
        var pairs = map { ($0.key, $0.value) }
        pairs.insert((Node(key), value), at: position)
        return Node.Mapping(pairs, tag, style, mark)
    }

    /// The line of `key` itself (where a person looks for `containers:`), else of the mapping.
    func line(of key: String) -> Int? {
        first { $0.key.string == key }?.key.line ?? mark?.line
    }
}

extension Node {
    /// The `name` (or another key) of a list item, when it is a mapping with a string there.
    func field(_ key: String) -> String? { mapping?[key]?.string }

    /// `null`, `~` or nothing, as in `volumes:` with no items.
    var isNull: Bool { tag == Tag(.null) }

    /// The line of this node in its document (1-based), when it came from the parser.
    var line: Int? { mark?.line }
}

/// Edits of name-keyed lists (containers, volumes, env, volumeMounts) that keep every other item
/// and its order.
enum NamedList {
    /// `items` with the item whose `key` equals that of `item` replaced in place (later duplicates
    /// dropped), or `item` added: at the front with `atStart`, else at the end.
    static func upsert(_ item: Node, in items: [Node], key: String = "name", atStart: Bool = false) -> [Node] {
        let name = item.field(key)
        var result: [Node] = []
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
