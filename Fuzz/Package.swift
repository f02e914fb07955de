// swift-tools-version:6.1
// libFuzzer targets (a separate package, like Benchmarks/, so the product build and `swift test`
// never compile them). Build and run them with scripts/fuzz; see Fuzz/README.md.
//
// Each target is an executable whose `main.swift` hands its test function to libFuzzer's driver
// (`LLVMFuzzerRunDriver`), so they only link with `-sanitize=fuzzer`. (libFuzzer's own `main`
// cannot be used: SwiftPM links each executable's entry point as `main`.)
import PackageDescription

let fuzzDependencies: [Target.Dependency] = [
    "FuzzSupport",
    .product(name: "RateLimitCore", package: "sluice"),
    .product(name: "RateLimitConfig", package: "sluice"),
    .product(name: "RateLimitMetrics", package: "sluice"),
    .product(name: "RateLimitHTTP", package: "sluice"),
    .product(name: "RateLimitRedis", package: "sluice"),
    .product(name: "YAML", package: "sluice"),
    .product(name: "NIOCore", package: "swift-nio"),
    .product(name: "NIOEmbedded", package: "swift-nio"),
]

let package = Package(
    name: "sluice-fuzz",
    platforms: [.macOS(.v15)],
    dependencies: [
        .package(name: "sluice", path: ".."),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
    ],
    targets: [
        .target(name: "CFuzzDriver"),
        .target(name: "FuzzSupport", dependencies: ["CFuzzDriver"]),
        .executableTarget(name: "FuzzHTTP", dependencies: fuzzDependencies),
        .executableTarget(name: "FuzzJSON", dependencies: fuzzDependencies),
        .executableTarget(name: "FuzzRESP", dependencies: fuzzDependencies),
        .executableTarget(name: "FuzzConfig", dependencies: fuzzDependencies),
        .executableTarget(name: "FuzzYAML", dependencies: fuzzDependencies),
        .executableTarget(
            name: "FuzzGRPC", dependencies: fuzzDependencies + [.product(name: "RateLimitGRPC", package: "sluice")]),
    ],
    swiftLanguageModes: [.v6]
)
