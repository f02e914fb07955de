import NIOCore
import NIOEmbedded
import RateLimitConfig
import RateLimitCore
@testable import RateLimitGRPC
import Testing

/// Concurrency rules over sluice.v1 (issue 15): its messages carry no lease id, so a check that
/// would acquire a lease is refused naming the rule (the caller could never release it);
/// `GetStatus` peeks at the leases held.
@Suite struct GRPCLeaseTests {
    static func check(_ rule: String, cost: UInt64? = nil) -> ByteBuffer {
        var message = ByteBuffer()
        message.writeStringField(1, rule)
        message.writeStringField(2, "k")
        if let cost { message.writeVarintField(3, cost) }
        return message
    }

    @Test func aCheckOnAConcurrencyRuleIsRefusedAndStatusPeeks() throws {
        let rules = try ConfigLoader.parse(yaml: """
            rules:
              - { name: jobs, algorithm: concurrency, limit: 3 }
              - { name: api, algorithm: fixed_window, limit: 2, period: 1m }
            """).rules
        let limiter = RateLimiter(rules: rules, clock: ManualClock(now: 0))
        let service = GRPCService(pipeline: DecisionPipeline(limiter: limiter))
        let loop = EmbeddedEventLoop()
        for (method, message) in [(GRPCMethod.checkLimit, Self.check("jobs")), (.checkBatch, Self.batch([Self.check("api"), Self.check("jobs")]))] {
            guard case .now(.failure(let status)) = service.answer(method, message, on: loop) else {
                Issue.record("\(method): a lease cannot be carried, so it is refused")
                continue
            }
            #expect(status.code == .invalidArgument)
            #expect(status.message == #"rule "jobs" is a concurrency rule: sluice.v1 cannot carry its lease; acquire and release it over the HTTP API"#)
        }
        _ = try limiter.check(CheckRequest(rule: "jobs", key: "k"))
        guard case .now(.message) = service.answer(.getStatus, Self.check("jobs"), on: loop) else {
            Issue.record("GetStatus peeks")
            return
        }
        #expect(try limiter.status(CheckRequest(rule: "api", key: "k", cost: 0)).remaining == 2, "the refused batch consumed nothing")
    }

    /// The refusal follows the rules in force: a reload that makes `jobs` a concurrency rule
    /// is refused at once, and one that makes it a window again is answered.
    @Test func aReloadedConcurrencyRuleIsRefusedAndItsRemovalAnswered() throws {
        let window = try ConfigLoader.parse(yaml: "rules: [{ name: jobs, algorithm: fixed_window, limit: 3, period: 1m }]").rules
        let concurrency = try ConfigLoader.parse(yaml: "rules: [{ name: jobs, algorithm: concurrency, limit: 3 }]").rules
        let limiter = RateLimiter(rules: window, clock: ManualClock(now: 0))
        let service = GRPCService(pipeline: DecisionPipeline(limiter: limiter))
        let loop = EmbeddedEventLoop()
        func refused() -> Bool {
            if case .now(.failure(let status)) = service.answer(.checkLimit, Self.check("jobs"), on: loop) { return status.code == .invalidArgument }
            return false
        }
        #expect(!limiter.hasConcurrencyRules && !refused())
        limiter.replaceRules(concurrency)
        #expect(limiter.hasConcurrencyRules && refused())
        limiter.replaceRules(window)
        #expect(!limiter.hasConcurrencyRules && !refused())
    }

    static func batch(_ checks: [ByteBuffer]) -> ByteBuffer {
        var out = ByteBuffer()
        for var check in checks {
            out.writeMessageHeader(1, size: check.readableBytes)
            out.writeBuffer(&check)
        }
        return out
    }
}
