import GRPCCore
import RateLimitCore
import RateLimitGRPC
import Testing

@Suite struct EnvoyServiceTests {
    typealias Response = Envoy_Service_Ratelimit_V3_RateLimitResponse

    @Test func allowedThenOverLimitWithStatus() async throws {
        try await withGRPCSluice { client, _, _ in
            let rls = Envoy_Service_Ratelimit_V3_RateLimitService.Client(wrapping: client)
            let request = rlsRequest(domain: "edge", descriptor(("remote_address", "10.1.1.1")))
            let first = try await rls.shouldRateLimit(request)
            #expect(first.overallCode == .ok)
            #expect(first.statuses.count == 1)
            #expect(first.statuses[0].code == .ok && first.statuses[0].limitRemaining == 1)
            #expect(first.statuses[0].currentLimit.name == "per-ip")
            #expect(first.statuses[0].currentLimit.requestsPerUnit == 2 && first.statuses[0].currentLimit.unit == .minute)
            #expect(first.statuses[0].durationUntilReset.seconds == 30)
            _ = try await rls.shouldRateLimit(request)
            let third = try await rls.shouldRateLimit(request)
            #expect(third.overallCode == .overLimit && third.statuses[0].code == .overLimit)
            #expect(third.statuses[0].limitRemaining == 0)
            // Another address has its own bucket: the value is the key.
            let other = try await rls.shouldRateLimit(rlsRequest(domain: "edge", descriptor(("remote_address", "10.1.1.2"))))
            #expect(other.overallCode == .ok)
        }
    }

    @Test func unknownDomainAndUnmatchedDescriptorsAreOKWithoutLimitButEmptyIsAnError() async throws {
        try await withGRPCSluice { client, _, _ in
            let rls = Envoy_Service_Ratelimit_V3_RateLimitService.Client(wrapping: client)
            let unknown = try await rls.shouldRateLimit(rlsRequest(domain: "nowhere", descriptor(("remote_address", "1.2.3.4"))))
            #expect(unknown.overallCode == .ok)
            #expect(unknown.statuses.count == 1 && unknown.statuses[0].code == .ok && !unknown.statuses[0].hasCurrentLimit)
            let noRule = try await rls.shouldRateLimit(rlsRequest(domain: "edge", descriptor(("header", "x"))))
            #expect(noRule.overallCode == .ok && !noRule.statuses[0].hasCurrentLimit)
            await #expect { _ = try await rls.shouldRateLimit(rlsRequest(domain: "edge")) } throws: {
                ($0 as? RPCError)?.code == .invalidArgument && ($0 as? RPCError)?.message.contains("descriptors") == true
            }
            await #expect { _ = try await rls.shouldRateLimit(rlsRequest(domain: "", descriptor(("k", "v")))) } throws: {
                ($0 as? RPCError)?.code == .invalidArgument
            }
        }
    }

    @Test func severalDescriptorsAreDecidedTogether() async throws {
        try await withGRPCSluice { client, limiter, _ in
            let rls = Envoy_Service_Ratelimit_V3_RateLimitService.Client(wrapping: client)
            let login = descriptor(("path", "/login"), ("user", "ann"))
            let ip = descriptor(("remote_address", "10.9.9.9"))
            let unmatched = descriptor(("header", "x"))
            let first = try await rls.shouldRateLimit(rlsRequest(domain: "edge", ip, login, unmatched))
            #expect(first.overallCode == .ok)
            #expect(first.statuses.map(\.currentLimit.name) == ["per-ip", "login", ""])
            // login (1 per hour) is now over: the whole request is, and per-ip consumed nothing.
            let second = try await rls.shouldRateLimit(rlsRequest(domain: "edge", ip, login, unmatched))
            #expect(second.overallCode == .overLimit)
            #expect(second.statuses.map(\.code) == [.ok, .overLimit, .ok])
            #expect(try limiter.status(CheckRequest(rule: "per-ip", key: "10.9.9.9", cost: 0)).remaining == 1)
            // The OK descriptor reports its true remaining: 1, as nothing was consumed (issue 15;
            // it said 0, the remaining after a hit that never happened).
            #expect(second.statuses[0].limitRemaining == 1)
            // The most specific rule wins: /login → login; another path → any-path, keyed by both values.
            let other = try await rls.shouldRateLimit(rlsRequest(domain: "edge", descriptor(("path", "/home"), ("user", "ann"))))
            #expect(other.statuses[0].currentLimit.name == "any-path")
            #expect(try limiter.status(CheckRequest(rule: "any-path", key: "/home|ann", cost: 0)).remaining == 99)
        }
    }

    @Test func shadowRulesAnswerOK() async throws {
        try await withGRPCSluice { client, _, _ in
            let rls = Envoy_Service_Ratelimit_V3_RateLimitService.Client(wrapping: client)
            let request = rlsRequest(domain: "trial", descriptor(("plan", "free")))
            for _ in 0..<3 {
                let response = try await rls.shouldRateLimit(request)
                #expect(response.overallCode == .ok && response.statuses[0].code == .ok)
            }
        }
    }

    @Test func hitsAddendCountsAndDescriptorHitsWin() async throws {
        try await withGRPCSluice { client, _, _ in
            let rls = Envoy_Service_Ratelimit_V3_RateLimitService.Client(wrapping: client)
            let two = try await rls.shouldRateLimit(rlsRequest(domain: "edge", descriptor(("remote_address", "h")), hits: 2))
            #expect(two.overallCode == .ok && two.statuses[0].limitRemaining == 0)
            let peek = try await rls.shouldRateLimit(rlsRequest(domain: "edge", descriptor(("remote_address", "h"), hits: 0), hits: 5))
            #expect(peek.overallCode == .ok && peek.statuses[0].limitRemaining == 0)
            await #expect {
                _ = try await rls.shouldRateLimit(rlsRequest(domain: "edge", descriptor(("remote_address", "h2")), hits: 3))
            } throws: { ($0 as? RPCError)?.code == .invalidArgument }
        }
    }
}
