// A closed-loop gRPC load generator over a Unix socket, the twin of Benchmarks/load/uds_load.c:
// STREAMS concurrent unary calls spread over CONNECTIONS HTTP/2 connections, for SECONDS.
// Prints one line in uds_load's format: done= rps= p50_us= p99_us= p999_us= s2xx= s429= other= errors=
// (s2xx: allowed / OK, s429: denied / OVER_LIMIT, other: always 0).
//
//   grpc-load -s SOCKET [-c STREAMS] [-n CONNECTIONS] [-d SECONDS] [-k KEYS] [--envoy]
//
// --envoy calls Envoy's ShouldRateLimit (domain "bench", descriptor user=KEY) instead of
// sluice.v1 CheckLimit (rule "bench", key user-KEY).
import Foundation
import GRPCCore
import GRPCNIOTransportHTTP2Posix
import RateLimitGRPC

struct Options {
    var socket = ""
    var streams = 64
    var connections = 4
    var seconds = 5.0
    var keys = 10_000
    var envoy = false

    init(_ arguments: [String]) throws {
        var it = arguments.dropFirst().makeIterator()
        while let flag = it.next() {
            func value() throws -> String {
                guard let v = it.next() else { throw UsageError(text: "\(flag) needs a value") }
                return v
            }
            switch flag {
            case "-s": socket = try value()
            case "-c": streams = Int(try value()) ?? 0
            case "-n": connections = Int(try value()) ?? 0
            case "-d": seconds = Double(try value()) ?? 0
            case "-k": keys = Int(try value()) ?? 0
            case "--envoy": envoy = true
            default: throw UsageError(text: "unknown argument \(flag)")
            }
        }
        guard !socket.isEmpty, streams > 0, connections > 0, seconds > 0, keys > 0 else {
            throw UsageError(text: "usage: grpc-load -s SOCKET [-c STREAMS] [-n CONNECTIONS] [-d SECONDS] [-k KEYS] [--envoy]")
        }
    }
}

struct UsageError: Error, CustomStringConvertible { var text: String; var description: String { text } }

/// What one stream measured.
struct Tally: Sendable {
    var latenciesNs: [Int64] = []
    var allowed = 0
    var denied = 0
    var errors = 0
}

func nanoseconds(_ d: Duration) -> Int64 {
    d.components.seconds * 1_000_000_000 + d.components.attoseconds / 1_000_000_000
}

/// One stream: calls back to back until `deadline`.
func runStream(
    client: GRPCClient<HTTP2ClientTransport.Posix>, stream: Int, options: Options, deadline: ContinuousClock.Instant
) async -> Tally {
    var tally = Tally()
    tally.latenciesNs.reserveCapacity(200_000)
    let sluice = Sluice_V1_RateLimiter.Client(wrapping: client)
    let envoy = Envoy_Service_Ratelimit_V3_RateLimitService.Client(wrapping: client)
    var n = stream
    while ContinuousClock.now < deadline {
        n = (n &* 1_103_515_245 &+ 12345) & 0x7fff_ffff
        let key = "user-\(n % options.keys)"
        let start = ContinuousClock.now
        do {
            let allowed: Bool
            if options.envoy {
                var entry = Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor.Entry()
                entry.key = "user"
                entry.value = key
                var descriptor = Envoy_Extensions_Common_Ratelimit_V3_RateLimitDescriptor()
                descriptor.entries = [entry]
                var request = Envoy_Service_Ratelimit_V3_RateLimitRequest()
                request.domain = "bench"
                request.descriptors = [descriptor]
                allowed = try await envoy.shouldRateLimit(request).overallCode == .ok
            } else {
                var request = Sluice_V1_CheckLimitRequest()
                request.rule = "bench"
                request.key = key
                allowed = try await sluice.checkLimit(request).decision.allowed
            }
            tally.latenciesNs.append(nanoseconds(ContinuousClock.now - start))
            if allowed { tally.allowed += 1 } else { tally.denied += 1 }
        } catch {
            tally.errors += 1
        }
    }
    return tally
}

func measure(_ options: Options) async throws -> (Tally, Duration) {
    try await withThrowingTaskGroup(of: Tally.self) { group in
        var clients: [GRPCClient<HTTP2ClientTransport.Posix>] = []
        for _ in 0..<options.connections {
            let transport = try HTTP2ClientTransport.Posix(
                target: .unixDomainSocket(path: options.socket), transportSecurity: .plaintext)
            let client = GRPCClient(transport: transport)
            clients.append(client)
            group.addTask { try await client.runConnections(); return Tally() }
        }
        let start = ContinuousClock.now
        let deadline = start + .milliseconds(Int64(options.seconds * 1000))
        let total = try await withThrowingTaskGroup(of: Tally.self) { streams in
            for stream in 0..<options.streams {
                let client = clients[stream % clients.count]
                streams.addTask { await runStream(client: client, stream: stream, options: options, deadline: deadline) }
            }
            var total = Tally()
            for try await tally in streams {
                total.latenciesNs += tally.latenciesNs
                total.allowed += tally.allowed
                total.denied += tally.denied
                total.errors += tally.errors
            }
            return total
        }
        let elapsed = ContinuousClock.now - start
        for client in clients { client.beginGracefulShutdown() }
        for try await _ in group {}
        return (total, elapsed)
    }
}

do {
    let options = try Options(CommandLine.arguments)
    let (tally, elapsed) = try await measure(options)
    let sorted = tally.latenciesNs.sorted()
    func percentile(_ p: Double) -> Int64 {
        sorted.isEmpty ? 0 : sorted[min(sorted.count - 1, Int(Double(sorted.count) * p))] / 1000
    }
    let done = sorted.count
    let seconds = Double(nanoseconds(elapsed)) / 1e9
    print(
        "done=\(done) rps=\(Int(Double(done) / seconds)) p50_us=\(percentile(0.5)) p99_us=\(percentile(0.99))"
            + " p999_us=\(percentile(0.999)) s2xx=\(tally.allowed) s429=\(tally.denied) other=0 errors=\(tally.errors)")
} catch {
    FileHandle.standardError.write(Data("grpc-load: \(error)\n".utf8))
    exit(2)
}
