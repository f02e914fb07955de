/// Block structure: the node after an indicator, a node at content (which may start a mapping
/// or a sequence), block mappings and their keys, block sequences.
extension YAMLComposer {
    /// The node after an indicator (`key:`, `- `, `---`): on the same line, on the lines below
    /// (indented more than `parentIndent`), or empty (null). `compact` allows a mapping or
    /// sequence to start on the indicator's line (`- name: x`).
    mutating func node(
        parentIndent: Int, compact: Bool, indentlessSequence: Bool, emptyMark: YAMLMark, outer: Properties = Properties()
    ) throws(YAMLError) -> YAMLNode {
        scanner.skipBlanks()
        let beforeProperties = scanner
        var properties = outer
        try scanProperties(&properties)
        scanner.skipComment()
        if !scanner.isAtEnd, scanner.peek() != .newline {
            // Content on this line reads its own properties: before a key (`- !t key: v`) they
            // are the key's, and the mapping starts where they do.
            scanner = beforeProperties
            return try contentNode(parentIndent: parentIndent, outer: outer, compact: compact)
        }
        try scanner.skipToContent()
        if !scanner.isAtEnd, !scanner.atDocumentBoundary {
            if scanner.column > parentIndent {
                return try contentNode(parentIndent: parentIndent, outer: properties, compact: true)
            }
            if indentlessSequence, scanner.column == parentIndent, scanner.atSequenceEntry {
                return try blockSequence(indent: parentIndent, properties: properties)
            }
        }
        return try finish(.scalar(YAMLScalar("", mark: properties.mark ?? emptyMark)), properties)
    }

    /// The node that starts here, at content: a block collection, a block scalar, a flow
    /// collection, an alias or a scalar (which may turn out to be a mapping's first key).
    mutating func contentNode(parentIndent: Int, outer: Properties, compact: Bool) throws(YAMLError) -> YAMLNode {
        let indent = scanner.column
        var own = Properties()
        try scanProperties(&own)
        scanner.skipComment()
        if scanner.isAtEnd || scanner.peek() == .newline {
            // Properties alone on their line belong to the node below.
            return try node(parentIndent: parentIndent, compact: compact, indentlessSequence: false,
                            emptyMark: own.mark ?? scanner.mark, outer: try outer.merging(own))
        }
        let start = scanner.mark
        switch scanner.peek() {
        case .asterisk:
            guard outer.isEmpty, own.isEmpty else { throw YAMLError("an alias cannot have an anchor or a tag", at: start) }
            let alias = try alias()
            try rejectKey(after: "an alias")
            try scanner.finishLine(after: "the alias")
            return alias
        case .pipe, .greater:
            let (text, style) = try scanner.scanBlockScalar(parentIndent: parentIndent)
            let properties = try outer.merging(own)
            return try finish(.scalar(YAMLScalar(text, style: style, mark: properties.mark ?? start)), properties)
        case .openBracket, .openBrace:
            let collection = try flowCollection(parentIndent: parentIndent, properties: try outer.merging(own))
            try rejectKey(after: "a flow collection")
            try scanner.finishLine(after: "the flow collection")
            return collection
        case .dash where scanner.atSequenceEntry:
            guard compact else {
                throw YAMLError("a block sequence cannot start on the line of its key; start it on the next line", at: start)
            }
            return try blockSequence(indent: scanner.column, properties: try outer.merging(own))
        default:
            let line = scanner.line
            let scalar = try scalar(own, minIndent: parentIndent + 1, singleLine: false)
            scanner.skipBlanks()
            guard scanner.peek() == .colon, scanner.isBlankOrEnd(1) else {
                try scanner.finishLine(after: "the scalar")
                return try finish(.scalar(scalar), try outer.merging(own))
            }
            guard scanner.line == line else {
                throw YAMLError("a mapping key must fit on one line (is a line indented too far?)", at: scanner.mark)
            }
            guard compact else {
                throw YAMLError("a mapping cannot start on the line of its key ('a: b: c'); start it on the next line", at: scanner.mark)
            }
            let key = try finish(.scalar(scalar), own)
            return try blockMapping(indent: indent, firstKey: key, properties: outer)
        }
    }

    /// A quoted or plain scalar at the scanner, with `properties`' tag and mark.
    private mutating func scalar(_ properties: Properties, minIndent: Int, singleLine: Bool) throws(YAMLError) -> YAMLScalar {
        let start = scanner.mark
        let text: String
        let style: YAMLScalarStyle
        switch scanner.peek() {
        case .singleQuote, .doubleQuote:
            style = scanner.peek() == .singleQuote ? .singleQuoted : .doubleQuoted
            text = try scanner.scanQuoted()
        case .question where scanner.isBlankOrEnd(1):
            throw YAMLError("explicit mapping keys ('? ') are not supported", at: start)
        default:
            guard scanner.canStartPlain(inFlow: false) else {
                let found = scanner.peek().map { "'\(Character(Unicode.Scalar($0)))'" } ?? "the end of the text"
                throw YAMLError("unexpected \(found): expected a value", at: start)
            }
            style = .plain
            text = scanner.scanPlain(inFlow: false, minIndent: minIndent, singleLine: singleLine)
        }
        return YAMLScalar(text, style: style, tag: properties.tag, mark: properties.mark ?? start)
    }

