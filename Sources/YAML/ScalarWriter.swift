/// How one scalar is written: in its own style where its text allows, else double-quoted (or,
/// when it spans lines, as a literal block).
enum ScalarWriter {
    /// A mapping key: on one line, plain, single- or double-quoted; an empty plain key (null)
    /// as `~`.
    static func key(_ scalar: YAMLScalar) -> String {
        let body: String
        if scalar.style == .plain, scalar.text.isEmpty, scalar.tag == nil {
            body = "~"
        } else if scalar.style == .plain, isPlainSafe(scalar.text) {
            body = scalar.text
        } else if scalar.style == .singleQuoted, isOneLine(scalar.text) {
            body = singleQuoted(scalar.text)
        } else {
            body = doubleQuoted(scalar.text)
        }
        return scalar.tag.map { $0 + " " + body } ?? body
    }

    /// A value whose block-scalar lines (if any) are indented by `indent`; empty for an empty
    /// plain scalar (null).
    static func value(_ scalar: YAMLScalar, indent: Int) -> String {
        let text = scalar.text
        let body: String
        if scalar.style == .plain, text.isEmpty {
            body = ""
        } else if scalar.style == .plain, isPlainSafe(text) {
            body = text
        } else if scalar.style == .singleQuoted, isOneLine(text) {
            body = singleQuoted(text)
        } else if scalar.style != .doubleQuoted, isLiteralSafe(text) {
            body = literal(text, indent: indent)
        } else {
            body = doubleQuoted(text)
        }
        guard let tag = scalar.tag else { return body }
        return body.isEmpty ? tag : tag + " " + body
    }

    /// Text that reads back as itself when written plain in block context. (Whether it reads as
    /// a string or a number is the caller's choice of style.)
    static func isPlainSafe(_ text: String) -> Bool {
        let bytes = Array(text.utf8)
        guard let first = bytes.first, let last = bytes.last, isOneLine(text) else { return false }
        if first == .space || first == .tab || last == .space || last == .tab || last == .colon { return false }
        if first == .dash || first == .question || first == .colon {
            if bytes.count < 2 || bytes[1] == .space || bytes[1] == .tab { return false }
        } else if indicators.contains(first) {
            return false
        }
        if text.hasPrefix("---") || text.hasPrefix("...") { return false }
        for (index, byte) in bytes.enumerated().dropFirst() {
            let previous = bytes[index - 1]
            if byte == .hash, previous == .space || previous == .tab { return false }
            if previous == .colon, byte == .space || byte == .tab { return false }
        }
        return true
    }

    /// Indicators that cannot start a plain scalar at all.
    private static let indicators = Set(",[]{}#&*!|>'\"%@`".utf8)

    /// No line breaks and nothing that needs an escape but tabs.
    static func isOneLine(_ text: String) -> Bool {
        text.unicodeScalars.allSatisfy { isPrintable($0) || $0 == "\t" }
    }

    /// Text a literal block keeps exactly: several lines, no control characters, no blanks at
    /// the end of a line (an all-blank line would read back empty).
    static func isLiteralSafe(_ text: String) -> Bool {
        guard text.contains("\n"), text.contains(where: { $0 != "\n" }) else { return false }
        var previous: Unicode.Scalar = "x"
        for scalar in text.unicodeScalars {
            guard isPrintable(scalar) || scalar == "\t" || scalar == "\n" else { return false }
            if scalar == "\n", previous == " " || previous == "\t" { return false }
            previous = scalar
        }
        return previous != " " && previous != "\t"
    }

    /// Printable and not a line break in YAML 1.1 (NEL, LS, PS) nor a byte order mark.
    private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
        let value = scalar.value
        guard value != 0xFEFF, value != 0x2028, value != 0x2029 else { return false }
        return (0x20...0x7E).contains(value) || (0xA0...0xD7FF).contains(value) || (0xE000...0xFFFD).contains(value) || value >= 0x10000
    }

    private static func singleQuoted(_ text: String) -> String {
        "'" + text.split(separator: "'", omittingEmptySubsequences: false).joined(separator: "''") + "'"
    }

    /// `|`, with `+` or `-` so the final line breaks read back exactly, and an indentation
    /// indicator when the first line starts with a space or a tab.
    private static func literal(_ text: String, indent: Int) -> String {
        let trailingBreaks = text.reversed().prefix { $0 == "\n" }.count
        let body = text.dropLast(trailingBreaks)
        let lines = body.split(separator: "\n", omittingEmptySubsequences: false)
        // Without an indicator the indentation is read from the first line with content, which
        // then must not start with a space (it would count) or a tab (refused there).
        let first = lines.first { !$0.isEmpty }?.first
        let indicator = first == " " || first == "\t" ? "2" : ""
        let chomping = trailingBreaks == 0 ? "-" : trailingBreaks == 1 ? "" : "+"
        var output = "|" + indicator + chomping + "\n"
        let prefix = String(repeating: " ", count: indent)
        for line in lines {
            output += line.isEmpty ? "\n" : prefix + line + "\n"
        }
        output += String(repeating: "\n", count: max(0, trailingBreaks - 1))
        return output
    }

    /// `"…"` with YAML's escapes for quotes, backslashes, control characters and line breaks.
    static func doubleQuoted(_ text: String) -> String {
        let named: [UInt32: String] = [
            0x00: "\\0", 0x07: "\\a", 0x08: "\\b", 0x09: "\\t", 0x0A: "\\n", 0x0B: "\\v", 0x0C: "\\f", 0x0D: "\\r",
            0x1B: "\\e", 0x22: "\\\"", 0x5C: "\\\\", 0x85: "\\N", 0x2028: "\\L", 0x2029: "\\P",
        ]
        var output = "\""
        for scalar in text.unicodeScalars {
            if let escape = named[scalar.value] {
                output += escape
            } else if isPrintable(scalar) {
                output.unicodeScalars.append(scalar)
            } else {
                let hex = String(scalar.value, radix: 16, uppercase: true)
                let (prefix, width) = scalar.value <= 0xFF ? ("\\x", 2) : scalar.value <= 0xFFFF ? ("\\u", 4) : ("\\U", 8)
                output += prefix + String(repeating: "0", count: width - hex.count) + hex
            }
        }
        return output + "\""
    }
}
