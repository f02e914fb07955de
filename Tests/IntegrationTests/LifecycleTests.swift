import Foundation
import RateLimitHTTP
import RateLimitTestSupport
import SluiceApp
import Synchronization
import Testing

@Suite(.serialized) struct LifecycleTests {
    @Test func sigtermAnswersRequestsInFlightThenExitsCleanly() async throws {
        try await blocking {
            let sluice = try SluiceProcess(config: testRules)
            defer { sluice.stop() }
            let body = #"{"rule":"login","key":"inflight","cost":0}"#
            let head = "POST /v1/check HTTP/1.1\r\nContent-Length: \(body.utf8.count)\r\n\r\n"
            let split = body.index(body.startIndex, offsetBy: 10)
            // Eight requests half-sent when SIGTERM arrives.
            let clients = try (0..<8).map { _ in try sluice.client() }
            for client in clients {
                // One full answer first proves the connection was accepted (a connection still in the
                // listen backlog when the listener closes is reset by the kernel, not by Sluice).
                #expect(try client.request("POST", "/v1/check", body: body).status == 200)
                try client.send(Array((head + body[..<split]).utf8))
            }
            // SIGHUP reloads the unchanged file (so the watcher has nothing to do).
            sluice.signal(SIGHUP)
            #expect(poll { (try? sluice.metric(#"rate_limiter_config_reloads_total{result="success"}"#)) == 1 })
            sluice.signal(SIGTERM)
            // Shutdown has begun once new connections are refused.
            #expect(poll { (try? BlockingHTTPClient(unixSocket: sluice.socketPath)) == nil })
            for client in clients { try client.send(Array(body[split...].utf8)) }
            for client in clients {
                let response = try client.readResponse()
                #expect(response.status == 200)
                #expect(response.header("Connection") == "close")
            }
            #expect(sluice.waitForExit() == 0)
            #expect(!FileManager.default.fileExists(atPath: sluice.socketPath))
        }
    }

