import NIOCore
import RateLimitCore
@testable import RateLimitRedis
import RateLimitTestSupport
import Testing

let tlsAvailable = redisAvailable && (TestCertificates.executable != nil || RedisServerProcess.toolsRequired)

/// The store over TLS to a real redis-server that requires client certificates.
@Suite(.enabled(if: tlsAvailable), .serialized) struct RedisTLSTests {
    static let hour = 3600 * second

    static func endpoint(_ redis: RedisServerProcess, _ certificates: TestCertificates, ca: String) throws -> RedisEndpoint {
        var endpoint = try RedisEndpoint(url: "rediss://127.0.0.1:\(redis.tlsPort ?? 0)/0")
        endpoint.tls = RedisTLS(caFile: ca, certFile: certificates.clientCert, keyFile: certificates.clientKey)
        return endpoint
    }

    @Test func checksWorkOverTLS() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let redis = try RedisServerProcess(tls: certificates)
        defer { redis.stop() }
        let r = try RedisLimiter(
            redis: redis, rules: [rule("api", .tokenBucket, 3, per: Self.hour)], clock: ManualClock(now: 0),
            endpoint: Self.endpoint(redis, certificates, ca: certificates.caFile))
        let verdicts = try await (0..<4).asyncMap { _ in try await r.check("api", "k").allowed }
        #expect(verdicts == [true, true, true, false])
        #expect(try redis.command(["DBSIZE"]) == ":1", "the state is in Redis, written over TLS")
        #expect(r.observer.snapshot.fallbacks.isEmpty)
        #expect(await r.store.firstContact() == nil)
        await r.shutdown()
    }

    /// Without `on_failure: deny`, an untrusted server certificate is an outage like any other:
    /// counted, and answered by the policy.
    @Test func untrustedCertificateIsACountedBackendFailure() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let redis = try RedisServerProcess(tls: certificates)
        defer { redis.stop() }
        let r = try RedisLimiter(
            redis: redis, rules: [rule("api", .tokenBucket, 3, per: Self.hour)], clock: ManualClock(now: 0), policy: .local,
            endpoint: Self.endpoint(redis, certificates, ca: certificates.wrongCAFile))
        #expect(try await r.check("api", "k").remaining == 2, "answered by the local fallback")
        let counts = r.observer.snapshot
        #expect(counts.fallbacks[.local] == 1)
        #expect(counts.operations.keys.contains { $0.hasSuffix("/unavailable") })
        #expect(try redis.command(["DBSIZE"]) == ":0")
        guard case .tls? = await r.store.firstContact() else {
            Issue.record("the handshake failure is reported as a TLS failure")
            return
        }
        await r.shutdown()
    }

    @Test func unusableFilesNameTheirField() throws {
        #expect(throws: RedisTLS.Problem(field: "ca_file", message: "cannot use /nonexistent.pem: failedToLoadCertificate")) {
            _ = try RedisTLS(caFile: "/nonexistent.pem").makeContext()
        }
        #expect(throws: RedisTLS.Problem(field: "key_file", message: "is required with cert_file")) {
            _ = try RedisTLS(certFile: "/c.pem").makeContext()
        }
    }

    @Test func redissMeansTLSWithTheSystemTrustStore() throws {
        let endpoint = try RedisEndpoint(url: "rediss://:secret@redis.example:6380/1")
        #expect(endpoint.tls == RedisTLS())
        #expect(endpoint.description == "rediss://***@redis.example:6380/1")
        #expect(try RedisEndpoint(url: "redis://r").tls == nil)
        #expect(RedisTLS().hostname(for: "127.0.0.1") == nil)
    }
}

extension Sequence where Element: Sendable {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var out: [T] = []
        for element in self { out.append(try await transform(element)) }
        return out
    }
}
