// The HTTP request path end to end: bytes → HTTPRequestParser → APIHandler.answer (memory store).
//
// Invariants beyond "no crash":
// - the parser never consumes more bytes than it was given, never writes to the buffer, consumes
//   nothing when it returns nil, and consumes something when it returns a request;
// - the same bytes split into pieces (at input-derived points, or one byte at a time) give the
//   same requests, the same leftover and the same error status as when they arrive at once;
// - every answer has a status in the expected set, a body that is a JSON object ({"error": "…"}
//   for errors), header lines without stray CR/LF, and a Content-Length equal to the body's size;
// - a rule the admin API shows (GET/PUT /v1/rules/{name}) reads back as the same rule.
@testable import RateLimitHTTP
import FuzzSupport
import NIOCore
import NIOEmbedded
import RateLimitConfig
import RateLimitCore
import RateLimitMetrics

private let rules: RuleSet = {
    do { return try ConfigLoader.parse(yaml: exampleRulesYAML).rules } catch { fatalError("bad fixture: \(error)") }
}()
private let allocator = ByteBufferAllocator()
/// Small limits so short inputs reach the size checks.
private let smallLimits = HTTPRequestParser.Limits(maxHeaderBytes: 200, maxBodyBytes: 300)

private struct Parsed {
    var requests: [HTTPRequest] = []
    var error: HTTPParseError?
    /// Bytes left in the buffer (a partial request) when no error stopped the parse.
    var leftover = 0
}

/// Feeds `bytes` in pieces ending at `cuts` (ascending) and drains the parser after each piece.
private func parse(_ bytes: UnsafeRawBufferPointer, cuts: [Int], limits: HTTPRequestParser.Limits) -> Parsed {
    var parser = HTTPRequestParser(limits: limits)
    var buffer = allocator.buffer(capacity: bytes.count)
    var out = Parsed()
    var fed = 0
    var consumed = 0
    for cut in cuts + [bytes.count] where cut > fed || cut == bytes.count {
        buffer.writeBytes(UnsafeRawBufferPointer(rebasing: bytes[fed..<cut]))
        fed = cut
        while true {
            let reader = buffer.readerIndex
            let writer = buffer.writerIndex
            let before = buffer  // shares the storage; keeps the bytes readable from `reader`
            let request: HTTPRequest?
            do {
                request = try parser.next(&buffer)
            } catch {
                out.error = error
                return out
            }
            require(buffer.writerIndex == writer, "the parser changed the writer index")
            require(buffer.readerIndex <= writer, "the parser consumed more bytes than it was given")
            guard let request else {
                // Only empty lines before a request may go without a request (they are consumed
                // as they arrive, so a CRLF flood is never rescanned: red team 2, F3).
                let skipped = buffer.readerIndex - reader
                require(skipped % 2 == 0, "next returned nil but consumed \(skipped) bytes, not whole CRLFs")
                for i in stride(from: reader, to: buffer.readerIndex, by: 2) {
                    require(before.getInteger(at: i, as: UInt16.self) == 0x0D0A, "next returned nil but consumed bytes other than CRLFs")
                }
                consumed += skipped
                break
            }
            require(buffer.readerIndex > reader, "next returned a request but consumed nothing")
            consumed += buffer.readerIndex - reader
            require(consumed <= fed, "consumed \(consumed) bytes of \(fed)")
            require(request.body.readableBytes <= limits.maxBodyBytes, "body larger than the limit")
            require(request.path.hasPrefix("/"), "path does not start with /")
            out.requests.append(request)
        }
    }
    out.leftover = buffer.readableBytes
    return out
}

