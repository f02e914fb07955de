import NIOCore
import RateLimitCore

/// Envoy's rate limit service (RLS v3, `ShouldRateLimit`), answered by Sluice's rules.
///
/// Each descriptor is matched to a rule through the rules' `descriptors:` (domain + entries; see
/// `DescriptorIndex`). The matched descriptors are decided together as one batch: OVER_LIMIT if
/// any is over, and then none of them consumes anything. Descriptors that match no rule, and
/// every descriptor of an unknown domain, are OK without a limit (as envoyproxy/ratelimit does);
/// shadow rules answer OK. `hits_addend` 0 means 1; a descriptor's own `hits_addend` wins.
/// An empty domain or descriptor list is `INVALID_ARGUMENT`.
struct EnvoyPlan: Sendable {
    /// Each descriptor's check, nil when no rule matched it. One descriptor, the common request,
    /// is kept without an array.
    enum Matched: Sendable {
        case one(CheckRequest?)
        case many([CheckRequest?])
    }

    let matched: Matched

    init(_ request: EnvoyWire.Request, index: DescriptorIndex, observer: (any GRPCObserver)?) throws(GRPCStatus) {
        // As envoyproxy/ratelimit: both are malformed requests, not "no limit".
        guard !request.domain.isEmpty else { throw GRPCStatus(.invalidArgument, "domain must not be empty") }
        guard !request.descriptors.isEmpty else { throw GRPCStatus(.invalidArgument, "descriptors must not be empty") }
        let hits = request.hitsAddend == 0 ? 1 : Int64(request.hitsAddend)
        func check(_ descriptor: EnvoyWire.Descriptor) -> CheckRequest? {
            switch index.match(domain: request.domain, keys: request.keys(of: descriptor), values: request.values(of: descriptor)) {
            case .rule(let rule, let key):
                return CheckRequest(rule: rule, key: key, cost: descriptor.hitsAddend.map { Int64(clamping: $0) } ?? hits)
            case .unknownDomain:
                observer?.unmatched(.unknownDomain)
                return nil
            case .noRule:
                observer?.unmatched(.noRule)
                return nil
            }
        }
        if case .one(let only) = request.descriptors {
            matched = .one(check(only))
        } else {
            matched = .many(request.descriptors.map(check))
        }
    }

    /// What the pipeline decides: the matched checks (one, or a batch in descriptor order); nil
    /// when no descriptor matched a rule.
    var checks: Checks? {
        switch matched {
        case .one(let check): return check.map(Checks.one)
        case .many(let checks):
            let found = checks.compactMap { $0 }
            return found.isEmpty ? nil : found.count == 1 ? .one(found[0]) : .batch(found)
        }
    }

    /// The framed answer, given the decision of `checks` (nil when nothing matched).
    func response(_ verdict: Verdict?) -> ByteBuffer {
        let overall: EnvoyWire.Code = Self.allowed(verdict) ? .ok : .overLimit
        switch matched {
        case .one(let check):
            let status = check.flatMap { check in Self.decision(verdict, at: 0).map { Self.status($0, rule: check.rule) } }
            return EnvoyWire.framedResponse(overall: overall, statuses: CollectionOfOne(status ?? EnvoyWire.Status(code: .ok)), allocator: ByteBufferAllocator())
        case .many(let checks):
            var position = 0  // the matched checks' decisions come in descriptor order
            let statuses = checks.map { check -> EnvoyWire.Status in
                guard let check else { return EnvoyWire.Status(code: .ok) }
                defer { position += 1 }
                return Self.decision(verdict, at: position).map { Self.status($0, rule: check.rule) } ?? EnvoyWire.Status(code: .ok)
            }
            return EnvoyWire.framedResponse(overall: overall, statuses: statuses, allocator: ByteBufferAllocator())
        }
    }

    /// Whether the request is allowed: nothing matched, or the decision allows.
    private static func allowed(_ verdict: Verdict?) -> Bool {
        switch verdict {
        case nil: true
        case .one(let one): one.allowed
        case .batch(let batch): batch.allowed
        }
    }

    /// The decision of the `position`th matched check.
    private static func decision(_ verdict: Verdict?, at position: Int) -> Decision? {
        switch verdict {
        case nil: nil
        case .one(let one): position == 0 ? one : nil
        case .batch(let batch): position < batch.decisions.count ? batch.decisions[position] : nil
        }
    }

    static func status(_ decision: Decision, rule: String) -> EnvoyWire.Status {
        let second: Int64 = 1_000_000_000
        return EnvoyWire.Status(
            code: decision.allowed ? .ok : .overLimit,
            limit: EnvoyWire.Limit(
                name: rule, requestsPerUnit: UInt32(clamping: decision.limit), unit: unit(decision.period),
                remaining: UInt32(clamping: decision.remaining), resetSeconds: decision.resetAfter / second,
                resetNanos: Int32(decision.resetAfter % second)))
    }

    /// The limit's unit in Envoy's terms when the period is exactly one unit; otherwise UNKNOWN
    /// (0), with the limit per period (the name still says which rule).
    static func unit(_ period: Nanoseconds) -> UInt64 {
        let second: Int64 = 1_000_000_000
        switch period {
        case second: return 1
        case 60 * second: return 2
        case 3600 * second: return 3
        case 86_400 * second: return 4
        case 7 * 86_400 * second: return 7
        default: return 0
        }
    }
}
