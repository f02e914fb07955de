// swift-tools-version:6.1
import PackageDescription

let strict: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

let package = Package(
    name: "sluice",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "sluice", targets: ["Sluice"]),
        .library(name: "RateLimitCore", targets: ["RateLimitCore"]),
        // For the fuzz targets in Fuzz/ (a separate package that depends on this one by path).
        .library(name: "RateLimitConfig", targets: ["RateLimitConfig"]),
        .library(name: "RateLimitMetrics", targets: ["RateLimitMetrics"]),
        .library(name: "RateLimitHTTP", targets: ["RateLimitHTTP"]),
        .library(name: "RateLimitRedis", targets: ["RateLimitRedis"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
    ],
    targets: [
        .target(name: "RateLimitCore", swiftSettings: strict),
        .target(
            name: "RateLimitConfig",
            dependencies: ["RateLimitCore", .product(name: "Yams", package: "Yams")],
            swiftSettings: strict
        ),
        .target(
            name: "RateLimitMetrics",
            dependencies: ["RateLimitCore", .product(name: "Prometheus", package: "swift-prometheus")],
            swiftSettings: strict
        ),
        .target(
            name: "RateLimitRedis",
            dependencies: [
                "RateLimitCore",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "RateLimitHTTP",
            dependencies: [
                "RateLimitCore", "RateLimitConfig", "RateLimitMetrics",
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: strict
        ),
        .executableTarget(
            name: "Sluice",
            dependencies: [
                "RateLimitCore", "RateLimitConfig", "RateLimitMetrics", "RateLimitHTTP", "RateLimitRedis",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "UnixSignals", package: "swift-service-lifecycle"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .target(
            name: "RateLimitTestSupport",
            dependencies: [
                "RateLimitCore", "RateLimitHTTP",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "RateLimitHTTPTests", dependencies: ["RateLimitHTTP", "RateLimitCore", "RateLimitMetrics", "RateLimitConfig"], swiftSettings: strict),
        .testTarget(
            name: "RateLimitRedisTests",
            dependencies: [
                "RateLimitRedis", "RateLimitCore", "RateLimitTestSupport",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOEmbedded", package: "swift-nio"),
                .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: strict
        ),
        .testTarget(name: "RateLimitCoreTests", dependencies: ["RateLimitCore", "RateLimitTestSupport"], swiftSettings: strict),
        .testTarget(
            name: "RateLimitConfigTests",
            dependencies: ["RateLimitConfig", "RateLimitCore"],
            exclude: ["Fixtures"],
            swiftSettings: strict
        ),
        .testTarget(
            name: "IntegrationTests",
            dependencies: ["RateLimitCore", "RateLimitHTTP", "RateLimitTestSupport", "Sluice"],
            swiftSettings: strict
        ),
    ],
    swiftLanguageModes: [.v6]
)
