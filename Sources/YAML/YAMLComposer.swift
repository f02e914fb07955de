/// Builds nodes from the scanner's text: documents, directives, properties (anchors and tags),
/// aliases, and the bookkeeping every node goes through (`finish`: counted, anchored; `enter`:
/// bounded depth). Block structure is in `YAMLComposer+Block.swift`, flow collections in
/// `YAMLComposer+Flow.swift`.
///
/// Indentation: every block collection knows its own indent (the column of its keys or dashes);
/// a node below an indicator (`key:`, `- `) must be indented more than the collection holding
/// that indicator, except a sequence under a key, which may sit at the key's column.
struct YAMLComposer {
    var scanner: YAMLScanner
    private var anchors: [String: (node: YAMLNode, size: Int)] = [:]
    private var depth = 0
    private var nodeCount = 0

    init(scanner: YAMLScanner) {
        self.scanner = scanner
    }

    /// A node's anchor and tag, and where the first of them starts.
    struct Properties {
        var anchor: String?
        var tag: String?
        var mark: YAMLMark?
        /// The document's node count when the anchor was read: the anchored node's size is the
        /// count's growth until the node is finished.
        var countAtAnchor = 0

        var isEmpty: Bool { anchor == nil && tag == nil }

        func merging(_ other: Properties) throws(YAMLError) -> Properties {
            guard anchor == nil || other.anchor == nil, tag == nil || other.tag == nil else {
                throw YAMLError("a node can have only one anchor and one tag", at: other.mark ?? YAMLMark(line: 1, column: 1))
            }
            var merged = self
            merged.anchor = anchor ?? other.anchor
            merged.tag = tag ?? other.tag
            merged.mark = mark ?? other.mark
            merged.countAtAnchor = anchor == nil ? other.countAtAnchor : countAtAnchor
            return merged
        }
    }

    mutating func documents() throws(YAMLError) -> [YAMLNode] {
        var documents: [YAMLNode] = []
        while true {
            try scanner.skipToContent()
            if scanner.isAtEnd { return documents }
            if scanner.atDocumentMarker(.dot) {
                scanner.advance(3)
                try scanner.finishLine(after: "'...'")
                continue
            }
            var directives = false
            while scanner.column == 0, scanner.peek() == .percent {
                try directive()
                directives = true
                try scanner.skipToContent()
            }
            anchors = [:]
            nodeCount = 0
            if scanner.atDocumentMarker(.dash) {
                let marker = scanner.mark
                scanner.advance(3)
                documents.append(try node(parentIndent: -1, compact: true, indentlessSequence: false, emptyMark: marker))
            } else if directives {
                throw YAMLError("expected '---' after the directives", at: scanner.mark)
            } else {
                documents.append(try contentNode(parentIndent: -1, outer: Properties(), compact: true))
            }
            try scanner.skipToContent()
            if !scanner.isAtEnd, !scanner.atDocumentBoundary {
                throw YAMLError("unexpected content after the document's top-level node (is it indented too little?)", at: scanner.mark)
            }
        }
    }

    /// `%YAML 1.x` is checked; `%TAG` is refused; other directives are ignored, as YAML allows.
    private mutating func directive() throws(YAMLError) {
        let start = scanner.mark
        scanner.advance()
        let name = word()
        if name == "TAG" { throw YAMLError("the %TAG directive is not supported", at: start) }
        if name == "YAML" {
            scanner.skipBlanks()
            let version = word()
            guard version.hasPrefix("1."), version.count > 2, version.dropFirst(2).allSatisfy(\.isNumber) else {
                throw YAMLError("unsupported YAML version \"\(version)\" (expected 1.x)", at: start)
            }
            try scanner.finishLine(after: "the %YAML directive")
        }
        while let byte = scanner.peek(), byte != .newline { scanner.advance() }
    }

    private mutating func word() -> String {
        var bytes: [UInt8] = []
        while !scanner.isBlankOrEnd(), let byte = scanner.peek() {
            bytes.append(byte)
            scanner.advance()
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    /// Anchors (`&name`) and tags (`!tag`) before a node, each followed by blanks.
    mutating func scanProperties(_ properties: inout Properties) throws(YAMLError) {
        while let byte = scanner.peek(), byte == .ampersand || byte == .exclamation {
            let mark = scanner.mark
            if properties.mark == nil { properties.mark = mark }
            if byte == .ampersand {
                guard properties.anchor == nil else { throw YAMLError("a node can have only one anchor", at: mark) }
                scanner.advance()
                properties.anchor = try scanner.scanName("an anchor")
                properties.countAtAnchor = nodeCount
            } else {
                guard properties.tag == nil else { throw YAMLError("a node can have only one tag", at: mark) }
                properties.tag = try scanner.scanTag()
            }
            scanner.skipBlanks()
        }
    }

    /// `*name`: a copy of the node its anchor named, placed where the alias is (so errors about
    /// it point at the alias, not at the anchor).
    mutating func alias() throws(YAMLError) -> YAMLNode {
        let mark = scanner.mark
        scanner.advance()
        let name = try scanner.scanName("an alias")
        guard let anchored = anchors[name] else {
            throw YAMLError("unknown anchor \"\(name)\" (an alias must come after its anchor)", at: mark)
        }
        try count(anchored.size, at: mark)
        return anchored.node.placed(at: mark)
    }

    /// Counts `nodes` new nodes, refusing documents past `maxNodes` (aliases of aliases).
    private mutating func count(_ nodes: Int, at mark: YAMLMark) throws(YAMLError) {
        nodeCount += nodes
        guard nodeCount <= YAMLParser.maxNodes else {
            throw YAMLError("the document expands to more than \(YAMLParser.maxNodes) nodes (through its aliases)", at: mark)
        }
    }

    /// Every node ends here: its tag set, counted, and registered under its anchor.
    mutating func finish(_ node: YAMLNode, _ properties: Properties) throws(YAMLError) -> YAMLNode {
        var node = node
        if let tag = properties.tag {
            switch node {
            case .scalar(var scalar): scalar.tag = tag; node = .scalar(scalar)
            case .mapping(var mapping): mapping.tag = tag; node = .mapping(mapping)
            case .sequence(var sequence): sequence.tag = tag; node = .sequence(sequence)
            }
        }
        try count(1, at: node.mark ?? scanner.mark)
        if let anchor = properties.anchor {
            anchors[anchor] = (node, nodeCount - properties.countAtAnchor)
        }
        return node
    }

    /// One level deeper, refused past `maxDepth`.
    mutating func enter(_ mark: YAMLMark) throws(YAMLError) {
        depth += 1
        guard depth <= YAMLParser.maxDepth else {
            throw YAMLError("collections nested deeper than \(YAMLParser.maxDepth) levels", at: mark)
        }
    }

    mutating func leave() { depth -= 1 }
}

extension YAMLNode {
    /// This node with its own place changed (its children keep theirs).
    func placed(at mark: YAMLMark) -> YAMLNode {
        switch self {
        case .scalar(var scalar): scalar.mark = mark; return .scalar(scalar)
        case .mapping(var mapping): mapping.mark = mark; return .mapping(mapping)
        case .sequence(var sequence): sequence.mark = mark; return .sequence(sequence)
        }
    }
}
