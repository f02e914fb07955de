import GRPCCore
import RateLimitCore
import RateLimitGRPC
import Testing

@Suite struct SluiceServiceTests {
    @Test func checkLimitAllowsThenDenies() async throws {
        try await withGRPCSluice { client, _, _ in
            let api = Sluice_V1_RateLimiter.Client(wrapping: client)
            let first = try await api.checkLimit(checkRequest("per-ip", "10.0.0.1")).decision
            #expect(first.allowed && first.remaining == 1 && first.limit == 2 && first.periodNs == 60_000_000_000)
            let second = try await api.checkLimit(checkRequest("per-ip", "10.0.0.1")).decision
            #expect(second.allowed && second.remaining == 0)
            let third = try await api.checkLimit(checkRequest("per-ip", "10.0.0.1")).decision
            #expect(!third.allowed)
            // One token refills every 30 s.
            #expect(third.retryAfterNs == 30_000_000_000)
            #expect(third.resetAfterNs == 60_000_000_000)
        }
    }

    @Test func costZeroPeeksAndCostIsHonoured() async throws {
        try await withGRPCSluice { client, _, _ in
            let api = Sluice_V1_RateLimiter.Client(wrapping: client)
            let peek = try await api.checkLimit(checkRequest("per-ip", "k", cost: 0)).decision
            #expect(peek.allowed && peek.remaining == 2)
            let two = try await api.checkLimit(checkRequest("per-ip", "k", cost: 2)).decision
            #expect(two.allowed && two.remaining == 0)
        }
    }

    @Test func callerErrorsAreStatuses() async throws {
        try await withGRPCSluice { client, _, _ in
            let api = Sluice_V1_RateLimiter.Client(wrapping: client)
            await #expect { _ = try await api.checkLimit(checkRequest("nope", "k")) } throws: {
                ($0 as? RPCError)?.code == .notFound && ($0 as? RPCError)?.message.contains("nope") == true
            }
            await #expect { _ = try await api.checkLimit(checkRequest("per-ip", "")) } throws: {
                ($0 as? RPCError)?.code == .invalidArgument
            }
            await #expect { _ = try await api.checkLimit(checkRequest("per-ip", "k", cost: 3)) } throws: {
                ($0 as? RPCError)?.code == .invalidArgument && ($0 as? RPCError)?.message.contains("exceeds") == true
            }
            await #expect { _ = try await api.checkBatch(Sluice_V1_CheckBatchRequest()) } throws: {
                ($0 as? RPCError)?.code == .invalidArgument
            }
        }
    }

    @Test func deniedBatchConsumesNothing() async throws {
        try await withGRPCSluice { client, _, _ in
            let api = Sluice_V1_RateLimiter.Client(wrapping: client)
            var batch = Sluice_V1_CheckBatchRequest()
            batch.checks = [checkRequest("per-ip", "a"), checkRequest("login", "u", cost: 2)]
            await #expect(throws: RPCError.self) { _ = try await api.checkBatch(batch) }  // cost 2 > limit 1
            batch.checks = [checkRequest("per-ip", "a"), checkRequest("login", "u")]
            let ok = try await api.checkBatch(batch)
            #expect(ok.allowed && ok.decisions.count == 2)
            let denied = try await api.checkBatch(batch)
            #expect(!denied.allowed)
            #expect(denied.decisions[0].allowed && !denied.decisions[1].allowed)
            // The denied batch took nothing from per-ip: one of two is still left.
            let status = try await api.getStatus(statusRequest("per-ip", "a")).decision
            #expect(status.remaining == 1)
        }
    }

    @Test func getStatusConsumesNothing() async throws {
        try await withGRPCSluice { client, _, clock in
            let api = Sluice_V1_RateLimiter.Client(wrapping: client)
            _ = try await api.checkLimit(checkRequest("per-ip", "s"))
            for _ in 0..<3 {
                let status = try await api.getStatus(statusRequest("per-ip", "s")).decision
                #expect(status.allowed && status.remaining == 1)
            }
            clock.advance(by: .seconds(30))
            #expect(try await api.getStatus(statusRequest("per-ip", "s")).decision.remaining == 2)
        }
    }

    private func statusRequest(_ rule: String, _ key: String) -> Sluice_V1_GetStatusRequest {
        var request = Sluice_V1_GetStatusRequest()
        request.rule = rule
        request.key = key
        return request
    }
}
