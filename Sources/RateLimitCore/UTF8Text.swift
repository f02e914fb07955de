extension String {
    /// `bytes` as text when they are valid UTF-8, else nil: `String(validating:as:)` with a
    /// fast path for ASCII (rule names and keys nearly always are), which skips the generic
    /// validation's runtime type lookups on every request.
    public init?(validatingUTF8 bytes: UnsafeRawBufferPointer) {
        var ascii = true
        for byte in bytes where byte >= 0x80 {
            ascii = false
            break
        }
        if ascii {
            self = String(decoding: bytes, as: UTF8.self)
        } else if let text = String(validating: bytes, as: UTF8.self) {
            self = text
        } else {
            return nil
        }
    }
}

extension String {
    /// This text with every scalar for which `replacement` gives a string replaced by it, the
    /// others kept: the one loop behind label escaping and percent-encoding.
    public func replacingScalars(_ replacement: (Unicode.Scalar) -> String?) -> String {
        var out = ""
        out.reserveCapacity(utf8.count + 8)
        for scalar in unicodeScalars {
            if let text = replacement(scalar) {
                out += text
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
