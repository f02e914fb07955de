/// A read position in YAML text: the byte, its line and column, and the small steps the composer
/// takes (blanks, comments, line breaks, document markers). Line breaks are normalized to `\n`.
/// Copying the scanner is cheap (the bytes are shared), which is how it looks ahead.
struct YAMLScanner {
    private let bytes: [UInt8]
    private(set) var index = 0
    private(set) var line = 1
    /// 0-based, in Unicode scalars: equal to the indentation at the first character of a line.
    private(set) var column = 0

    init(_ text: String) throws(YAMLError) {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(text.utf8.count)
        var previous: UInt8 = 0
        for byte in text.utf8 {
            if byte == 0x0A, previous == 0x0D {
                previous = byte
                continue
            }
            bytes.append(byte == 0x0D ? 0x0A : byte)
            previous = byte
        }
        self.bytes = bytes
        try rejectNonPrintable(text)
        if peek() == 0xEF, peek(1) == 0xBB, peek(2) == 0xBF { index = 3 }  // a byte order mark
    }

    /// YAML text may hold only printable characters, tabs and line breaks.
    private func rejectNonPrintable(_ text: String) throws(YAMLError) {
        var line = 1
        var column = 0
        var previous: UInt32 = 0
        for scalar in text.unicodeScalars {
            let value = scalar.value
            let printable = value == 0x09 || value == 0x0A || value == 0x0D || (0x20...0x7E).contains(value) || value == 0x85
                || (0xA0...0xD7FF).contains(value) || (0xE000...0xFFFD).contains(value) || value >= 0x10000
            if !printable {
                let hex = String(value, radix: 16, uppercase: true)
                throw YAMLError(
                    "the control character U+\(String(repeating: "0", count: max(0, 4 - hex.count)) + hex) is not allowed in YAML text",
                    at: YAMLMark(line: line, column: column + 1))
            }
            if value == 0x0A || value == 0x0D {
                if !(value == 0x0A && previous == 0x0D) { line += 1 }
                column = 0
            } else {
                column += 1
            }
            previous = value
        }
    }

    var mark: YAMLMark { YAMLMark(line: line, column: column + 1) }

    var isAtEnd: Bool { index >= bytes.count }

    /// The byte `offset` bytes ahead; nil past the end.
    func peek(_ offset: Int = 0) -> UInt8? {
        index + offset < bytes.count ? bytes[index + offset] : nil
    }

    /// Whether the byte `offset` ahead is a space, tab, line break or the end.
    func isBlankOrEnd(_ offset: Int = 0) -> Bool {
        guard let byte = peek(offset) else { return true }
        return byte == .space || byte == .tab || byte == .newline
    }

    /// Whether the byte before the current one is a space, tab or line break (or there is none):
    /// only then does `#` start a comment.
    var followsBlank: Bool {
        index == 0 || bytes[index - 1] == .space || bytes[index - 1] == .tab || bytes[index - 1] == .newline
    }

    mutating func advance(_ count: Int = 1) {
        for _ in 0..<count where index < bytes.count {
            let byte = bytes[index]
            index += 1
            if byte == .newline {
                line += 1
                column = 0
            } else if byte & 0xC0 != 0x80 {
                column += 1
            }
        }
    }

    mutating func skipBlanks() {
        while let byte = peek(), byte == .space || byte == .tab { advance() }
    }

    /// Skips a comment (to the end of its line, not the break) when one starts here.
    mutating func skipComment() {
        guard peek() == .hash, followsBlank else { return }
        while let byte = peek(), byte != .newline { advance() }
    }

    /// Skips blanks, comments and line breaks up to the next content: the first character of a
    /// line that is not blank or a comment (or the end). In block context a tab before that
    /// character is refused: YAML indents with spaces only.
    mutating func skipToContent(inFlow: Bool = false) throws(YAMLError) {
        while true {
            let lineStart = column == 0
            while peek() == .space { advance() }
            if peek() == .tab {
                let tab = mark
                skipBlanks()
                if lineStart, !inFlow, let byte = peek(), byte != .newline, byte != .hash {
                    throw YAMLError("a tab character cannot indent YAML; use spaces", at: tab)
                }
            }
            skipComment()
            guard peek() == .newline else { return }
            advance()
        }
    }

    /// After a node that ends its line: only blanks and a comment may follow.
    mutating func finishLine(after what: String) throws(YAMLError) {
        skipBlanks()
        skipComment()
        guard isAtEnd || peek() == .newline else {
            throw YAMLError("unexpected text after \(what)", at: mark)
        }
    }

    /// `---` or `...` at the start of a line, followed by a blank, a break or the end.
    func atDocumentMarker(_ marker: UInt8) -> Bool {
        column == 0 && peek() == marker && peek(1) == marker && peek(2) == marker && isBlankOrEnd(3)
    }

    var atDocumentBoundary: Bool { atDocumentMarker(.dash) || atDocumentMarker(.dot) }

    /// `-` followed by a blank, a break or the end: a block sequence entry.
    var atSequenceEntry: Bool { peek() == .dash && isBlankOrEnd(1) }

    func text(_ range: Range<Int>) -> String { String(decoding: bytes[range], as: UTF8.self) }
}

extension UInt8 {
    static let space = UInt8(ascii: " ")
    static let tab = UInt8(ascii: "\t")
    static let newline = UInt8(ascii: "\n")
    static let hash = UInt8(ascii: "#")
    static let dash = UInt8(ascii: "-")
    static let dot = UInt8(ascii: ".")
    static let colon = UInt8(ascii: ":")
    static let comma = UInt8(ascii: ",")
    static let question = UInt8(ascii: "?")
    static let openBracket = UInt8(ascii: "[")
    static let closeBracket = UInt8(ascii: "]")
    static let openBrace = UInt8(ascii: "{")
    static let closeBrace = UInt8(ascii: "}")
    static let singleQuote = UInt8(ascii: "'")
    static let doubleQuote = UInt8(ascii: "\"")
    static let backslash = UInt8(ascii: "\\")
    static let ampersand = UInt8(ascii: "&")
    static let asterisk = UInt8(ascii: "*")
    static let exclamation = UInt8(ascii: "!")
    static let pipe = UInt8(ascii: "|")
    static let greater = UInt8(ascii: ">")
    static let percent = UInt8(ascii: "%")

    var isFlowIndicator: Bool { self == .comma || self == .openBracket || self == .closeBracket || self == .openBrace || self == .closeBrace }
}
