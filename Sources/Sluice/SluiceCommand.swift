import ArgumentParser

/// `sluice`: a rate-limiter sidecar.
@main
struct SluiceCommand: AsyncParsableCommand {
    static let version = "0.1.0"

    static let configuration = CommandConfiguration(
        commandName: "sluice",
        abstract: "A rate-limiter sidecar: answers \"may this key spend this much now?\" over a Unix socket.",
        version: version,
        subcommands: [Serve.self, Check.self, Validate.self, Replay.self]
    )
}
