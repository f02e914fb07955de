// The JSON parser and the wire types built on it: CheckBody, ResetBody, a rule body (PUT
// /v1/rules/{name}), the /v1/status query string.
//
// Invariants beyond "no crash":
// - a document the parser accepts, written back, parses to the same value, and writing is
//   canonical (writing the re-parsed value gives the same text); errors point inside the input;
// - any string written with writeJSONString parses back to itself;
// - a decoded check body (single or batch) has costs in range and re-encodes to the same body;
// - a decoded rule body, written as the admin API shows it, decodes to the same rule;
// - every refusal is a 400.
@testable import RateLimitHTTP
import FuzzSupport
import NIOCore
import RateLimitConfig
import RateLimitCore

private let allocator = ByteBufferAllocator()

private func text(_ value: JSONValue) -> ByteBuffer {
    var out = allocator.buffer(capacity: 64)
    value.write(to: &out)
    return out
}

private func checkRequestJSON(_ r: CheckRequest) -> JSONValue {
    .object([("rule", .string(r.rule)), ("key", .string(r.key)), ("cost", .number(String(r.cost)))])
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)
    var buffer = allocator.buffer(capacity: size)
    buffer.writeBytes(bytes)

    // 1. Parse, write, re-parse.
    var parsed: JSONValue?
    do {
        let value = try JSONParser.parse(buffer)
        parsed = value
        let written = text(value)
        let again: JSONValue
        do { again = try JSONParser.parse(written) } catch {
            require(false, "written JSON does not parse (\(error)): \(String(buffer: written))")
            return 0
        }
        require(again == value, "JSON does not round-trip: \(value) vs \(again)")
        require(text(again) == written, "writing is not canonical")
        require((try? JSONParser.parse(Array(bytes))) == value, "the [UInt8] and ByteBuffer parsers disagree")
    } catch {
        require(error.offset >= 0 && error.offset <= size, "error offset \(error.offset) outside the input of \(size) bytes")
        require((try? JSONParser.parse(Array(bytes))) == nil, "the [UInt8] parser accepts what the ByteBuffer one refuses")
    }

    // 2. Any string, escaped and parsed back.
    let string = String(decoding: bytes, as: UTF8.self)
    var quoted = allocator.buffer(capacity: size + 2)
    quoted.writeJSONString(string)
    do {
        let back = try JSONParser.parse(quoted)
        require(back == .string(string), "writeJSONString does not round-trip: \(String(buffer: quoted))")
    } catch {
        require(false, "writeJSONString wrote invalid JSON (\(error)): \(String(buffer: quoted))")
    }

    // 3. POST /v1/check bodies.
    do {
        let body = try CheckBody.decode(buffer)
        let requests: [CheckRequest]
        let encoded: JSONValue
        switch body {
        case .one(let r):
            requests = [r]
            encoded = checkRequestJSON(r)
        case .batch(let rs):
            require(!rs.isEmpty && rs.count <= RateLimiter.maxBatch, "batch of \(rs.count)")
            requests = rs
            encoded = .object([("checks", .array(rs.map(checkRequestJSON)))])
        }
        for r in requests { require((0...Limits.maxLimit).contains(r.cost), "cost \(r.cost) out of range") }
        let again = try? CheckBody.decode(text(encoded))
        require(again == body, "check body does not re-encode: \(body) vs \(String(describing: again))")
    } catch {
        require(error.status == .badRequest, "check body refused with \(error.status)")
    }

    // 4. POST /v1/reset bodies.
    do {
        let reset = try ResetBody.decode(buffer)
        let again = try? ResetBody.decode(text(.object([("rule", .string(reset.rule)), ("key", .string(reset.key))])))
        require(again?.rule == reset.rule && again?.key == reset.key, "reset body does not re-encode")
    } catch {
        require(error.status == .badRequest, "reset body refused with \(error.status)")
    }

    // 5. PUT /v1/rules/{name} bodies (only objects: anything else is refused before YAML).
    let parseRule: RuleParser = { try ConfigLoader.parseRule($0) }
    if case .object? = parsed {
        do throws(APIError) {
            let rule = try APIHandler.decodeRule(buffer, name: "fuzz.rule-1", parse: parseRule)
            var shown = allocator.buffer(capacity: 128)
            shown.writeRule(rule)
            do {
                let again = try APIHandler.decodeRule(shown, name: "fuzz.rule-1", parse: parseRule)
                require(again == rule, "rule does not round-trip: \(rule) vs \(again)")
            } catch {
                require(false, "the rule as shown does not read back (\(error)): \(String(buffer: shown))")
            }
        } catch {
            require(error.status == .badRequest, "rule body refused with \(error.status)")
        }
    } else {
        require((try? APIHandler.decodeRule(buffer, name: "fuzz.rule-1", parse: parseRule)) == nil, "a rule from a body that is not an object")
    }

    // 6. GET /v1/status?… query strings.
    do {
        let request = try APIHandler.statusRequest(query: string)
        require((0...Limits.maxLimit).contains(request.cost), "status cost \(request.cost) out of range")
    } catch {
        require(error.status == .badRequest, "status query refused with \(error.status)")
    }
    return 0
}