    @Test func staleSocketIsReplacedLiveOneIsNot() async throws {
        try await blocking {
            let dir = TemporaryDirectory()
            defer { dir.remove() }
            let path = dir.file("stale.sock")
            // A socket file nobody listens on, as a crashed run leaves behind.
            let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &address.sun_path) { raw in for (i, b) in path.utf8.enumerated() { raw[i] = b } }
            _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            close(fd)
            #expect(FileManager.default.fileExists(atPath: path))

            let first = try SluiceProcess(arguments: ["--socket", path], config: testRules)
            defer { first.stop() }
            #expect(try BlockingHTTPClient(unixSocket: path).request("GET", "/v1/rules").status == 200)

            let second = try runSluice(["serve", "--socket", path, "--metrics-address", "127.0.0.1:\(freeLoopbackPort())"])
            #expect(second.status != 0)
            #expect(second.stderr.contains("another process is listening on \(path)"), "\(second.stderr)")
            #expect(try BlockingHTTPClient(unixSocket: path).request("GET", "/v1/rules").status == 200)
        }
    }

    @Test func startErrorsAreClear() async throws {
        try await blocking {
            let missing = try runSluice(["serve", "--socket", "/nonexistent-dir/s.sock", "--metrics-address", "127.0.0.1:\(freeLoopbackPort())"])
            #expect(missing.status != 0)
            #expect(missing.stderr.contains("socket directory /nonexistent-dir does not exist"), "\(missing.stderr)")

            let dir = TemporaryDirectory()
            defer { dir.remove() }
            try dir.write("bad.yaml", "rules:\n  - name: api\n    algorithm: token_bucket\n    limit: ten\n    period: 1m\n")
            let bad = try runSluice(["serve", "--config", dir.file("bad.yaml"), "--socket", dir.file("s.sock")])
            #expect(bad.status == 1)
            #expect(bad.stderr.contains("rules[0].limit (line 4"), "\(bad.stderr)")
            let threads = try runSluice(["serve", "--threads", "0"])
            #expect(threads.status != 0 && threads.stderr.contains("--threads"))
        }
    }

    @Test func reloadOnFileChangeSighupAndAPI() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            let file = sluice.directory.file("rules.yaml")
            func apiLimit() throws -> String? {
                try sluice.api("GET", "/v1/rules").text.split(separator: "\"name\":\"api\"").last?.split(separator: ",").dropFirst().first.map(String.init)
            }
            #expect(try apiLimit() == "\"limit\":10")
            // The file changes: picked up by the watcher.
            try testRules.replacingOccurrences(of: "limit: 10,", with: "limit: 20,").write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await eventually(timeout: .seconds(30)) { try apiLimit() == "\"limit\":20" })
            #expect(try await eventually(timeout: .seconds(30)) { try sluice.metric(#"rate_limiter_config_reloads_total{result="success"}"#) == 1 })
            // A same-length edit far into the file is noticed too (contents are compared whole).
            let edited = testRules.replacingOccurrences(of: "limit: 10,", with: "limit: 20,")
            try edited.replacingOccurrences(of: "limit: 2\n", with: "limit: 7\n").write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await eventually(timeout: .seconds(30)) { try sluice.api("GET", "/v1/rules/login").text.contains("\"limit\":7,") })
            try edited.write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await eventually(timeout: .seconds(30)) { try sluice.metric(#"rate_limiter_config_reloads_total{result="success"}"#) == 3 })
            // A bad file keeps the old rules and counts a failure.
            try "rules: [ { name: api } ]".write(toFile: file, atomically: true, encoding: .utf8)
            #expect(try await eventually(timeout: .seconds(30)) { try sluice.metric(#"rate_limiter_config_reloads_total{result="failure"}"#) == 1 })
            #expect(try apiLimit() == "\"limit\":20")
            let viaAPI = try sluice.api("POST", "/v1/reload")
            #expect(viaAPI.status == 422 && viaAPI.text.contains("rules[0].algorithm"))
            #expect(sluice.log.contains("configuration reload failed"))
            // SIGHUP and the API reload a good file.
            try testRules.replacingOccurrences(of: "limit: 10,", with: "limit: 30,").write(toFile: file, atomically: true, encoding: .utf8)
            // What SIGHUP runs (the signal itself: sigtermAnswersRequestsInFlightThenExitsCleanly).
            #expect(sluice.app.reloader.reload(reason: "SIGHUP") == .success(4))
            #expect(try apiLimit() == "\"limit\":30")
            let ok = try sluice.api("POST", "/v1/reload")
            #expect(ok.status == 200 && ok.text == #"{"reloaded":true,"rules":4}"#)
        }
    }

    @Test func deletedConfigFileKeepsTheRules() async throws {
        try await withTestApp(config: testRules) { sluice throws in
            try FileManager.default.removeItem(atPath: sluice.directory.file("rules.yaml"))
            let reload = try sluice.api("POST", "/v1/reload")
            #expect(reload.status == 422, "\(reload.text)")
            #expect(try sluice.api("POST", "/v1/check", body: #"{"rule":"login","key":"k"}"#).status == 200, "the old rules stay")
            #expect(try (sluice.metric(#"rate_limiter_config_reloads_total{result="failure"}"#) ?? 0) >= 1)
            try testRules.write(toFile: sluice.directory.file("rules.yaml"), atomically: true, encoding: .utf8)
            #expect(try sluice.api("POST", "/v1/reload").status == 200, "a restored file loads again")
        }
    }

    @Test func embeddedDefaultsWithoutConfig() async throws {
        try await withTestApp { sluice throws in
            #expect(try sluice.api("POST", "/v1/check", body: #"{"rule":"default","key":"k"}"#).status == 200)
            #expect(try sluice.api("POST", "/v1/reload").status == 409)
        }
    }
}

