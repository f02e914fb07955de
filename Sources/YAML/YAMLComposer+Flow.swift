/// Flow collections: `[a, b]` and `{a: 1, b: 2}`, nested, over several lines, with the
/// single-pair mappings YAML allows in a flow sequence (`[a: 1]`).
extension YAMLComposer {
    /// A flow collection at its `[` or `{`. Its lines after the first must be indented more than
    /// `parentIndent` (the block collection holding it), which is how a missing `]` or `}` is
    /// found at the line where the block structure resumes.
    mutating func flowCollection(parentIndent: Int, properties: Properties) throws(YAMLError) -> YAMLNode {
        let start = scanner.mark
        let isMapping = scanner.peek() == .openBrace
        let flow = Flow(
            parentIndent: parentIndent, close: isMapping ? .closeBrace : .closeBracket,
            context: isMapping ? "while parsing a flow mapping" : "while parsing a flow sequence", start: start)
        try enter(start)
        defer { leave() }
        scanner.advance()
        var items: [YAMLNode] = []
        var pairs: [YAMLPair] = []
        var keys = Set<String>()
        while true {
            try skipSpace(flow)
            if scanner.peek() == flow.close {
                scanner.advance()
                break
            }
            let entry = try flowNode(flow)
            if isMapping { try rejectCollectionKey(entry, flow) }
            try skipSpace(flow)
            let value = try pairValue(after: entry, flow)
            if isMapping {
                try addPair(YAMLPair(entry, value ?? .scalar(YAMLScalar("", mark: scanner.mark))),
                            to: &pairs, keys: &keys, context: flow.context, contextMark: start)
            } else if let value {
                items.append(try finish(.mapping(YAMLMapping([YAMLPair(entry, value)], mark: entry.mark)), Properties()))
            } else {
                items.append(entry)
            }
            try skipSpace(flow)
            if scanner.peek() == .comma {
                scanner.advance()
                continue
            }
            guard scanner.peek() == flow.close else {
                throw YAMLError("expected ',' or '\(Character(Unicode.Scalar(flow.close)))'", at: scanner.mark,
                                context: flow.context, contextMark: start)
            }
        }
        let mark = properties.mark ?? start
        let node: YAMLNode = isMapping
            ? .mapping(YAMLMapping(pairs, tag: properties.tag, mark: mark))
            : .sequence(YAMLSequence(items, tag: properties.tag, mark: mark))
        return try finish(node, properties)
    }

    /// What a flow collection needs to report its errors and check its lines.
    struct Flow {
        let parentIndent: Int
        let close: UInt8
        let context: String
        let start: YAMLMark
    }

    /// The value after `key:` inside a flow collection, or nil when no `:` follows. A `:` right
    /// after a quoted key or a collection needs no space (`{"a":1}`).
    private mutating func pairValue(after key: YAMLNode, _ flow: Flow) throws(YAMLError) -> YAMLNode? {
        let adjacentAllowed = key.scalar.map { $0.style != .plain } ?? true
        guard scanner.peek() == .colon,
              adjacentAllowed || scanner.isBlankOrEnd(1) || scanner.peek(1)?.isFlowIndicator == true
        else { return nil }
        try rejectCollectionKey(key, flow)
        let colon = scanner.mark
        scanner.advance()
        try skipSpace(flow)
        if scanner.peek() == .comma || scanner.peek() == flow.close {
            return .scalar(YAMLScalar("", mark: colon))
        }
        return try flowNode(flow)
    }

    private func rejectCollectionKey(_ key: YAMLNode, _ flow: Flow) throws(YAMLError) {
        guard key.scalar == nil else { return }
        throw YAMLError("a collection as a mapping key is not supported", at: key.mark ?? scanner.mark,
                        context: flow.context, contextMark: flow.start)
    }

    /// One node inside a flow collection.
    private mutating func flowNode(_ flow: Flow) throws(YAMLError) -> YAMLNode {
        var properties = Properties()
        try scanProperties(&properties)
        if !properties.isEmpty { try skipSpace(flow) }
        let start = scanner.mark
        switch scanner.peek() {
        case .asterisk:
            guard properties.isEmpty else { throw YAMLError("an alias cannot have an anchor or a tag", at: start) }
            return try alias()
        case .openBracket, .openBrace:
            return try flowCollection(parentIndent: flow.parentIndent, properties: properties)
        case .singleQuote, .doubleQuote:
            let style: YAMLScalarStyle = scanner.peek() == .singleQuote ? .singleQuoted : .doubleQuoted
            let text = try scanner.scanQuoted()
            return try finish(.scalar(YAMLScalar(text, style: style, tag: properties.tag, mark: properties.mark ?? start)), properties)
        case .colon where !scanner.canStartPlain(inFlow: true):
            return try finish(.scalar(YAMLScalar("", tag: properties.tag, mark: properties.mark ?? start)), properties)
        case .comma, flow.close:
            return try finish(.scalar(YAMLScalar("", tag: properties.tag, mark: properties.mark ?? start)), properties)
        default:
            guard scanner.canStartPlain(inFlow: true) else {
                let found = scanner.peek().map { "'\(Character(Unicode.Scalar($0)))'" } ?? "the end of the text"
                throw YAMLError("unexpected \(found) in a flow collection", at: start, context: flow.context, contextMark: flow.start)
            }
            let text = scanner.scanPlain(inFlow: true, minIndent: flow.parentIndent + 1)
            return try finish(.scalar(YAMLScalar(text, tag: properties.tag, mark: properties.mark ?? start)), properties)
        }
    }

    /// Blanks, comments and line breaks inside a flow collection; a new line must be indented
    /// more than the block collection holding the flow one, and the text must not end.
    private mutating func skipSpace(_ flow: Flow) throws(YAMLError) {
        let line = scanner.line
        try scanner.skipToContent(inFlow: true)
        let closing = "'\(Character(Unicode.Scalar(flow.close)))'"
        if scanner.isAtEnd {
            throw YAMLError("the text ends before the closing \(closing)", at: scanner.mark, context: flow.context, contextMark: flow.start)
        }
        if scanner.line != line, scanner.column <= flow.parentIndent || scanner.atDocumentBoundary {
            throw YAMLError("expected ',' or \(closing) before this less indented line", at: scanner.mark,
                            context: flow.context, contextMark: flow.start)
        }
    }
}
