/// What a plain scalar's text reads as, with the YAML 1.1 rules Yams applied (so `yes`, `on`,
/// `0666`, `1_000` and `2024-01-02` are not strings), in the order Yams tried them.
enum ScalarResolver {
    static func tag(ofPlain text: String) -> String {
        let bytes = Array(text.utf8)
        if booleans.contains(text) { return YAMLTag.bool }
        if isInt(bytes) { return YAMLTag.int }
        if isFloat(bytes) { return YAMLTag.float }
        if text == "<<" { return YAMLTag.merge }
        if nulls.contains(text) { return YAMLTag.null }
        if isTimestamp(bytes) { return YAMLTag.timestamp }
        if text == "=" { return YAMLTag.value }
        return YAMLTag.str
    }

    static let booleans: Set<String> = [
        "yes", "Yes", "YES", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
        "on", "On", "ON", "off", "Off", "OFF",
    ]

    static let nulls: Set<String> = ["~", "null", "Null", "NULL", ""]

    /// `0b1_0`, `0o17`, `017`, `0`, `1_000`, `0x1F`, `190:20:30`, each with an optional sign.
    static func isInt(_ bytes: [UInt8]) -> Bool {
        var c = ByteCursor(bytes)
        c.skipSign()
        let digits = c
        if c.eat("0") {
            if c.eat("b") { return c.many { $0 == 0x30 || $0 == 0x31 || $0 == 0x5F } && c.atEnd }
            if c.eat("x") { return c.many { $0.isHexDigit || $0 == 0x5F } && c.atEnd }
            if c.atEnd { return true }
            _ = c.eat("o")
            return c.many { ($0 >= 0x30 && $0 <= 0x37) || $0 == 0x5F } && c.atEnd
        }
        c = digits
        guard let first = c.peek, first >= 0x31, first <= 0x39 else { return false }
        _ = c.many { $0.isDigit || $0 == 0x5F }
        if c.atEnd { return true }
        return c.sexagesimalTail() && c.atEnd
    }

    /// `1.5`, `1e3`, `.5`, `1_000.0`, `190:20:30.15`, `.inf`, `-.Inf`, `.nan`.
    static func isFloat(_ bytes: [UInt8]) -> Bool {
        var c = ByteCursor(bytes)
        if [".nan", ".NaN", ".NAN"].contains(where: { Array($0.utf8) == bytes }) { return true }
        if c.eat(".") {
            if c.many({ $0.isDigit || $0 == 0x5F }) {
                if c.atEnd { return true }
                guard c.eat("e") || c.eat("E"), c.eatSign() else { return false }
                return c.many(\.isDigit) && c.atEnd
            }
            c = ByteCursor(bytes)
        }
        c.skipSign()
        let afterSign = c
        if c.eat("."), [[0x69, 0x6E, 0x66], [0x49, 0x6E, 0x66], [0x49, 0x4E, 0x46]].contains(Array(c.rest)) { return true }
        c = afterSign
        guard c.peek?.isDigit == true else { return false }
        _ = c.many { $0.isDigit || $0 == 0x5F }
        var sexagesimal = c
        if sexagesimal.sexagesimalTail(), sexagesimal.eat(".") {
            _ = sexagesimal.many { $0.isDigit || $0 == 0x5F }
            if sexagesimal.atEnd { return true }
        }
        if c.eat(".") { _ = c.many { $0.isDigit || $0 == 0x5F } }
        if c.eat("e") || c.eat("E") {
            c.skipSign()
            guard c.many(\.isDigit) else { return false }
        }
        return c.atEnd
    }

    /// `2001-12-14`, or `2001-12-14t21:59:43.10-05:00` and its spaced forms.
    static func isTimestamp(_ bytes: [UInt8]) -> Bool {
        var c = ByteCursor(bytes)
        guard c.digits(4...4), c.eat("-") else { return false }
        let date = c
        if c.digits(2...2), c.eat("-"), c.digits(2...2), c.atEnd { return true }
        c = date
        guard c.digits(1...2), c.eat("-"), c.digits(1...2) else { return false }
        if !(c.eat("T") || c.eat("t")) { guard c.many({ $0 == 0x20 || $0 == 0x09 }) else { return false } }
        guard c.digits(1...2), c.eat(":"), c.digits(2...2), c.eat(":"), c.digits(2...2) else { return false }
        if c.eat(".") { _ = c.many(\.isDigit) }
        _ = c.many { $0 == 0x20 || $0 == 0x09 }
        if c.atEnd || (c.eat("Z") && c.atEnd) { return true }
        guard c.eatSign(), c.digits(1...2) else { return false }
        if c.eat(":") { guard c.digits(2...2) else { return false } }
        return c.atEnd
    }
}

/// A read position in a short byte string, for the resolver's hand-written patterns.
private struct ByteCursor {
    let bytes: [UInt8]
    var index = 0

    init(_ bytes: [UInt8]) { self.bytes = bytes }

    var atEnd: Bool { index == bytes.count }
    var peek: UInt8? { index < bytes.count ? bytes[index] : nil }
    var rest: ArraySlice<UInt8> { bytes[index...] }

    mutating func eat(_ ascii: Unicode.Scalar) -> Bool {
        guard peek == UInt8(ascii: ascii) else { return false }
        index += 1
        return true
    }

    /// An optional `+` or `-`.
    mutating func skipSign() { _ = eat("+") || eat("-") }

    /// A required `+` or `-`.
    mutating func eatSign() -> Bool { eat("+") || eat("-") }

    /// One or more bytes matching `accept`.
    mutating func many(_ accept: (UInt8) -> Bool) -> Bool {
        let start = index
        while let byte = peek, accept(byte) { index += 1 }
        return index > start
    }

    mutating func digits(_ count: ClosedRange<Int>) -> Bool {
        let start = index
        while index - start < count.upperBound, peek?.isDigit == true { index += 1 }
        return count.contains(index - start)
    }

    /// `(:[0-5]?[0-9])+`
    mutating func sexagesimalTail() -> Bool {
        var groups = 0
        while peek == 0x3A {
            let save = index
            index += 1
            if let first = peek, first >= 0x30, first <= 0x35, index + 1 < bytes.count, bytes[index + 1].isDigit {
                index += 2
            } else if peek?.isDigit == true {
                index += 1
            } else {
                index = save
                break
            }
            groups += 1
        }
        return groups > 0
    }
}

extension UInt8 {
    var isDigit: Bool { self >= 0x30 && self <= 0x39 }
    var isHexDigit: Bool { isDigit || (self >= 0x41 && self <= 0x46) || (self >= 0x61 && self <= 0x66) }
}
