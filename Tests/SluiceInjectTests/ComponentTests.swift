import Foundation
import SluiceInject
import Testing
import YAML

/// The kustomize Component (k8s/components/sluice) adds what `sluice inject` adds.
@Suite struct ComponentTests {
    @Test func componentPatchEqualsTheInjectedPod() throws {
        let path = Fixtures.repository.appendingPathComponent("k8s/components/sluice/pod-template.yaml")
        let patch = try #require(try YAMLParser.document(String(contentsOf: path, encoding: .utf8))?[path: "spec.template"])
        let injected = try #require(try Fixtures.injectedObjects("daemonset").first?.podTemplate)
        for path in ["spec.initContainers", "spec.volumes", "metadata.annotations"] {
            let (component, inject) = (patch[path: path], injected[path: path])
            let same = component == inject  // equal values; quoting and flow style may differ
            #expect(same, "\(path): the Component has\n\(component?.yaml ?? "nothing")\ninject has\n\(inject?.yaml ?? "nothing")")
        }
    }
}
