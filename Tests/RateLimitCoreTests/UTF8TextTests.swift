import RateLimitCore
import Testing

@Suite struct UTF8TextTests {
    func text(_ bytes: [UInt8]) -> String? {
        bytes.withUnsafeBytes { String(validatingUTF8: $0) }
    }

    @Test func asciiMultiByteAndEmptyAreRead() {
        #expect(text(Array("user-42".utf8)) == "user-42")
        #expect(text(Array("grüße 🚦".utf8)) == "grüße 🚦")
        #expect(text([]) == "")
    }

    @Test func invalidUTF8IsRefusedWhereverItIs() {
        #expect(text([0xFF]) == nil)
        #expect(text(Array("ok".utf8) + [0xC3]) == nil, "a truncated sequence at the end")
        #expect(text([0xED, 0xA0, 0x80]) == nil, "an encoded surrogate")
        #expect(text(Array("a".utf8) + [0xC0, 0xAF]) == nil, "an overlong encoding")
    }
}

@Suite struct ReplacingScalarsTests {
    @Test func namedScalarsAreReplacedAndTheRestKept() {
        let escaped = "a\"b\\c\nd ü".replacingScalars { $0 == "\"" ? "\\\"" : $0 == "\n" ? "\\n" : nil }
        #expect(escaped == "a\\\"b\\c\\nd ü")
        #expect("".replacingScalars { _ in "x" } == "")
        #expect("🚦{k}".replacingScalars { $0 == "{" ? "%7B" : nil } == "🚦%7Bk}")
    }
}
