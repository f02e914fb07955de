public import Logging
public import RateLimitCore
import ServiceLifecycle
public import SluiceApp
import Dispatch
import Synchronization

/// The sidecar built in-process by `Application.build`, as `sluice serve` builds it: a manual
/// clock, a real Unix socket in a temporary directory and a metrics port the kernel picked.
/// hummingbird's live test framework does the same with its application.
public struct TestApp: SluiceEndpoints, Sendable {
    /// The manual clock's first instant: 2026-12-01T00:00:00Z, a whole hour, day and minute.
    public static let start: Nanoseconds = 1_796_083_200_000_000_000

    public let app: Application
    public let clock: ManualClock
    public let directory: TemporaryDirectory
    public let socketPath: String
    public let grpcSocketPath: String?
    public let metricsPort: Int
    let logs: LogCapture

    /// Every line logged so far: `level message key=value…`.
    public var log: String { logs.text }
}

public struct TestAppFailure: Error, CustomStringConvertible {
    public var description: String
}

/// Builds the app from `config` (written to `rules.yaml` in `directory`) and the options
/// `configure` adjusts, runs its services in a `ServiceGroup` while `body` runs, then shuts
/// them down gracefully and waits for them (no polling).
/// - Parameter directory: where the sockets and files go; a fresh one (removed after) when nil.
/// - Parameter waitUntilReady: wait (up to 10 s) until `/readyz` would answer 200.
public func withTestApp<T>(
    config: String? = nil, clock: ManualClock = ManualClock(now: TestApp.start), directory: TemporaryDirectory? = nil,
    logLevel: Logger.Level = .info, waitUntilReady: Bool = true, configure: (inout AppOptions) -> Void = { _ in },
    _ body: (TestApp) async throws -> T
) async throws -> T {
    let dir = directory ?? TemporaryDirectory()
    defer { if directory == nil { dir.remove() } }
    var options = AppOptions(socketPath: dir.file("sluice.sock"))
    options.metricsPort = 0
    options.reloadOnSIGHUP = false
    if let config {
        try dir.write("rules.yaml", config)
        options.configPath = dir.file("rules.yaml")
    }
    configure(&options)
    let logs = LogCapture()
    let logger = Logger(label: "sluice") { _ in CapturingLogHandler(capture: logs, logLevel: logLevel) }
    let app: Application
    do throws(StartError) {
        app = try await Application.build(options: options, clock: clock, logger: logger)
    } catch {
        throw TestAppFailure(description: "sluice: \(error.description)")
    }
    let group = ServiceGroup(configuration: ServiceGroupConfiguration(services: app.serviceConfigurations, logger: logger))
    return try await withThrowingTaskGroup(of: Void.self) { tasks in
        tasks.addTask { try await group.run() }
        var metricsPort: Int?
        var grpcReady = options.grpcSocketPath == nil
        for await listener in app.listening {
            switch listener {
            case .metrics(let port): metricsPort = port
            case .grpc: grpcReady = true
            case .api: break
            }
            if metricsPort != nil, grpcReady { break }
        }
        guard let metricsPort, grpcReady else {
            await group.triggerGracefulShutdown()
            do { try await tasks.waitForAll() } catch { throw TestAppFailure(description: "sluice: \(error)") }
            throw TestAppFailure(description: "the listeners stopped before they were ready; log:\n\(logs.text)")
        }
        // A Redis backend is usable once its first connection is up: a real process, so waited
        // for with a deadline, as `SluiceProcess` waits for `/readyz`.
        if waitUntilReady, await !eventually(timeout: .seconds(10), { app.readiness.problems.isEmpty }) {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw TestAppFailure(description: "not ready: \(app.readiness.problems); log:\n\(logs.text)")
        }
        let running = TestApp(
            app: app, clock: clock, directory: dir, socketPath: options.socketPath, grpcSocketPath: options.grpcSocketPath,
            metricsPort: metricsPort, logs: logs)
        let result: T
        do {
            // The body blocks on sockets (BlockingHTTPClient): on a thread of its own, so the
            // few cooperative threads stay free for the services of every app under test.
            result = try await withTaskExecutorPreference(BlockingTestExecutor()) { try await body(running) }
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
        await group.triggerGracefulShutdown()
        try await tasks.waitForAll()
        return result
    }
}

/// Runs a test body's jobs on a dispatch queue of its own, where blocking is allowed (dispatch
/// adds threads for blocked queues; the cooperative pool has one thread per core and does not).
final class BlockingTestExecutor: TaskExecutor {
    private let queue = DispatchQueue(label: "sluice.test-body")

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async { job.runSynchronously(on: executor) }
    }
}

/// The lines a test app logged.
final class LogCapture: Sendable {
    private let lines = Mutex<[String]>([])

    func append(_ line: String) { lines.withLock { $0.append(line) } }

    var text: String { lines.withLock { $0.joined(separator: "\n") } }
}

struct CapturingLogHandler: LogHandler {
    let capture: LogCapture
    var logLevel: Logger.Level
    var metadata: Logger.Metadata = [:]

    subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    func log(event: LogEvent) {
        let fields = metadata.merging(event.metadata ?? [:]) { $1 }.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        capture.append((["\(event.level)", "\(event.message)"] + fields).joined(separator: " "))
    }
}

/// Runs `body` on a dispatch queue of its own: for tests that wait on processes and sockets,
/// so they do not hold one of the few cooperative threads every async test shares.
public func blocking<T>(_ body: () throws -> T) async rethrows -> T {
    try await withTaskExecutorPreference(BlockingTestExecutor()) { try body() }
}
