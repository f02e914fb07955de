import Foundation
import RateLimitConfig
import RateLimitCore
import Testing

private let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")
private let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

private func fixtureNames() -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: fixtures.path)) ?? []).filter { $0.hasSuffix(".yaml") }.sorted()
}

@Suite struct ConfigLoaderTests {
    @Test func thereAreBadFixtures() {
        #expect(fixtureNames().count >= 20)
    }

    /// Each fixture's first line says `# expect: TEXT`; the error must contain TEXT.
    @Test(arguments: fixtureNames())
    func badFixtureFailsNamingTheField(name: String) throws {
        let text = try String(contentsOf: fixtures.appendingPathComponent(name), encoding: .utf8)
        let firstLine = text.split(separator: "\n", maxSplits: 1).first.map(String.init) ?? ""
        let expected = try #require(firstLine.split(separator: "# expect: ", maxSplits: 1).last.map(String.init))
        #expect(throws: ConfigError.self) { try ConfigLoader.parse(yaml: text) }
        do {
            _ = try ConfigLoader.parse(yaml: text)
        } catch {
            #expect(error.description.contains(expected), "\(name): \(error.description)")
        }
    }

    @Test func exampleRulesAreValidAndShowEveryFeature() throws {
        let text = try String(contentsOf: repoRoot.appendingPathComponent("examples/rules.yaml"), encoding: .utf8)
        let config = try ConfigLoader.parse(yaml: text)
        #expect(config.backend == .memory)
        let rules = config.rules.rules
        #expect(Set(rules.map(\.limits.algorithm)) == Set(Algorithm.allCases))
        #expect(rules.contains { $0.shadow })
        let api = try #require(config.rules["default"])
        #expect(api.limits.burst == 20)
        #expect(api.overrides["internal-probe"] == .unlimited)
        guard case .limited(let importer) = api.overrides["batch-importer"] else {
            Issue.record("batch-importer override missing")
            return
        }
        #expect(importer.limit == 1000 && importer.burst == 200)
        #expect(config.rules["search-trial"]?.limits.period == 90_000_000_000)
        #expect(config.rules.descriptors.match(domain: "edge", entries: [("remote_address", "10.0.0.1")]) == .rule("default", key: "10.0.0.1"))
        #expect(config.rules.descriptors.match(domain: "edge", entries: [("path", "/login"), ("user", "ann")]) == .rule("login", key: "ann"))
    }

    @Test func embeddedDefaultsParse() throws {
        let config = try EmbeddedDefaults.configuration()
        #expect(config.rules.rules.map(\.name) == ["default", "login"])
    }

    @Test func redisTopologiesParse() throws {
        let config = try ConfigLoader.parse(yaml: """
            backend:
              type: redis
              redis:
                tls: { ca_file: /ca.pem, cert_file: /c.pem, key_file: /k.pem, server_name: redis.internal }
                cluster: { addresses: ["10.0.0.1:7000", "[::1]:7001"] }
            rules: [{ name: api, algorithm: token_bucket, limit: 10, period: 1m }]
            """)
        let tls = RedisTLSSettings(caFile: "/ca.pem", certFile: "/c.pem", keyFile: "/k.pem", serverName: "redis.internal")
        let cluster = RedisClusterSettings(addresses: [HostPort(host: "10.0.0.1", port: 7000), HostPort(host: "::1", port: 7001)])
        #expect(config.backend == .redis(RedisSettings(url: "redis://10.0.0.1:7000", tls: tls, cluster: cluster)))
        let sentinel = try ConfigLoader.parse(yaml: """
            backend:
              type: redis
              redis: { url: "rediss://:pw@x/2", sentinel: { master: main, addresses: ["s1:26379"], password_file: /pw } }
            rules: [{ name: api, algorithm: token_bucket, limit: 10, period: 1m }]
            """)
        let expected = RedisSentinelSettings(master: "main", addresses: [HostPort(host: "s1", port: 26379)], passwordFile: "/pw")
        #expect(sentinel.backend == .redis(RedisSettings(url: "rediss://:pw@x/2", sentinel: expected)))
    }

    @Test func redisBackendDefaults() throws {
        let config = try ConfigLoader.parse(yaml: """
            backend: { type: redis, redis: { url: "unix:///tmp/redis.sock" } }
            rules: [ { name: a, algorithm: fixed_window, limit: 1, period: 1s } ]
            """)
        #expect(config.backend == .redis(RedisSettings(url: "unix:///tmp/redis.sock", timeoutMilliseconds: 20, onFailure: .local)))
    }

    @Test func overrideInheritsUnsetFields() throws {
        let config = try ConfigLoader.parse(yaml: """
            rules:
              - name: a
                algorithm: token_bucket
                limit: 10
                period: 1m
                burst: 4
                overrides:
                  - { key: slow, period: 1h }
                  - { key: big, limit: 100 }
            """)
        let rule = try #require(config.rules["a"])
        #expect(rule.overrides["slow"] == .limited(try Limits(algorithm: .tokenBucket, limit: 10, period: 3_600_000_000_000, burst: 4)))
        #expect(rule.overrides["big"] == .limited(try Limits(algorithm: .tokenBucket, limit: 100, period: 60_000_000_000)))
    }

    @Test(arguments: [
        ("500ms", Int64(500_000_000)), ("1s", 1_000_000_000), ("1m", 60_000_000_000),
        ("1h", 3_600_000_000_000), ("1d", 86_400_000_000_000), ("1m30s", 90_000_000_000),
    ])
    func durations(text: String, ns: Int64) {
        #expect(DurationParser.parse(text) == ns)
        #expect(DurationParser.parse(DurationParser.format(ns)) == ns)
    }

    @Test(arguments: ["", "10", "1x", "s", "-1s", "1.5s", "1 s", "99999999999999d"])
    func badDurations(text: String) {
        #expect(DurationParser.parse(text) == nil)
    }
}
