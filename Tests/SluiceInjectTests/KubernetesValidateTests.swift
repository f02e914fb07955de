import Foundation
import SluiceInject
import Testing

/// Every fixture's output checked by `kubernetes-validate --strict` against the oldest release
/// with native sidecars (1.29) and the tool's latest schema. Runs when the tool is on PATH; with
/// SLUICE_REQUIRE_TOOLS=1 a missing tool is a failure rather than a skip.
@Suite(.enabled(if: KubernetesValidate.path != nil || KubernetesValidate.required))
struct KubernetesValidateTests {
    @Test(arguments: [["-k", "1.29.0"], []])
    func outputsAreValidKubernetes(version: [String]) throws {
        let tool = try #require(KubernetesValidate.path, "kubernetes-validate not on PATH (pip install kubernetes-validate)")
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("sluice-inject-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        var files: [String] = []
        for name in Fixtures.workloads + ["multi"] {
            let file = directory.appendingPathComponent("\(name).yaml")
            try SluiceInjector().inject(yaml: try Fixtures.text(name)).write(to: file, atomically: true, encoding: .utf8)
            files.append(file.path)
        }
        let (status, output) = try KubernetesValidate.run(tool, ["--strict", "--quiet"] + version + files)
        #expect(status == 0, "kubernetes-validate \(version.joined(separator: " ")):\n\(output)")
        #expect(!output.contains("ERROR"), "\(output)")
    }
}

enum KubernetesValidate {
    static let required = ProcessInfo.processInfo.environment["SLUICE_REQUIRE_TOOLS"] == "1"

    static let path: String? = (ProcessInfo.processInfo.environment["PATH"] ?? "")
        .split(separator: ":")
        .map { "\($0)/kubernetes-validate" }
        .first { FileManager.default.isExecutableFile(atPath: $0) }

    /// Exit status and combined output.
    static func run(_ tool: String, _ arguments: [String]) throws -> (Int32, String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }
}
