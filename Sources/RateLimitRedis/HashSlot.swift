/// Redis Cluster's key → slot function: CRC16 (XMODEM) of the hash tag, modulo 16384. The tag
/// is what lies between the first `{` and the first `}` after it, when that is not empty;
/// otherwise the whole key.
enum HashSlot {
    static let count = 16384

    static func slot(of key: String) -> Int {
        var utf8 = Array(key.utf8)
        if let open = utf8.firstIndex(of: UInt8(ascii: "{")),
           let close = utf8[(open + 1)...].firstIndex(of: UInt8(ascii: "}")), close > open + 1 {
            utf8 = Array(utf8[(open + 1)..<close])
        }
        return Int(crc16(utf8) & 0x3FFF)
    }

    /// CRC-16/XMODEM (polynomial 0x1021, initial 0), bit by bit: keys are short.
    static func crc16(_ bytes: some Sequence<UInt8>) -> UInt16 {
        var crc: UInt16 = 0
        for byte in bytes {
            crc ^= UInt16(byte) << 8
            for _ in 0..<8 { crc = crc & 0x8000 != 0 ? (crc << 1) ^ 0x1021 : crc << 1 }
        }
        return crc
    }
}
