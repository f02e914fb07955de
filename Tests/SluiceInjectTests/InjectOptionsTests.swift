import SluiceInject
import Testing

@Suite struct InjectOptionsTests {
    @Test func optionsReachTheSidecarAndVolumes() throws {
        let options = InjectOptions(
            image: "registry.example.com/sluice:0.2.0", configMap: "api-rules",
            cpuRequest: "100m", memoryRequest: "64Mi", cpuLimit: "2", memoryLimit: "256Mi")
        let pod = try #require(try Fixtures.injectedObjects("deployment", options: options).first?.podTemplate)
        let sidecar = try #require(pod[path: "spec.initContainers.name=sluice"])
        #expect(sidecar[path: "image"]?.string == "registry.example.com/sluice:0.2.0")
        #expect(sidecar[path: "resources.requests.cpu"]?.string == "100m")
        #expect(sidecar[path: "resources.requests.memory"]?.string == "64Mi")
        #expect(sidecar[path: "resources.limits.cpu"]?.string == "2")
        #expect(sidecar[path: "resources.limits.cpu"]?.scalar?.style == .doubleQuoted, "a plain 2 would be an int")
        #expect(sidecar[path: "resources.limits.memory"]?.string == "256Mi")
        #expect(pod[path: "spec.volumes.name=sluice-rules.configMap.name"]?.string == "api-rules")
    }

    @Test func onlyTheNamedContainersAreConnected() throws {
        let pod = try #require(try Fixtures.injectedObjects("deployment", options: InjectOptions(containers: ["web"])).first?.podTemplate)
        #expect(pod[path: "spec.containers.name=web.env.name=SLUICE_SOCKET"] != nil)
        #expect(pod[path: "spec.containers.name=log-shipper.env"] == nil)
        #expect(pod[path: "spec.containers.name=log-shipper.volumeMounts"] == nil)
    }

    @Test func anOlderInjectionIsReplacedInPlace() throws {
        let older = try SluiceInjector(options: InjectOptions(image: "sluice:0.0.9", cpuLimit: "500m"))
            .inject(yaml: try Fixtures.text("statefulset"))
        let newer = try SluiceInjector().inject(yaml: older)
        #expect(newer == (try SluiceInjector().inject(yaml: try Fixtures.text("statefulset"))))
    }

    @Test(arguments: ["0", "50m", "1.5", "128Mi", "1Gi", "2k", "100M"])
    func quantities(value: String) {
        #expect(throws: Never.self) { try InjectOptions(cpuRequest: value).validate() }
    }
}
