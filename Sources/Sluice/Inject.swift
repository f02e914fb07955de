import ArgumentParser
import SluiceApp
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
        if InjectRun.run(options: options, filename: filename) != 0 { throw ExitCode(1) }
    }
}
