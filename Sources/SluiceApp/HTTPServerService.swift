import RateLimitHTTP
import ServiceLifecycle

/// The HTTP listeners as a service: the socket file prepared (a stale one replaced, a live one
/// refused), bound under a private umask and given its mode; on graceful shutdown the server
/// stops, readiness drops first, and the file is removed.
struct HTTPServerService: Service {
    let server: SluiceServer
    let path: String
    let mode: UInt32
    let readiness: Readiness
    let announce: AsyncStream<Application.Listener>.Continuation

    func run() async throws {
        defer { announce.finish() }
        try UnixSocketPath.prepare(path)
        let running: SluiceServer.Running
        do {
            // Bound under a private umask, then given its mode (red team 2, F21).
            running = try await UnixSocketPath.bindingPrivately { try await server.start() }
            try UnixSocketPath.setMode(path, mode)
        } catch {
            UnixSocketPath.remove(path)
            throw error
        }
        readiness.setListening(true)
        announce.yield(.api(path: path))
        announce.yield(.metrics(port: running.metricsPort))

        try? await gracefulShutdown()

        readiness.setListening(false)
        await running.stop()
        UnixSocketPath.remove(path)
    }
}