@Suite(.serialized) struct CLITests {
    @Test func checkExitCodes() async throws {
        try await blocking {
            let sluice = try SluiceProcess(config: testRules)
            defer { sluice.stop() }
            let args = ["check", "--socket", sluice.socketPath, "--rule", "login", "--key", "cli"]
            #expect(try runSluice(args).status == 0)
            #expect(try runSluice(args).status == 0)
            let denied = try runSluice(args)
            #expect(denied.status == 1 && denied.stdout.contains("\"allowed\":false"))
            #expect(try runSluice(["check", "--socket", sluice.socketPath, "--rule", "nope", "--key", "k"]).status == 2)
            #expect(try runSluice(["check", "--socket", sluice.directory.file("none.sock"), "--rule", "a", "--key", "k"]).status == 2)
        }
    }

    @Test func validate() async throws {
        try await blocking {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let good = try runSluice(["validate", root.appendingPathComponent("examples/rules.yaml").path])
            #expect(good.status == 0 && good.stdout.contains("valid (6 rules"))
            let fixture = root.appendingPathComponent("Tests/RateLimitConfigTests/Fixtures/unknown-rule-field.yaml").path
            let bad = try runSluice(["validate", fixture])
            #expect(bad.status == 1 && bad.stderr.contains("rules[0].limt (line 6"))
            #expect(try runSluice(["validate", "/nonexistent.yaml"]).status == 1)
        }
    }

