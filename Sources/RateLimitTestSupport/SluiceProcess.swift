import Foundation
import Synchronization
import SluiceApp
#if canImport(Glibc)
import Glibc
#endif

/// Polls `condition` every 10 ms until it holds or `timeout` passes; returns whether it held.
public func poll(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try condition() { return true }
        usleep(10_000)
    }
    return try condition()
}

/// `poll` for async tests: sleeps with `Task.sleep`, so the services of an app running in this
/// process (on the same cooperative threads) keep running while it waits.
public func eventually(timeout: Duration = .seconds(10), _ condition: () throws -> Bool) async rethrows -> Bool {
    let clock = ContinuousClock()
    let deadline = clock.now + timeout
    while clock.now < deadline {
        if try condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return try condition()
}

/// A fresh temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    public let path: String

    public init() {
        let template = NSTemporaryDirectory() + "sluice-test-XXXXXX"
        var bytes = Array(template.utf8CString)
        let made = bytes.withUnsafeMutableBufferPointer { buffer -> String? in
            guard let base = buffer.baseAddress, mkdtemp(base) != nil else { return nil }
            return String(cString: base)
        }
        path = made ?? template
    }

    public func file(_ name: String) -> String { "\(path)/\(name)" }

    public func write(_ name: String, _ text: String) throws {
        try text.write(toFile: file(name), atomically: true, encoding: .utf8)
    }

    public func remove() { try? FileManager.default.removeItem(atPath: path) }
}

/// A loopback TCP port that was free a moment ago.
public func freeLoopbackPort() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = BlockingHTTPClient.loopbackAddress(port: 0)
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
    _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
    return Int(UInt16(bigEndian: address.sin_port))
}

/// The `sluice` binary under test: `$SLUICE_BIN`, else the package's debug build.
public func sluiceBinary() -> String {
    if let bin = ProcessInfo.processInfo.environment["SLUICE_BIN"] { return bin }
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    return root.appendingPathComponent(".build/debug/sluice").path
}

/// The result of running a command to completion.
public struct CommandResult: Sendable {
    public var status: Int32
    public var stdout: String
    public var stderr: String
}

/// Runs `sluice ARGS` to completion (with `stdin` as its input) and captures its output.
public func runSluice(_ arguments: [String], stdin: String? = nil) throws -> CommandResult {
    try runCommand(sluiceBinary(), arguments, stdin: stdin)
}

/// Makes writes to a closed pipe or socket fail with EPIPE instead of killing the test process:
/// a child that exits before reading all of its stdin must fail its test, not end the run.
private let ignoringSIGPIPE: Void = { _ = signal(SIGPIPE, SIG_IGN) }()

/// Runs `executable ARGS` to completion, feeding it `stdin`, and captures its output.
public func runCommand(_ executable: String, _ arguments: [String], stdin: String? = nil) throws -> CommandResult {
    _ = ignoringSIGPIPE
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    let out = Pipe(), err = Pipe(), input = Pipe()
    process.standardOutput = out
    process.standardError = err
    process.standardInput = input
    try process.run()
    // Drain stderr on another thread while writing stdin and reading stdout, so no pipe fills up.
    let stderrData = Mutex(Data())
    let drained = DispatchSemaphore(value: 0)
    let errHandle = err.fileHandleForReading
    DispatchQueue.global().async {
        let data = errHandle.readDataToEndOfFile()
        stderrData.withLock { $0 = data }
        drained.signal()
    }
    let writer = input.fileHandleForWriting
    let text = stdin
    DispatchQueue.global().async {
        if let text { try? writer.write(contentsOf: Data(text.utf8)) }
        try? writer.close()
    }
    let stdoutData = out.fileHandleForReading.readDataToEndOfFile()
    drained.wait()
    process.waitUntilExit()
    return CommandResult(
        status: process.terminationStatus, stdout: String(decoding: stdoutData, as: UTF8.self),
        stderr: String(decoding: stderrData.withLock { $0 }, as: UTF8.self))
}

/// The full path of `tool` on PATH, if any.
public func which(_ tool: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(tool)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// A running `sluice serve` on a temporary socket and a free loopback port.
public final class SluiceProcess: SluiceEndpoints, @unchecked Sendable {  // used from one test at a time; Process is not Sendable
    public let directory: TemporaryDirectory
    public let socketPath: String
    public let metricsPort: Int
    let process = Process()
    private let logFile: String

    /// Starts `sluice serve` with `arguments` added; waits until /readyz answers 200.
    public init(arguments: [String] = [], config: String? = nil, waitUntilReady: Bool = true) throws {
        _ = ignoringSIGPIPE
        directory = TemporaryDirectory()
        socketPath = directory.file("sluice.sock")
        metricsPort = freeLoopbackPort()
        logFile = directory.file("sluice.log")
        var args = ["serve", "--socket", socketPath, "--metrics-address", "127.0.0.1:\(metricsPort)"]
        if let config {
            try directory.write("rules.yaml", config)
            args += ["--config", directory.file("rules.yaml")]
        }
        process.executableURL = URL(fileURLWithPath: sluiceBinary())
        process.arguments = args + arguments
        _ = FileManager.default.createFile(atPath: logFile, contents: nil)
        let log = FileHandle(forWritingAtPath: logFile)
        process.standardOutput = log
        process.standardError = log
        try process.run()
        if waitUntilReady {
            let ready = poll { (try? self.ops("GET", "/readyz").status) == 200 }
            guard ready else {
                stop()
                throw Failure(description: "sluice did not become ready; log:\n\(self.log)")
            }
        }
    }

    public struct Failure: Error, CustomStringConvertible { public var description: String }

    /// The process's combined output so far.
    public var pid: Int32 { process.processIdentifier }

    public var log: String { (try? String(contentsOfFile: logFile, encoding: .utf8)) ?? "" }

    public func signal(_ sig: Int32) { kill(process.processIdentifier, sig) }

    /// Waits for the process to exit; its status, or nil if it is still running at the deadline.
    public func waitForExit(timeout: Duration = .seconds(10)) -> Int32? {
        poll(timeout: timeout) { !process.isRunning } ? process.terminationStatus : nil
    }

    /// SIGTERM, wait, SIGKILL if needed; removes the temporary directory.
    public func stop() {
        if process.isRunning {
            signal(SIGTERM)
            if waitForExit(timeout: .seconds(10)) == nil { signal(SIGKILL); _ = waitForExit() }
        }
        directory.remove()
    }

    deinit { if process.isRunning { kill(process.processIdentifier, SIGKILL) } }
}