    /// A node that ends its line cannot be a key: collections and aliases as keys are refused.
    private mutating func rejectKey(after what: String) throws(YAMLError) {
        scanner.skipBlanks()
        if scanner.peek() == .colon, scanner.isBlankOrEnd(1) {
            throw YAMLError("\(what) as a mapping key is not supported", at: scanner.mark)
        }
    }

    /// A block mapping whose keys are at column `indent`; the scanner is at the first key's `:`.
    private mutating func blockMapping(indent: Int, firstKey: YAMLNode, properties: Properties) throws(YAMLError) -> YAMLNode {
        let mark = properties.mark ?? firstKey.mark ?? scanner.mark
        try enter(mark)
        defer { leave() }
        var pairs: [YAMLPair] = []
        var keys = Set<String>()
        var key = firstKey
        while true {
            let colon = scanner.mark
            scanner.advance()
            let value = try node(parentIndent: indent, compact: false, indentlessSequence: true, emptyMark: colon)
            try addPair(YAMLPair(key, value), to: &pairs, keys: &keys, context: "while parsing a block mapping", contextMark: mark)
            try scanner.skipToContent()
            guard !scanner.isAtEnd, !scanner.atDocumentBoundary, scanner.column >= indent else { break }
            guard scanner.column == indent else {
                throw YAMLError("this line is indented more than the mapping's keys (column \(indent + 1))", at: scanner.mark,
                                context: "while parsing a block mapping", contextMark: mark)
            }
            key = try blockKey()
        }
        return try finish(.mapping(YAMLMapping(pairs, tag: properties.tag, mark: mark)), properties)
    }

    /// A key after the first of a block mapping, up to its `:`.
    private mutating func blockKey() throws(YAMLError) -> YAMLNode {
        var own = Properties()
        try scanProperties(&own)
        let start = scanner.mark
        let key: YAMLNode
        switch scanner.peek() {
        case .asterisk:
            guard own.isEmpty else { throw YAMLError("an alias cannot have an anchor or a tag", at: start) }
            key = try alias()
            guard key.scalar != nil else { throw YAMLError("a collection as a mapping key is not supported", at: start) }
        case .openBracket, .openBrace:
            throw YAMLError("a flow collection as a mapping key is not supported", at: start)
        case .dash where scanner.atSequenceEntry:
            throw YAMLError("expected a mapping key, found a sequence entry ('- ') at the mapping's indentation", at: start)
        default:
            let line = scanner.line
            key = try finish(.scalar(try scalar(own, minIndent: 0, singleLine: true)), own)
            guard scanner.line == line else { throw YAMLError("a mapping key must fit on one line", at: start) }
        }
        scanner.skipBlanks()
        guard scanner.peek() == .colon, scanner.isBlankOrEnd(1) else {
            throw YAMLError("expected ':' after the mapping key", at: scanner.mark)
        }
        return key
    }

    /// Appends a pair, refusing a key the mapping already has: keys are compared by value, so
    /// `~`, `null` and an empty key are one key.
    mutating func addPair(
        _ pair: YAMLPair, to pairs: inout [YAMLPair], keys: inout Set<String>, context: String, contextMark: YAMLMark
    ) throws(YAMLError) {
        let identity = pair.key.isNull ? "null" : pair.key.resolvedTag + "\u{0}" + (pair.key.string ?? "")
        guard keys.insert(identity).inserted else {
            throw YAMLError("duplicate key \"\(pair.key.string ?? "")\" in a mapping", at: pair.key.mark ?? contextMark,
                            context: context, contextMark: contextMark)
        }
        pairs.append(pair)
    }

    /// A block sequence whose dashes are at column `indent`, at the first dash.
    private mutating func blockSequence(indent: Int, properties: Properties) throws(YAMLError) -> YAMLNode {
        let mark = properties.mark ?? scanner.mark
        try enter(mark)
        defer { leave() }
        var items: [YAMLNode] = []
        while true {
            let dash = scanner.mark
            scanner.advance()
            items.append(try node(parentIndent: indent, compact: true, indentlessSequence: false, emptyMark: dash))
            try scanner.skipToContent()
            guard !scanner.isAtEnd, !scanner.atDocumentBoundary, scanner.column >= indent else { break }
            if scanner.column == indent {
                guard scanner.atSequenceEntry else { break }
                continue
            }
            throw YAMLError("this line is indented more than the sequence's dashes (column \(indent + 1))", at: scanner.mark,
                            context: "while parsing a block sequence", contextMark: mark)
        }
        return try finish(.sequence(YAMLSequence(items, tag: properties.tag, mark: mark)), properties)
    }
}
