// The RESP decoder (what a Redis server, or anything on its port, sends us).
//
// Invariants beyond "no crash":
// - `next` consumes nothing when it returns nil or throws, something when it returns a value,
//   and never more than it was given;
// - the same bytes split into pieces (at input-derived points, or one byte at a time) decode to
//   the same values, the same leftover and the same error (or none) as when they arrive at once;
// - a valid encoding of a decoded value decodes to the same value, consuming exactly its bytes;
// - a decoded array read as a script's reply (single and batch) never traps, and what it
//   accepts is within the scripts' contract (red team 2, F1: integers at the limits).
import FuzzSupport
import NIOCore
import RateLimitCore
@testable import RateLimitRedis

private let allocator = ByteBufferAllocator()

private struct Decoded {
    var values: [RESPValue] = []
    var failed = false
    var leftover = 0
}

private func decode(_ bytes: UnsafeRawBufferPointer, cuts: [Int]) -> Decoded {
    let decoder = RESPDecoder()
    var buffer = allocator.buffer(capacity: bytes.count)
    var out = Decoded()
    var fed = 0
    for cut in cuts + [bytes.count] where cut > fed || cut == bytes.count {
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[fed..<cut]))
        fed = cut
        while true {
            let before = buffer
            let value: RESPValue?
            do {
                value = try decoder.next(&buffer)
            } catch {
                require(buffer == before && buffer.readerIndex == before.readerIndex, "next threw but consumed bytes")
                out.failed = true
                return out
            }
            require(buffer.writerIndex == before.writerIndex, "next changed the writer index")
            guard let value else {
                require(buffer.readerIndex == before.readerIndex, "next returned nil but consumed bytes")
                break
            }
            require(buffer.readerIndex > before.readerIndex, "next returned a value but consumed nothing")
            require(buffer.readerIndex <= before.writerIndex, "next consumed more than it was given")
            out.values.append(value)
        }
    }
    out.leftover = buffer.readableBytes
    return out
}

/// A valid RESP encoding of `value` (RESP3 null as `_`).
private func encode(_ value: RESPValue, into out: inout ByteBuffer) {
    switch value {
    case .simpleString(let s):
        out.writeString("+\(s)\r\n")
    case .error(let s):
        out.writeString("-\(s)\r\n")
    case .integer(let n):
        out.writeString(":\(n)\r\n")
    case .null:
        out.writeString("_\r\n")
    case .bulkString(nil):
        out.writeString("$-1\r\n")
    case .bulkString(var data?):
        out.writeString("$\(data.readableBytes)\r\n")
        out.writeBuffer(&data)
        out.writeString("\r\n")
    case .array(nil):
        out.writeString("*-1\r\n")
    case .array(let items?):
        out.writeString("*\(items.count)\r\n")
        for item in items { encode(item, into: &out) }
    }
}

/// Simple strings and errors are lines: they cannot hold CR (the decoder reads up to the first
/// CR), so only values whose lines are CR-free have an encoding to round-trip through.
private func encodable(_ value: RESPValue) -> Bool {
    switch value {
    case .simpleString(let s), .error(let s): !s.utf8.contains(13)
    case .array(let items?): items.allSatisfy(encodable)
    default: true
    }
}

private let scriptItem = StoreItem(
    slot: 0, key: "k", limits: (try? Limits(algorithm: .tokenBucket, limit: 100, period: 60_000_000_000)) ?? { fatalError("constant limits") }(), cost: 1)

/// Any reply the decoder produces, read as a script's reply: an error or numbers in range.
private func checkScriptReply(_ value: RESPValue) {
    for (items, batch) in [([scriptItem], false), ([scriptItem, scriptItem], true)] {
        guard let decided = try? RedisStore.decode(value, items: items, batch: batch) else { continue }
        for d in decided.decisions {
            require(d.remaining >= 0 && d.resetAfter >= 0 && d.retryAfter >= 0 && d.delay >= 0, "accepted out-of-range numbers: \(d)")
        }
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    let whole = decode(bytes, cuts: [])

    if size > 1 {
        var h = fnv1a(bytes)
        var cutSets: [[Int]] = [[Int(h % UInt64(size))]]
        var several: Set<Int> = []
        for _ in 0..<8 {
            h = h &* 6364136223846793005 &+ 1442695040888963407
            several.insert(Int((h >> 33) % UInt64(size)))
        }
        cutSets.append(several.sorted())
        if size <= 600 { cutSets.append(Array(1..<size)) }
        for cuts in cutSets {
            let pieces = decode(bytes, cuts: cuts)
            let what = cuts.count == 1 ? "cut at \(cuts[0])" : "cut at \(cuts.count) points"
            require(pieces.failed == whole.failed, "\(what): at once failed=\(whole.failed), in pieces failed=\(pieces.failed)")
            require(pieces.values == whole.values, "\(what): values differ: \(whole.values) vs \(pieces.values)")
            if !whole.failed { require(pieces.leftover == whole.leftover, "\(what): leftover \(whole.leftover) vs \(pieces.leftover)") }
        }
    }

    for value in whole.values { checkScriptReply(value) }

    for value in whole.values where encodable(value) {
        var encoded = allocator.buffer(capacity: 64)
        encode(value, into: &encoded)
        let length = encoded.readableBytes
        do {
            let again = try RESPDecoder().next(&encoded)
            require(again == value, "RESP does not round-trip: \(value) vs \(String(describing: again))")
            require(encoded.readableBytes == 0, "round trip left \(encoded.readableBytes) of \(length) bytes")
        } catch {
            require(false, "a valid encoding of \(value) is refused: \(error)")
        }
    }
    return 0
}
