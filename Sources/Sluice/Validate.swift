import ArgumentParser
import SluiceApp
import RateLimitConfig

struct Validate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Check a configuration file without serving. Exit 0 when valid.")

    @Argument(help: "The configuration file.")
    var file: String

    func run() throws {
        do {
            let config = try ConfigFile.load(path: file)
            print("\(file): valid (\(config.rules.rules.count) rules, backend \(config.backend.name))")
        } catch {
            printError("\(file): \(error.description)")
            throw ExitCode(1)
        }
    }
}