/// Cut points derived from the input alone: one "random" split, a few of them, or every byte.
private func cutSets(_ bytes: UnsafeRawBufferPointer) -> [[Int]] {
    let n = bytes.count
    guard n > 1 else { return [] }
    var h = fnv1a(bytes)
    var sets: [[Int]] = [[Int(h % UInt64(n))]]
    var several: Set<Int> = []
    for _ in 0..<8 {
        h = h &* 6364136223846793005 &+ 1442695040888963407
        several.insert(Int((h >> 33) % UInt64(n)))
    }
    sets.append(several.sorted())
    if n <= 600 { sets.append(Array(1..<n)) }
    return sets
}

private func same(_ a: Parsed, _ b: Parsed, _ what: String) {
    for i in 0..<min(a.requests.count, b.requests.count) {
        require(a.requests[i] == b.requests[i], "\(what): request \(i) differs: \(a.requests[i]) vs \(b.requests[i])")
    }
    require(a.error?.status == b.error?.status,
            "\(what): error at once \(String(describing: a.error)), in pieces \(String(describing: b.error))")
    require(a.requests.count == b.requests.count, "\(what): \(a.requests.count) requests at once, \(b.requests.count) in pieces")
    if a.error == nil { require(a.leftover == b.leftover, "\(what): leftover \(a.leftover) vs \(b.leftover)") }
}

// MARK: answers

private let expectedStatuses: Set<HTTPStatus> = [
    .ok, .created, .badRequest, .notFound, .methodNotAllowed, .conflict, .tooManyRequests,
]

private func checkAnswer(_ request: HTTPRequest, _ response: HTTPResponse, limiter: RateLimiter) {
    let where_ = "\(request.method) \(request.path)"
    require(expectedStatuses.contains(response.status), "\(where_): unexpected status \(response.status.rawValue)")
    if response.status == .created { require(request.method == .put && request.path.hasPrefix("/v1/rules/"), "\(where_): 201") }
    if response.status == .tooManyRequests {
        require(request.path == "/v1/check" || request.path == "/v1/status", "\(where_): 429")
    }
    if response.status == .conflict { require(request.path == "/v1/reload", "\(where_): 409") }

    // Body: a JSON object.
    let body: JSONValue
    do { body = try JSONParser.parse(response.body) } catch {
        require(false, "\(where_): body is not JSON (\(error)): \(String(buffer: response.body))")
        return
    }
    guard case .object(let fields) = body else {
        require(false, "\(where_): body is not a JSON object: \(String(buffer: response.body))")
        return
    }
    let isError = response.status.rawValue >= 400 && response.status != .tooManyRequests
    if isError {
        require(fields.count == 1 && fields[0].0 == "error", "\(where_): error body is not {\"error\":…}")
        if case .string = fields[0].1 {} else { require(false, "\(where_): error is not a string") }
    }
    if !isError, request.path == "/v1/check" || request.path == "/v1/status" {
        require(fields.first { $0.0 == "allowed" }?.1 == .bool(response.status == .ok), "\(where_): allowed disagrees with the status")
        checkDecisionNumbers(fields, where_)
        if case .array(let results)? = fields.first(where: { $0.0 == "results" })?.1 {
            guard case .batch(let checks)? = try? CheckBody.decode(request.body) else {
                require(false, "\(where_): batch answer to a body that is not a batch")
                return
            }
            require(results.count == checks.count, "\(where_): \(results.count) results for \(checks.count) checks")
            for result in results {
                guard case .object(let r) = result else { require(false, "\(where_): result is not an object"); return }
                checkDecisionNumbers(r, where_)
            }
        }
    }

    // Extra header lines: `Name: value\r\n`, nothing else.
    let headers = String(buffer: response.headers)
    require(headers.isEmpty || headers.hasSuffix("\r\n"), "\(where_): headers do not end with CRLF")
    for line in headers.split(separator: "\r\n", omittingEmptySubsequences: false).dropLast() {
        guard let colon = line.firstIndex(of: ":") else { require(false, "\(where_): header line without colon: \(line)"); return }
        require(line[..<colon].utf8.allSatisfy { HTTPRequestParser.isTokenByte($0) } && colon > line.startIndex,
                "\(where_): bad header name in \(line)")
        require(line.utf8.allSatisfy { $0 >= 32 && $0 != 127 }, "\(where_): control byte in header line \(line)")
    }
    if response.status == .methodNotAllowed { require(headers.contains("Allow: "), "\(where_): 405 without Allow") }
    if response.status == .tooManyRequests { require(headers.contains("Retry-After: "), "\(where_): 429 without Retry-After") }

    // The whole response on the wire.
    var wire = allocator.buffer(capacity: 256)
    let headOnly = request.method == .head
    response.write(to: &wire, keepAlive: request.keepAlive, headOnly: headOnly)
    let text = String(buffer: wire)
    require(text.hasPrefix("HTTP/1.1 \(response.status.rawValue) "), "\(where_): status line")
    require(text.contains("\r\nContent-Length: \(response.body.readableBytes)\r\n"), "\(where_): Content-Length")
    let expectedLength = (text.utf8.firstRange(of: "\r\n\r\n".utf8).map { text.utf8.distance(from: text.utf8.startIndex, to: $0.upperBound) } ?? -1)
        + (headOnly ? 0 : response.body.readableBytes)
    require(wire.readableBytes == expectedLength, "\(where_): response is not head + body")

    // A rule shown by the admin API reads back as the rule in force.
    if request.path.hasPrefix("/v1/rules/"), response.status == .ok || response.status == .created,
       request.method == .get || request.method == .put {
        let name = String(request.path.dropFirst("/v1/rules/".count))
        guard let rule = limiter.rules[name] else { require(false, "\(where_): rule \(name) not installed"); return }
        do {
            let again = try APIHandler.decodeRule(response.body, name: name, parse: { try ConfigLoader.parseRule($0) })
            require(again == rule, "\(where_): rule does not round-trip: \(rule) vs \(again)")
        } catch {
            require(false, "\(where_): the rule the API wrote does not read back: \(error) in \(String(buffer: response.body))")
        }
    }
}

