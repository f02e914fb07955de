/// A place in YAML text: 1-based line and 1-based column (counted in Unicode scalars).
public struct YAMLMark: Sendable, Hashable, CustomStringConvertible {
    public var line: Int
    public var column: Int

    public init(line: Int, column: Int) {
        self.line = line
        self.column = column
    }

    public var description: String { "line \(line), column \(column)" }
}

/// How a scalar was written. The emitter keeps it where the text allows.
public enum YAMLScalarStyle: Sendable, Hashable {
    case plain, singleQuoted, doubleQuoted, literal, folded
}

/// A scalar: its text (escapes and folding already applied), style, explicit tag and place.
public struct YAMLScalar: Sendable {
    public var text: String
    public var style: YAMLScalarStyle
    /// The tag as written (`!!str`, `!custom`, `!<tag:…>`); nil when none was written.
    public var tag: String?
    /// Where the node starts (its anchor or tag when it has one); nil for nodes built in code.
    public var mark: YAMLMark?

    public init(_ text: String, style: YAMLScalarStyle = .plain, tag: String? = nil, mark: YAMLMark? = nil) {
        self.text = text
        self.style = style
        self.tag = tag
        self.mark = mark
    }

    /// The tag the scalar stands for: the explicit one, `str` for any quoted or block scalar, else
    /// what its plain text reads as (null, bool, int, float, timestamp, or str).
    public var resolvedTag: String {
        if let tag { return YAMLTag.expand(tag, nonSpecific: YAMLTag.str) }
        return style == .plain ? ScalarResolver.tag(ofPlain: text) : YAMLTag.str
    }
}

/// A key and its value, in document order.
public struct YAMLPair: Sendable {
    public var key: YAMLNode
    public var value: YAMLNode

    public init(_ key: YAMLNode, _ value: YAMLNode) {
        self.key = key
        self.value = value
    }
}

/// A mapping: its pairs in document order (keys are unique), tag and place.
public struct YAMLMapping: Sendable {
    public var pairs: [YAMLPair]
    public var tag: String?
    public var mark: YAMLMark?

    public init(_ pairs: [YAMLPair] = [], tag: String? = nil, mark: YAMLMark? = nil) {
        self.pairs = pairs
        self.tag = tag
        self.mark = mark
    }

    /// The value of the first key whose text is `key`.
    public subscript(key: String) -> YAMLNode? {
        pairs.first { $0.key.scalar?.text == key }?.value
    }

    /// The pair whose key's text is `key`.
    public func pair(_ key: String) -> YAMLPair? { pairs.first { $0.key.scalar?.text == key } }
}

/// A sequence: its items, tag and place.
public struct YAMLSequence: Sendable {
    public var items: [YAMLNode]
    public var tag: String?
    public var mark: YAMLMark?

    public init(_ items: [YAMLNode] = [], tag: String? = nil, mark: YAMLMark? = nil) {
        self.items = items
        self.tag = tag
        self.mark = mark
    }
}

/// A composed YAML node. Aliases are already replaced by the node their anchor names.
///
/// Equality compares values as YAML does: text and resolved tag for scalars (every null equals
/// every other), pairs or items in order and resolved tag for collections; never style or place
/// (`"1"` equals `'1'`, not `1`; `~` equals `null`).
public indirect enum YAMLNode: Sendable, Equatable {
    case scalar(YAMLScalar)
    case mapping(YAMLMapping)
    case sequence(YAMLSequence)

    public var scalar: YAMLScalar? {
        if case .scalar(let scalar) = self { scalar } else { nil }
    }

    public var mapping: YAMLMapping? {
        if case .mapping(let mapping) = self { mapping } else { nil }
    }

    public var sequence: YAMLSequence? {
        if case .sequence(let sequence) = self { sequence } else { nil }
    }

    /// A scalar's text; nil for collections.
    public var string: String? { scalar?.text }

    /// Where the node starts in its text; nil for nodes built in code.
    public var mark: YAMLMark? {
        switch self {
        case .scalar(let scalar): scalar.mark
        case .mapping(let mapping): mapping.mark
        case .sequence(let sequence): sequence.mark
        }
    }

    /// The tag the node stands for (see `YAMLScalar.resolvedTag`; `map` and `seq` for collections).
    public var resolvedTag: String {
        switch self {
        case .scalar(let scalar): scalar.resolvedTag
        case .mapping(let mapping): mapping.tag.map { YAMLTag.expand($0, nonSpecific: YAMLTag.map) } ?? YAMLTag.map
        case .sequence(let sequence): sequence.tag.map { YAMLTag.expand($0, nonSpecific: YAMLTag.seq) } ?? YAMLTag.seq
        }
    }

    /// A plain `null`, `~` or empty scalar (or one tagged `!!null`).
    public var isNull: Bool { resolvedTag == YAMLTag.null }

    public static func == (a: YAMLNode, b: YAMLNode) -> Bool {
        guard a.resolvedTag == b.resolvedTag else { return false }
        switch (a, b) {
        case (.scalar(let x), .scalar(let y)):
            return x.text == y.text || a.resolvedTag == YAMLTag.null
        case (.mapping(let x), .mapping(let y)):
            return x.pairs.count == y.pairs.count && zip(x.pairs, y.pairs).allSatisfy { $0.key == $1.key && $0.value == $1.value }
        case (.sequence(let x), .sequence(let y)):
            return x.items == y.items
        default:
            return false
        }
    }
}

/// The tags of the YAML core types, and the expansion of shorthand tags.
public enum YAMLTag {
    public static let str = "tag:yaml.org,2002:str"
    public static let int = "tag:yaml.org,2002:int"
    public static let float = "tag:yaml.org,2002:float"
    public static let bool = "tag:yaml.org,2002:bool"
    public static let null = "tag:yaml.org,2002:null"
    public static let timestamp = "tag:yaml.org,2002:timestamp"
    public static let merge = "tag:yaml.org,2002:merge"
    public static let value = "tag:yaml.org,2002:value"
    public static let map = "tag:yaml.org,2002:map"
    public static let seq = "tag:yaml.org,2002:seq"

    /// `!!x` → `tag:yaml.org,2002:x`, `!<uri>` → `uri`, `!` → `nonSpecific`; local tags as written.
    static func expand(_ tag: String, nonSpecific: String) -> String {
        if tag == "!" { return nonSpecific }
        if tag.hasPrefix("!!") { return "tag:yaml.org,2002:" + tag.dropFirst(2) }
        if tag.hasPrefix("!<"), tag.hasSuffix(">") { return String(tag.dropFirst(2).dropLast()) }
        return tag
    }
}
