// swift-tools-version:6.1
// In-process benchmarks (package-benchmark) and the gRPC load generator of scripts/bench --grpc.
// A separate package so the product build and `swift test` never compile the benchmark harness.
// Run: cd Benchmarks && swift package benchmark
import PackageDescription

let package = Package(
    name: "sluice-benchmarks",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sluice", path: ".."),
        .package(url: "https://github.com/ordo-one/package-benchmark.git", from: "1.38.1", traits: ["MallocInterposer"]),
        .package(url: "https://github.com/grpc/grpc-swift-2.git", from: "2.4.3"),
        .package(url: "https://github.com/grpc/grpc-swift-nio-transport.git", from: "2.9.2"),
    ],
    targets: [
        .executableTarget(
            name: "DecisionBenchmarks",
            dependencies: [
                .product(name: "Benchmark", package: "package-benchmark"),
                .product(name: "RateLimitCore", package: "sluice"),
                .product(name: "RateLimitMetrics", package: "sluice"),
            ],
            path: "Benchmarks/DecisionBenchmarks",
            plugins: [.plugin(name: "BenchmarkPlugin", package: "package-benchmark")]
        ),
        // The gRPC load generator scripts/bench --grpc runs (the twin of load/uds_load.c); outside
        // Benchmarks/Benchmarks/ so the benchmark plugin does not take it for a benchmark.
        .executableTarget(
            name: "grpc-load",
            dependencies: [
                .product(name: "RateLimitGRPC", package: "sluice"),
                .product(name: "GRPCCore", package: "grpc-swift-2"),
                .product(name: "GRPCNIOTransportHTTP2Posix", package: "grpc-swift-nio-transport"),
            ],
            path: "load/grpc-load"
        ),
        // A decision loop to profile (perf, callgrind); not a benchmark.
        .executableTarget(
            name: "decide-loop",
            dependencies: [.product(name: "RateLimitCore", package: "sluice")],
            path: "load/decide-loop"
        ),
    ]
)
