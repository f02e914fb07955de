import Foundation
import RateLimitHTTP
import RateLimitTestSupport
import Testing

/// Concurrency leases with a real caller process over the Unix socket (issue 15): a caller that
/// holds leases and is killed cannot wedge the key; its leases are free again at `lease_ttl`,
/// exactly, on the app's manual clock.
@Suite(.serialized) struct LeaseProcessTests {
    static let rules = """
        rules:
          - { name: jobs, algorithm: concurrency, limit: 2, lease_ttl: 1s }
        """

    @Test func aKilledCallersLeasesAreFreeAtTheTTL() async throws {
        guard let curl = which("curl") else {
            if RedisServerProcess.toolsRequired { Issue.record("curl is required (SLUICE_REQUIRE_TOOLS=1)") }
            return
        }
        try await withTestApp(config: Self.rules) { sluice throws in
            // The caller: acquires both leases, then hangs holding them (it never releases).
            let out = sluice.directory.file("caller.out")
            let caller = Process()
            caller.executableURL = URL(fileURLWithPath: "/bin/sh")
            caller.arguments = ["-c", """
                for i in 1 2; do
                  "\(curl)" -s --unix-socket "\(sluice.socketPath)" -d '{"rule":"jobs","key":"tenant"}' http://sluice/v1/check >> "\(out)"
                  echo >> "\(out)"
                done
                exec sleep 60
                """]
            try caller.run()
            defer { if caller.isRunning { caller.terminate() } }
            let acquired = await eventually { ((try? String(contentsOfFile: out, encoding: .utf8)) ?? "").components(separatedBy: "\"lease\":\"").count == 3 }
            #expect(acquired, "\((try? String(contentsOfFile: out, encoding: .utf8)) ?? "")")
            #expect(try sluice.metric(#"rate_limiter_leases_active{rule="jobs"}"#) == 2)

            kill(caller.processIdentifier, SIGKILL)
            caller.waitUntilExit()
            let held = try sluice.api("POST", "/v1/check", body: #"{"rule":"jobs","key":"tenant"}"#)
            #expect(held.status == 429, "the caller's death frees nothing by itself: \(held.text)")
            // No time has passed on the manual clock: the first lease is free in exactly lease_ttl.
            #expect(held.text.contains(#""retry_after_ms":1000,"#), "\(held.text)")

            // Both free at the TTL, not a nanosecond before.
            sluice.clock.advance(by: .milliseconds(999))
            #expect(try sluice.api("GET", "/v1/status?rule=jobs&key=tenant").text.contains("\"remaining\":0"))
            sluice.clock.advance(by: .milliseconds(1))
            let status = try sluice.api("GET", "/v1/status?rule=jobs&key=tenant").text
            #expect(status.contains("\"remaining\":2"), "\(status)")
            #expect(try sluice.metric(#"rate_limiter_leases_active{rule="jobs"}"#) == 0)
            let granted = try sluice.api("POST", "/v1/check", body: #"{"rule":"jobs","key":"tenant"}"#).text
            #expect(granted.contains("\"lease\":\"") && granted.contains("\"lease_expires_ms\":1000"), "\(granted)")
            #expect(try sluice.metric(#"rate_limiter_leases_active{rule="jobs"}"#) == 1)
            let id = granted.split(separator: "\"lease\":\"").last.map { String($0.prefix { $0.isNumber }) } ?? ""
            let released = try sluice.api("POST", "/v1/release", body: #"{"rule":"jobs","key":"tenant","lease":"\#(id)"}"#)
            #expect(released.status == 200 && released.text.contains("\"remaining\":2"), "\(released.text)")
            let again = try sluice.api("POST", "/v1/release", body: #"{"rule":"jobs","key":"tenant","lease":"\#(id)"}"#)
            #expect(again.status == 409 && again.text.contains("is not held"), "\(again.text)")
        }
    }
}
