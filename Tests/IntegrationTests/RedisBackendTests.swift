import Foundation
import RateLimitTestSupport
import Testing

/// `sluice serve` with `backend.type: redis` on a real redis-server, over the real socket.
@Suite(.serialized, .enabled(if: RedisServerProcess.executable != nil || RedisServerProcess.toolsRequired))
struct RedisBackendTests {
    /// - Parameter timeoutMilliseconds: short where a test is about the timeout; long where it
    ///   is about sharing state, so a busy test machine cannot turn an answer into a 503.
    static func config(_ redis: RedisServerProcess, onFailure: String, timeoutMilliseconds: Int = 100) -> String {
        """
        backend:
          type: redis
          redis: { url: "\(redis.url)", timeout_ms: \(timeoutMilliseconds), on_failure: \(onFailure) }
        rules:
          - { name: login, algorithm: sliding_window, limit: 3, period: 1h }
          - { name: api, algorithm: token_bucket, limit: 100, period: 1s }
        """
    }

    /// On one Redis, on a three-master Cluster (where the batch below spans two slots), and on
    /// a master found through three sentinels.
    @Test(arguments: ["single", "cluster", "sentinel"])
    func twoSidecarsShareOneLimitThroughRedis(topology: String) async throws {
        if topology != "single", RedisClusterProcess.cli == nil, !RedisServerProcess.toolsRequired { return }
        let cluster = topology == "cluster" ? try RedisClusterProcess() : nil
        let sentinels = topology == "sentinel" ? try RedisSentinelGroup() : nil
        let redis = try cluster?.nodes[0] ?? sentinels?.servers[0] ?? RedisServerProcess()
        defer { cluster?.stop() ?? sentinels?.stop() ?? redis.stop() }
        func quoted(_ addresses: [String]) -> String { addresses.map { "\"\($0)\"" }.joined(separator: ", ") }
        let url = "url: \"\(redis.url)\""
        var config = Self.config(redis, onFailure: "deny", timeoutMilliseconds: 2_000)
        if let cluster { config = config.replacingOccurrences(of: url, with: "cluster: { addresses: [\(quoted(cluster.addresses))] }") }
        if let sentinels {
            let section = "sentinel: { master: \(RedisSentinelGroup.masterName), addresses: [\(quoted(sentinels.addresses))] }"
            config = config.replacingOccurrences(of: url, with: section)
        }
        try await withTestApp(config: config) { a throws in
            try await withTestApp(config: config) { b throws in
                var statuses: [Int] = []
                for i in 0..<6 {
                    statuses.append(try (i % 2 == 0 ? a : b).api("POST", "/v1/check", body: #"{"rule":"login","key":"alice"}"#).status)
                }
                #expect(statuses == [200, 200, 200, 429, 429, 429])
                let denied = try b.api("POST", "/v1/check", body: #"{"rule":"login","key":"alice"}"#)
                #expect(denied.header("Retry-After") != nil)
                #expect(try a.api("GET", "/v1/status?rule=login&key=alice&cost=1").status == 429)
                #expect(try a.api("POST", "/v1/reset", body: #"{"rule":"login","key":"alice"}"#).status == 200)
                // B may keep denying from its over-limit cache for up to a second; A asks Redis.
                #expect(try a.api("POST", "/v1/check", body: #"{"rule":"login","key":"alice"}"#).status == 200, "the reset state is in Redis")
                let batch = try a.api("POST", "/v1/check", body: #"{"checks":[{"rule":"api","key":"k"},{"rule":"login","key":"bob"}]}"#)
                #expect(batch.status == 200)
                #expect(try a.metric(#"rate_limiter_backend_up{backend="redis"}"#) == 1)
                #expect(try a.metric(#"rate_limiter_redis_operations_total{operation="evalsha",status="ok"}"#).map { $0 >= 3 } == true)
                // A: two allowed before the reset, one after, one in the batch.
                #expect(try a.metric(#"rate_limiter_request_total{rule="login",allowed="true"}"#) == 4)
                #expect(try b.metric("rate_limiter_redis_cached_denials_total") == 2, "B asked Redis once, then denied from its cache")
                #expect(try a.ops("GET", "/readyz").status == 200)
            }
        }
    }

    @Test func reportsAreSharedThroughRedisAndAnIDCountsOnceAcrossSidecars() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        let config = Self.config(redis, onFailure: "deny", timeoutMilliseconds: 2_000)
        try await withTestApp(config: config) { a throws in
            try await withTestApp(config: config) { b throws in
                let first = try a.api("POST", "/v1/report", body: #"{"rule":"login","key":"alice","cost":5,"id":"job-1"}"#)
                #expect(first.status == 200 && first.text.contains(#""duplicate":false"#) && first.text.contains(#""debt":2"#), "\(first.text)")
                #expect(try b.api("POST", "/v1/check", body: #"{"rule":"login","key":"alice"}"#).status == 429)
                let retry = try b.api("POST", "/v1/report", body: #"{"rule":"login","key":"alice","cost":5,"id":"job-1"}"#)
                #expect(retry.text.contains(#""duplicate":true"#) && retry.text.contains(#""debt":2"#), "\(retry.text)")
                let refund = try b.api("POST", "/v1/report", body: #"{"reports":[{"rule":"login","key":"alice","cost":-9}]}"#)
                #expect(refund.text.contains(#""remaining":3,"debt":0"#), "\(refund.text)")
                #expect(try a.api("POST", "/v1/check", body: #"{"rule":"login","key":"alice"}"#).status == 200)
                #expect(try a.metric(#"rate_limiter_reported_total{rule="login"}"#) == 1)
                #expect(try b.metric(#"rate_limiter_reported_total{rule="login"}"#) == 1, "the duplicate is not counted")
            }
        }
    }

    @Test func redisDownWithLocalPolicyKeepsAnsweringAndRecovers() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        try await withTestApp(config: Self.config(redis, onFailure: "local")) { sluice throws in
            #expect(try sluice.api("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#).status == 200)
            redis.kill()
            let client = try sluice.client()
            for _ in 0..<5 { #expect(try client.request("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#).status == 200) }
            #expect(try sluice.metric(#"rate_limiter_backend_fallback_total{mode="local"}"#) == 5)
            #expect(try sluice.metric(#"rate_limiter_backend_up{backend="redis"}"#) == 0)
            #expect(try sluice.ops("GET", "/readyz").status == 200, "with on_failure: local the sidecar still serves")
            try redis.start()
            #expect(await eventually { (try? sluice.metric(#"rate_limiter_backend_up{backend="redis"}"#)) == 1 })
            #expect(try sluice.api("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#).status == 200)
        }
    }

    @Test func redisDownWithDenyPolicyIs503AndNotReady() async throws {
        let redis = try RedisServerProcess()
        defer { redis.stop() }
        try await withTestApp(config: Self.config(redis, onFailure: "deny")) { sluice throws in
            redis.kill()
            let answer = try sluice.api("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#)
            #expect(answer.status == 503)
            #expect(answer.text.contains("unavailable"))
            #expect(await eventually(timeout: .seconds(5)) { (try? sluice.ops("GET", "/readyz").status) == 503 })
        }
    }

    @Test func passwordAuthenticatesAndNeverReachesTheLog() async throws {
        let secret = "s3cret-\(UInt32.random(in: 0...UInt32.max))"
        let redis = try RedisServerProcess(arguments: ["--requirepass", secret])
        defer { redis.stop() }
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("password", secret + "\n")
        let url = "redis://default:\(secret)@127.0.0.1:\(redis.port)/0"
        let deny = Self.config(redis, onFailure: "deny")
        var logs: [String] = []
        try await withTestApp(config: deny.replacingOccurrences(of: redis.url, with: url), logLevel: .debug) { viaURL throws in
            #expect(try viaURL.api("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#).status == 200, "AUTH user and password from the URL")
            #expect(viaURL.log.contains("redis://default@127.0.0.1"), "the URL is logged without its password")
            logs.append(viaURL.log)
        }
        let viaFileConfig = deny.replacingOccurrences(of: "on_failure: deny }", with: "on_failure: deny, password_file: \"\(dir.file("password"))\" }")
        try await withTestApp(config: viaFileConfig) { viaFile throws in
            #expect(try viaFile.api("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#).status == 200, "AUTH via password_file")
            logs.append(viaFile.log)
        }
        // A wrong password: Redis is unusable, so under on_failure: deny the sidecar is not ready.
        let wrongConfig = deny.replacingOccurrences(of: redis.url, with: "redis://:wrong-\(secret)@127.0.0.1:\(redis.port)")
        try await withTestApp(config: wrongConfig, waitUntilReady: false) { wrong throws in
            #expect(await eventually { (try? wrong.ops("GET", "/readyz").status) == 503 })
            let refused = try wrong.api("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#)
            #expect(refused.status == 503)
            #expect(!refused.text.contains(secret))
            logs.append(wrong.log)
        }
        for log in logs { #expect(!log.contains(secret), "a log line carries the password:\n\(log)") }
    }

    /// Redis busy for a second (DEBUG SLEEP) under concurrent load: every request is answered
    /// within the timeout by the policy, and Redis is used again afterwards.
    @Test func slowRedisUnderLoadNeverHoldsARequest() async throws {
        let redis = try RedisServerProcess(arguments: ["--enable-debug-command", "yes"])
        defer { redis.stop() }
        try await withTestApp(config: Self.config(redis, onFailure: "allow")) { sluice throws in
            #expect(try sluice.api("POST", "/v1/check", body: #"{"rule":"api","key":"k"}"#).status == 200)
            let sleeper = Thread { _ = try? redis.command(["DEBUG", "SLEEP", "1.5"]) }
            sleeper.start()
            // Wait until the sleep has begun: Redis answers nobody (not even a new PING) until it ends.
            #expect(poll(timeout: .seconds(1)) { (try? redis.command(["PING"], replyTimeoutMilliseconds: 50)) != "+PONG" })
            let clients = try (0..<4).map { _ in try sluice.client() }
            for round in 0..<10 {
                for client in clients {
                    let answer = try client.request("POST", "/v1/check", body: #"{"rule":"api","key":"k\#(round)"}"#)
                    #expect(answer.status == 200)
                }
            }
            // timeout_ms is 100: each of the 40 was answered by the policy (five timeouts open
            // the breaker, which answers the rest at once), none by the sleeping Redis.
            #expect(try sluice.metric(#"rate_limiter_backend_fallback_total{mode="allow"}"#) == 40)
            #expect(await eventually {
                let before = (try? sluice.metric(#"rate_limiter_redis_operations_total{operation="evalsha",status="ok"}"#)) ?? 0
                _ = try? sluice.api("POST", "/v1/check", body: #"{"rule":"api","key":"after"}"#)
                return ((try? sluice.metric(#"rate_limiter_redis_operations_total{operation="evalsha",status="ok"}"#)) ?? 0) > before
            }, "Redis is used again once it answers")
        }
    }

    @Test func badRedisSettingsAreAStartError() async throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("tls.yaml", """
            backend:
              type: redis
              redis: { url: "rediss://r:6379", tls: { ca_file: "\(dir.file("missing.pem"))" } }
            rules:
              - { name: a, algorithm: fixed_window, limit: 1, period: 1s }
            """)
        let error = await #expect(throws: TestAppFailure.self) { try await withTestApp(directory: dir, configure: { $0.configPath = dir.file("tls.yaml") }) { _ in } }
        #expect(error?.description.contains("backend.redis.tls.ca_file") == true, "\(String(describing: error))")
    }

    /// With `on_failure: deny` Redis is required: a server whose certificate the CA does not
    /// vouch for is a start error saying so, not a sidecar that waits unready forever.
    @Test(.enabled(if: TestCertificates.executable != nil || RedisServerProcess.toolsRequired))
    func untrustedRedisCertificateIsAStartErrorWhenRequired() async throws {
        let certificates = try TestCertificates()
        defer { certificates.remove() }
        let redis = try RedisServerProcess(tls: certificates)
        defer { redis.stop() }
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        let tls = "{ ca_file: \"\(certificates.wrongCAFile)\", cert_file: \"\(certificates.clientCert)\", key_file: \"\(certificates.clientKey)\" }"
        try dir.write("tls.yaml", """
            backend:
              type: redis
              redis: { url: "rediss://127.0.0.1:\(redis.tlsPort ?? 0)", on_failure: deny, tls: \(tls) }
            rules:
              - { name: a, algorithm: fixed_window, limit: 1, period: 1s }
            """)
        let error = await #expect(throws: TestAppFailure.self) { try await withTestApp(directory: dir, configure: { $0.configPath = dir.file("tls.yaml") }) { _ in } }
        #expect(error?.description.contains("backend.redis.tls: the TLS handshake with Redis failed") == true, "\(String(describing: error))")
    }
}
