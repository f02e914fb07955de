import SluiceInject
import Testing

/// Refusals name the document and the input line, so a user can find the problem in a long stream.
@Suite struct InjectErrorTests {
    func error(_ input: String, _ options: InjectOptions = InjectOptions()) -> InjectError? {
        do {
            _ = try SluiceInjector(options: options).inject(yaml: input)
            return nil
        } catch {
            return error
        }
    }

    @Test func badYAMLNamesTheDocumentAndInputLine() throws {
        let failure = try #require(error(try Fixtures.text("bad")))
        #expect(failure.document == 2)
        #expect(failure.line == 11)
        #expect(failure.description.hasPrefix("document 2, line 11: "))
        #expect(failure.description.contains("flow mapping at line 10"))
        #expect(!failure.description.contains("broken"), "no dump of the document text")
    }

    @Test func badYAMLInADocumentThatWouldPassThroughIsStillAnError() {
        let failure = error("apiVersion: v1\nkind: Service\n---\nkind: [Service\n")
        #expect(failure?.document == 2)
        #expect(failure?.line == 5)
    }

    @Test func duplicateKeys() {
        let failure = error("kind: Service\nkind: Service\n")
        #expect(failure?.document == 1)
        #expect(failure?.description.contains("duplicate") == true)
    }

    static let deployment = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: x}
        spec:
          template:
            spec:
              containers:
                - name: app
                  image: app
        """

    @Test func aSluiceAppContainerIsRefused() {
        let input = Self.deployment + "\n        - name: sluice\n          image: old-sluice\n"
        let failure = error("kind: Service\n---\n" + input)
        #expect(failure?.document == 2)
        #expect(failure?.line == 12)
        #expect(failure?.message.contains("initContainers") == true)
    }

    @Test func anUnknownContainerOptionIsRefused() {
        let failure = error(Self.deployment, InjectOptions(containers: ["app", "worker"]))
        #expect(failure?.message == "no container named \"worker\" (containers: app)")
        #expect(failure?.line == 7)
    }

    @Test func anotherVolumeAtTheSocketDirectoryIsRefused() {
        let input = Self.deployment + "\n          volumeMounts: [{name: run, mountPath: /var/run/sluice}]\n"
        #expect(error(input)?.message.contains("already mounts run at /var/run/sluice") == true)
    }

    @Test(arguments: [
        ("apiVersion: apps/v1\nkind: Deployment\nspec: {}\n", 3, "Deployment has no mapping at spec.template"),
        ("apiVersion: batch/v1\nkind: CronJob\nspec:\n  jobTemplate: []\n", 4, "CronJob has no mapping at spec.jobTemplate.spec.template"),
        ("apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      containers: {}\n", 6, "containers must be a list"),
        ("apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    spec:\n      containers: []\n", 6, "the pod has no containers"),
        ("apiVersion: apps/v1\nkind: DaemonSet\nspec:\n  template: {}\n", 4, "the pod template has no spec"),
        ("apiVersion: batch/v1\nkind: Job\nspec:\n  template:\n    metadata: []\n    spec: {}\n", 5, "metadata must be a mapping"),
    ])
    func workloadsWithoutAPodSpecAreRefused(input: String, line: Int, message: String) {
        let failure = error(input)
        #expect(failure?.line == line)
        #expect(failure?.message.contains(message) == true, "\(failure?.description ?? "no error")")
    }

    @Test(arguments: [
        InjectOptions(image: ""), InjectOptions(image: "a b"), InjectOptions(configMap: "Rules"),
        InjectOptions(cpuRequest: "fast"), InjectOptions(memoryLimit: "128MB"), InjectOptions(cpuLimit: "1."),
    ])
    func badOptionsAreRefusedBeforeReading(options: InjectOptions) {
        let failure = error("not: [yaml", options)
        #expect(failure?.document == nil)
        #expect(failure?.line == nil)
    }
}
