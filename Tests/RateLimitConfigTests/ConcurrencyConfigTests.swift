import RateLimitConfig
import RateLimitCore
import Testing

/// `algorithm: concurrency` in the config (issue 15): `lease_ttl` and its default, overrides.
@Suite struct ConcurrencyConfigTests {
    @Test func leaseTTLDefaultsTo30sAndOverridesInheritIt() throws {
        let config = try ConfigLoader.parse(yaml: """
            rules:
              - name: jobs
                algorithm: concurrency
                limit: 4
                overrides:
                  - { key: big, limit: 16 }
                  - { key: slow, lease_ttl: 5m }
              - name: short
                algorithm: concurrency
                limit: 1
                lease_ttl: 1500ms
            """)
        let jobs = try #require(config.rules["jobs"])
        #expect(jobs.limits == (try Limits(algorithm: .concurrency, limit: 4, period: 30_000_000_000)))
        #expect(jobs.limits.capacity == 1)
        #expect(jobs.overrides["big"] == .limited(try Limits(algorithm: .concurrency, limit: 16, period: 30_000_000_000)))
        #expect(jobs.overrides["slow"] == .limited(try Limits(algorithm: .concurrency, limit: 4, period: 300_000_000_000)))
        #expect(config.rules["short"]?.limits.period == 1_500_000_000)
    }

    @Test func anOverrideRefusesPeriodNamingIt() {
        #expect(throws: ConfigError.self) {
            try ConfigLoader.parse(yaml: """
                rules:
                  - name: jobs
                    algorithm: concurrency
                    limit: 4
                    overrides:
                      - { key: big, period: 1m }
                """)
        }
    }
}
