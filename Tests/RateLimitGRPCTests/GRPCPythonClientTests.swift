import Foundation
import RateLimitTestSupport
import Testing

/// An independent client: Python grpcio (and h2 for the protocol edges) against the real binary,
/// over the gRPC socket (tests/grpc_client_check.py). Skipped only when Python's grpcio or h2 is
/// missing and SLUICE_REQUIRE_TOOLS is not 1 (scripts/test sets it; scripts/install-tools
/// installs them).
@Suite(.serialized) struct GRPCPythonClientTests {
    static let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("tests/grpc_client_check.py").path

    static var pythonHasClients: Bool {
        (try? runCommand("/usr/bin/env", ["python3", "-c", "import grpc, h2, envoy.service.ratelimit.v3.rls_pb2"]).status) == 0
    }

    @Test func pythonGRPCIOAndRawHTTP2Clients() async throws {
        try await blocking {
            guard Self.pythonHasClients else {
                #expect(ProcessInfo.processInfo.environment["SLUICE_REQUIRE_TOOLS"] != "1", "python grpcio, h2 or xds-protos missing")
                return
            }
            let sockets = TemporaryDirectory()
            defer { sockets.remove() }
            let grpcSocket = sockets.file("grpc.sock")
            let sluice = try SluiceProcess(arguments: ["--grpc-socket", grpcSocket], config: grpcRulesYAML)
            defer { sluice.stop() }
            #expect(poll { FileManager.default.fileExists(atPath: grpcSocket) })
            let result = try runCommand("/usr/bin/env", ["python3", Self.script, grpcSocket, "--pid", String(sluice.pid)])
            #expect(result.status == 0, "\(result.stdout)\n\(result.stderr)\nlog:\n\(sluice.log)")
            #expect(result.stdout.contains(" passed, 0 failed"), "\(result.stdout)")
            #expect(sluice.waitForExit() == 0, "sluice exits cleanly after the GOAWAY check; log:\n\(sluice.log)")
        }
    }
}
