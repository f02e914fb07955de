/// Reading scalars: plain, quoted (with escapes) and block (`|`, `>`), each folded as YAML says.
extension YAMLScanner {
    /// Whether a plain scalar can start here: not at an indicator, except `-`, `?` and `:` when
    /// a character that is not blank (nor, in flow, a flow indicator) follows.
    func canStartPlain(inFlow: Bool) -> Bool {
        guard let byte = peek() else { return false }
        if byte == .dash || byte == .question || byte == .colon {
            guard let next = peek(1) else { return false }
            return !isBlankOrEnd(1) && !(inFlow && next.isFlowIndicator)
        }
        return !Self.notPlainFirst.contains(byte)
    }

    /// Bytes that cannot start a plain scalar: blanks, breaks and YAML's indicators.
    private static let notPlainFirst = Set("\t\n ,[]{}#&*!|>'\"%@`".utf8)

    /// A plain scalar. Continuation lines must be indented at least `minIndent`; line breaks fold
    /// into a space (or one `\n` per empty line). Stops before `: `, ` #`, and in flow before
    /// `,[]{}`; with `singleLine`, at the end of the line.
    mutating func scanPlain(inFlow: Bool, minIndent: Int, singleLine: Bool = false) -> String {
        var text: [UInt8] = []
        var pending: [UInt8] = []
        var end = self
        while let byte = peek() {
            if byte == .colon, isBlankOrEnd(1) || (inFlow && peek(1)?.isFlowIndicator == true) { break }
            if inFlow, byte.isFlowIndicator { break }
            if byte == .hash, !pending.isEmpty { break }
            if byte == .space || byte == .tab {
                pending.append(byte)
                advance()
                continue
            }
            if byte == .newline {
                if singleLine { break }
                var probe = self
                var breaks = 0
                while probe.peek() == .newline {
                    probe.advance()
                    breaks += 1
                    probe.skipBlanks()
                }
                if probe.isAtEnd || probe.atDocumentBoundary || probe.column < minIndent || probe.peek() == .hash { break }
                self = probe
                pending = breaks == 1 ? [.space] : Array(repeating: .newline, count: breaks - 1)
                continue
            }
            text += pending
            pending = []
            text.append(byte)
            advance()
            end = self
        }
        self = end
        return String(decoding: text, as: UTF8.self)
    }

    /// A `'single'` or `"double"` quoted scalar, at its opening quote.
    mutating func scanQuoted() throws(YAMLError) -> String {
        let start = mark
        let double = peek() == .doubleQuote
        let context = double ? "while scanning a double-quoted scalar" : "while scanning a single-quoted scalar"
        advance()
        var text: [UInt8] = []
        while true {
            guard let byte = peek() else {
                throw YAMLError("the text ends inside a quoted scalar", at: mark, context: context, contextMark: start)
            }
            switch byte {
            case .singleQuote where !double:
                advance()
                guard peek() == .singleQuote else { return String(decoding: text, as: UTF8.self) }
                text.append(.singleQuote)
                advance()
            case .doubleQuote where double:
                advance()
                return String(decoding: text, as: UTF8.self)
            case .backslash where double && peek(1) == .newline:
                advance()
                let breaks = try foldQuotedBreaks(context, start)
                text += Array(repeating: .newline, count: breaks - 1)
            case .backslash where double:
                try scanEscape(into: &text)
            case .space, .tab:
                let runStart = index
                skipBlanks()
                if peek() != .newline { text += Array(self.text(runStart..<index).utf8) }
            case .newline:
                let breaks = try foldQuotedBreaks(context, start)
                text += breaks == 1 ? [.space] : Array(repeating: .newline, count: breaks - 1)
            default:
                text.append(byte)
                advance()
            }
        }
    }

    /// Consumes line breaks and the next line's leading blanks inside a quoted scalar; returns
    /// how many breaks there were.
    private mutating func foldQuotedBreaks(_ context: String, _ start: YAMLMark) throws(YAMLError) -> Int {
        var breaks = 0
        while peek() == .newline {
            advance()
            breaks += 1
            skipBlanks()
        }
        if atDocumentBoundary {
            throw YAMLError("a document marker inside a quoted scalar", at: mark, context: context, contextMark: start)
        }
        return breaks
    }

    /// One escape sequence of a double-quoted scalar, at its backslash.
    private mutating func scanEscape(into text: inout [UInt8]) throws(YAMLError) {
        let start = mark
        advance()
        guard let code = peek() else { throw YAMLError("the text ends inside an escape sequence", at: start) }
        var value: UInt32
        if let known = Self.namedEscapes[code] {
            value = known
            advance()
        } else if let length = Self.hexEscapeLengths[code] {
            advance()
            value = 0
            for _ in 0..<length {
                guard let digit = peek(), digit.isHexDigit else {
                    throw YAMLError("\\\(Character(Unicode.Scalar(code))) needs \(length) hexadecimal digits", at: start)
                }
                value = value * 16 + UInt32(digit.isDigit ? digit - 0x30 : (digit | 0x20) - 0x61 + 10)
                advance()
            }
        } else {
            throw YAMLError("unknown escape sequence \\\(Character(Unicode.Scalar(code)))", at: start)
        }
        guard let scalar = Unicode.Scalar(value) else {
            throw YAMLError("the escape sequence names no Unicode character (U+\(String(value, radix: 16, uppercase: true)))", at: start)
        }
        text += Array(String(Character(scalar)).utf8)
    }