private func checkDecisionNumbers(_ fields: [(String, JSONValue)], _ where_: String) {
    for (name, value) in fields where ["limit", "remaining", "reset_after_ms", "retry_after_ms", "delay_ms"].contains(name) {
        guard case .number(let text) = value else { require(false, "\(where_): \(name) is not a number"); return }
        require(!text.isEmpty && text.utf8.allSatisfy { $0 >= 48 && $0 <= 57 }, "\(where_): \(name) is \(text)")
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
    let bytes = input(data, size)

    // Split consistency, with small limits so the size checks are reached.
    let small = parse(bytes, cuts: [], limits: smallLimits)
    for cuts in cutSets(bytes) {
        same(small, parse(bytes, cuts: cuts, limits: smallLimits), "small limits, cut at \(cuts.count == 1 ? "\(cuts[0])" : "\(cuts.count) points")")
    }

    // End to end with the default limits, as sluice serves.
    let whole = parse(bytes, cuts: [], limits: .default)
    if let cuts = cutSets(bytes).first {
        same(whole, parse(bytes, cuts: cuts, limits: .default), "default limits, cut at \(cuts[0])")
    }
    if whole.requests.isEmpty { return 0 }
    let clock = ManualClock(now: 1_750_000_000_000_000_000)
    let metrics = SluiceMetrics(version: "fuzz")
    let limiter = RateLimiter(rules: rules, clock: clock) { metrics.recorder(forRule: $0.name) }
    let api = APIHandler(pipeline: DecisionPipeline(limiter: limiter), parseRule: { try ConfigLoader.parseRule($0) }, reloader: nil)
    let loop = EmbeddedEventLoop()
    for request in whole.requests {
        guard case .now(let response) = api.answer(request, allocator: allocator, eventLoop: loop) else {
            fatalError("the memory store answers now")
        }
        checkAnswer(request, response, limiter: limiter)
        clock.advance(by: 7_000_000)
    }
    return 0
}