    @Test func replayDecidesOnAVirtualClock() async throws {
        try await blocking {
            let dir = TemporaryDirectory()
            defer { dir.remove() }
            try dir.write("rules.yaml", testRules)
            var trace = ""
            for i in 0..<5 { trace += #"{"t_ms": \#(i * 100), "rule": "api", "key": "user-42"}"# + "\n" }
            trace += #"{"t_ms": 6000.5, "rule": "api", "key": "user-42", "cost": 1}"# + "\n"
            trace += #"{"t_ms": 6001, "rule": "login", "key": "x", "cost": 0}"# + "\n"
            let result = try runSluice(["replay", "--config", dir.file("rules.yaml")], stdin: trace)
            #expect(result.status == 0, "\(result.stderr)")
            let lines = result.stdout.split(separator: "\n")
            #expect(lines.count == 7)
            #expect(lines[0] == #"{"line":1,"rule":"api","key":"user-42","allowed":true,"remaining":2,"retry_after_ms":0,"delay_ms":0}"#)
            #expect(lines[3] == #"{"line":4,"rule":"api","key":"user-42","allowed":false,"remaining":0,"retry_after_ms":5700,"delay_ms":0}"#)
            #expect(lines[5].contains(#""allowed":true"#))
            #expect(result.stderr.contains("api: 6 requests, 4 allowed, 2 denied; top denied: user-42=2"))
            // The same trace gives the same answers every run.
            #expect(try runSluice(["replay", "--config", dir.file("rules.yaml")], stdin: trace).stdout == result.stdout)

            let backwards = try runSluice(["replay", "--config", dir.file("rules.yaml")], stdin: trace + #"{"t_ms": 1, "rule": "api", "key": "k"}"# + "\n")
            #expect(backwards.status == 2 && backwards.stderr.contains("line 8: t_ms must not decrease"))
            let badLine = try runSluice(["replay", "--config", dir.file("rules.yaml")], stdin: "{\"t_ms\": 1, \"rule\": \"api\"}\n")
            #expect(badLine.status == 2 && badLine.stderr.contains("line 1: missing field key"))
        }
    }
}

/// `sluice replay` as a CI gate and on access logs (issues 15 and 18).
@Suite struct ReplayCommandTests {
    /// `sluice replay` run in-process on the trace `stdin`: its exit status and its two outputs.
    private func replay(
        _ run: ReplayRun, config: String, compare: String? = nil, stdin: String, in dir: TemporaryDirectory
    ) throws -> (status: Int32, stdout: String, stderr: String) {
        try dir.write("trace.jsonl", stdin)
        let out = Mutex(""), err = Mutex("")
        var run = run
        run.standardOutput = { text in out.withLock { $0 += text } }
        run.standardError = { line in err.withLock { $0 += line + "\n" } }
        let status = run.run(config: config, compare: compare, trace: dir.file("trace.jsonl"))
        return (status, out.withLock { $0 }, err.withLock { $0 })
    }

    @Test func refusedLinesAreReportedAndCounted() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("rules.yaml", testRules)
        let trace = [#"{"t_ms": 0, "rule": "api", "key": "k"}"#, #"{"t_ms": 1, "rule": "api", "key": "k", "cost": 99}"#,
                     #"{"t_ms": 2, "rule": "api", "key": "k"}"#].joined(separator: "\n") + "\n"
        let result = try replay(ReplayRun(format: .native), config: dir.file("rules.yaml"), stdin: trace, in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n")
        #expect(lines.count == 3)
        #expect(lines[1].hasPrefix(#"{"line":2,"rule":"api","key":"k","error":"#) && lines[1].contains("cost"))
        #expect(lines[2].contains(#""allowed":true"#))
        #expect(result.stderr.contains("api: 3 requests, 2 allowed, 0 denied, 1 refused"))
    }

    @Test func compareGatesOnNewDenials() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("old.yaml", "rules:\n  - { name: api, algorithm: fixed_window, limit: 5, period: 1m }\n")
        try dir.write("new.yaml", "rules:\n  - { name: api, algorithm: fixed_window, limit: 3, period: 1m }\n")
        var trace = ""
        for i in 0..<6 { trace += #"{"t_ms": \#(i), "rule": "api", "key": "heavy"}"# + "\n" }
        for i in 6..<10 { trace += #"{"t_ms": \#(i), "rule": "api", "key": "light-\#(i)"}"# + "\n" }
        let ok = try replay(
            ReplayRun(format: .native, maxNewDenials: 0.5), config: dir.file("old.yaml"), compare: dir.file("new.yaml"), stdin: trace, in: dir)
        #expect(ok.status == 0, "\(ok.stderr)")
        let out = ok.stdout.split(separator: "\n")
        #expect(out.first == #"{"line":4,"rule":"api","key":"heavy","before":"allowed","after":"denied"}"#)
        #expect(out.last == #"{"rule":"api","requests":10,"denied_before":1,"denied_after":3,"newly_denied":2,"newly_allowed":0,"first_divergence_line":4,"newly_denied_keys":[{"key":"heavy","requests":2}],"newly_allowed_keys":[]}"#)
        let gated = try replay(
            ReplayRun(format: .native, maxNewDenials: 0.1), config: dir.file("old.yaml"), compare: dir.file("new.yaml"), stdin: trace, in: dir)
        #expect(gated.status == 3 && gated.stderr.contains("newly denied: 20.0% of requests"), "\(gated.stderr)")
    }

    @Test func accessLogsWithTimestampsAndKeyFields() throws {
        let dir = TemporaryDirectory()
        defer { dir.remove() }
        try dir.write("rules.yaml", "rules:\n  - { name: per-ip, algorithm: fixed_window, limit: 2, period: 1s }\n")
        let log = [
            #"{"ts": "2026-11-30T08:00:00.100Z", "req": {"ip": "192.0.2.1"}, "path": "/a"}"#,
            #"{"ts": "2026-11-30T09:00:00.200+01:00", "req": {"ip": "192.0.2.1"}, "path": "/b"}"#,
            #"{"ts": "2026-11-30T08:00:00.150Z", "req": {"ip": "192.0.2.1"}, "path": "/c"}"#,
            #"{"ts": "2026-11-30T08:00:01.100Z", "req": {"ip": "192.0.2.1"}, "path": "/d"}"#,
        ].joined(separator: "\n") + "\n"
        // As `--time-field ts --key-field req.ip --rule per-ip` give it.
        let format = TraceFormat(timeField: "ts", keyField: "req.ip", fixedRule: "per-ip")
        let result = try replay(ReplayRun(format: format), config: dir.file("rules.yaml"), stdin: log, in: dir)
        #expect(result.status == 0, "\(result.stderr)")
        let allowed = result.stdout.split(separator: "\n").map { $0.contains(#""allowed":true"#) }
        #expect(allowed == [true, true, false, true])
        #expect(result.stderr.contains("1 lines were earlier than a previous line"))
    }
}