    /// `\0`, `\n`, `\N`, …: the escape's letter and the character it stands for.
    private static let namedEscapes: [UInt8: UInt32] = [
        UInt8(ascii: "0"): 0, UInt8(ascii: "a"): 7, UInt8(ascii: "b"): 8, UInt8(ascii: "t"): 9, .tab: 9,
        UInt8(ascii: "n"): 10, UInt8(ascii: "v"): 11, UInt8(ascii: "f"): 12, UInt8(ascii: "r"): 13,
        UInt8(ascii: "e"): 27, .space: 32, .doubleQuote: 34, UInt8(ascii: "/"): 47, .backslash: 92,
        UInt8(ascii: "N"): 0x85, UInt8(ascii: "_"): 0xA0, UInt8(ascii: "L"): 0x2028, UInt8(ascii: "P"): 0x2029,
    ]

    /// `\x41`, `\u00e9`, `\U0001F600`: how many hexadecimal digits follow each letter.
    private static let hexEscapeLengths: [UInt8: Int] = [UInt8(ascii: "x"): 2, UInt8(ascii: "u"): 4, UInt8(ascii: "U"): 8]

    /// A block scalar, at its `|` or `>`. `parentIndent` is the indentation of the collection
    /// that holds it (-1 at the top); its lines must be indented more.
    mutating func scanBlockScalar(parentIndent: Int) throws(YAMLError) -> (text: String, style: YAMLScalarStyle) {
        let start = mark
        let folded = peek() == .greater
        advance()
        var chomping = 0  // -1 strip, 0 clip, +1 keep
        var increment: Int?
        for _ in 0..<2 {
            if let byte = peek(), byte == UInt8(ascii: "+") || byte == .dash, chomping == 0 {
                chomping = byte == .dash ? -1 : 1
                advance()
            } else if let byte = peek(), byte >= 0x31, byte <= 0x39, increment == nil {
                increment = Int(byte - 0x30)
                advance()
            }
        }
        guard isBlankOrEnd() else {
            throw YAMLError("expected a chomping indicator (+ or -), an indentation indicator (1-9) or a line break "
                + "after the block scalar's \(folded ? ">" : "|")", at: mark)
        }
        try finishLine(after: "the block scalar header")
        advance()
        var indent = increment.map { parentIndent >= 0 ? parentIndent + $0 : $0 } ?? 0
        var trailingBreaks: [UInt8] = []
        try scanBlockBreaks(indent: &indent, parentIndent: parentIndent, breaks: &trailingBreaks, start: start)
        var text: [UInt8] = []
        var leadingBreak: [UInt8] = []
        var leadingBlank = false
        while column == indent, let first = peek(), first != .newline {
            let trailingBlank = first == .space || first == .tab
            if folded, !leadingBreak.isEmpty, !leadingBlank, !trailingBlank {
                if trailingBreaks.isEmpty { text.append(.space) }
            } else {
                text += leadingBreak
            }
            leadingBreak = []
            text += trailingBreaks
            trailingBreaks = []
            leadingBlank = trailingBlank
            while let byte = peek(), byte != .newline {
                text.append(byte)
                advance()
            }
            if isAtEnd { break }
            advance()
            leadingBreak = [.newline]
            try scanBlockBreaks(indent: &indent, parentIndent: parentIndent, breaks: &trailingBreaks, start: start)
        }
        if chomping != -1 { text += leadingBreak }
        if chomping == 1 { text += trailingBreaks }
        return (String(decoding: text, as: UTF8.self), folded ? .folded : .literal)
    }

    /// Empty lines (and indentation) of a block scalar; with `indent` 0, detects the indentation
    /// from the first line with content, as libyaml does.
    private mutating func scanBlockBreaks(indent: inout Int, parentIndent: Int, breaks: inout [UInt8], start: YAMLMark) throws(YAMLError) {
        var maxIndent = 0
        while true {
            while indent == 0 || column < indent, peek() == .space { advance() }
            maxIndent = max(maxIndent, column)
            if indent == 0 || column < indent, peek() == .tab {
                throw YAMLError("a tab character where the block scalar's indentation is expected", at: mark,
                                context: "while scanning a block scalar", contextMark: start)
            }
            guard peek() == .newline else { break }
            advance()
            breaks.append(.newline)
        }
        if indent == 0 { indent = max(maxIndent, parentIndent + 1, 1) }
    }

    /// An anchor or alias name, after its `&` or `*`.
    mutating func scanName(_ what: String) throws(YAMLError) -> String {
        let start = index
        let startMark = mark
        while !isBlankOrEnd(), let byte = peek(), !byte.isFlowIndicator { advance() }
        guard index > start else { throw YAMLError("\(what) needs a name", at: startMark) }
        return text(start..<index)
    }

    /// A tag, at its `!`: `!`, `!local`, `!!core` or `!<verbatim>`, kept as written.
    mutating func scanTag() throws(YAMLError) -> String {
        let start = index
        let startMark = mark
        if peek(1) == UInt8(ascii: "<") {
            while let byte = peek(), byte != .greater, byte != .newline { advance() }
            guard peek() == .greater else { throw YAMLError("a verbatim tag !<…> is not closed", at: startMark) }
            advance()
        } else {
            while !isBlankOrEnd(), let byte = peek(), !byte.isFlowIndicator { advance() }
        }
        guard isBlankOrEnd() || peek()?.isFlowIndicator == true else {
            throw YAMLError("expected a space after the tag", at: mark)
        }
        return text(start..<index)
    }
}
