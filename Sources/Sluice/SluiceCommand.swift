import ArgumentParser

/// `sluice`: a rate-limiter sidecar.
@main
struct SluiceCommand: AsyncParsableCommand {
    static let version = "0.1.0"
    /// The source revision; release builds replace it (scripts/build-release, Dockerfile).
    static let revision = buildRevision

    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A rate-limiter sidecar: answers \"may this key spend this much now?\" over a Unix socket.",
        version: version,
        subcommands: [Serve.self, Check.self, Validate.self, Replay.self, Inject.self, LuaScript.self]
    )
}
