import ArgumentParser
#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import RateLimitConfig
import SluiceInject

/// `sluice inject`: the CLI face of `SluiceInjector`; all the YAML work happens in SluiceInject.
struct Inject: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Add the Sluice sidecar to Kubernetes workloads.",
        discussion: """
            Writes the YAML to standard output with Sluice added as a native sidecar to every Deployment, \
            StatefulSet, DaemonSet, Job and CronJob. Other documents pass through byte for byte, and a second \
            run changes nothing. Example: sluice inject -f deployment.yaml | kubectl apply -f -
            """)

    private static let defaults = InjectOptions()

    @Option(name: [.short, .long], help: ArgumentHelp("The YAML to read; - for standard input.", valueName: "FILE"))
    var filename = "-"

    @Option(help: "The sidecar's image.")
    var image = defaults.image

    @Option(help: "The ConfigMap holding rules.yaml, mounted at /etc/sluice.")
    var configMap = defaults.configMap

    @Option(name: .customLong("container"), help: "An app container to connect to the socket (repeatable; default: all).")
    var containers: [String] = []

    @Option(help: "The sidecar's CPU request.")
    var cpuRequest = defaults.cpuRequest

    @Option(help: "The sidecar's memory request.")
    var memoryRequest = defaults.memoryRequest

    @Option(help: "The sidecar's CPU limit.")
    var cpuLimit = defaults.cpuLimit

    @Option(help: "The sidecar's memory limit.")
    var memoryLimit = defaults.memoryLimit

    func run() throws {
        let options = InjectOptions(
            image: image, configMap: configMap, containers: containers,
            cpuRequest: cpuRequest, memoryRequest: memoryRequest, cpuLimit: cpuLimit, memoryLimit: memoryLimit)
        let input: String
        if filename == "-" {
            guard let bytes = ConfigFile.readAll(STDIN_FILENO) else {
                printError("sluice inject: cannot read stdin")
                throw ExitCode(1)
            }
            input = String(decoding: bytes, as: UTF8.self)
        } else {
            do { input = try ConfigFile.read(path: filename) } catch {
                printError("sluice inject: \(error)")
                throw ExitCode(1)
            }
        }
        do {
            let output = try SluiceInjector(options: options).inject(yaml: input)
            writeAll(STDOUT_FILENO, output)
        } catch {
            // Errors about a document name it and its line; errors about the flags have no place.
            let source = filename == "-" ? "stdin" : filename
            printError("\(error.document == nil ? "sluice inject" : source): \(error)")
            throw ExitCode(1)
        }
    }
}
