import Foundation
import SluiceInject
import Testing
import YAML

/// Idempotency and byte-for-byte pass-through: what makes `sluice inject` safe in a pipeline.
@Suite struct InjectStreamTests {
    let injector = SluiceInjector()

    @Test(arguments: Fixtures.workloads + ["multi"])
    func secondInjectIsByteIdentical(fixture: String) throws {
        let once = try injector.inject(yaml: try Fixtures.text(fixture))
        #expect(try injector.inject(yaml: once) == once)
    }

    @Test(arguments: Fixtures.workloads + ["multi"])
    func outputMatchesTheReviewedExpectation(fixture: String) throws {
        let output = try injector.inject(yaml: try Fixtures.text(fixture))
        #expect(output == (try Fixtures.text("expected/\(fixture)")))
    }

    @Test func onlyTheWorkloadDocumentChanges() throws {
        let input = try Fixtures.text("multi")
        let inputDocuments = input.split(separator: "\n---", omittingEmptySubsequences: false)
        let outputDocuments = try injector.inject(yaml: input).split(separator: "\n---", omittingEmptySubsequences: false)
        try #require(inputDocuments.count == 5 && outputDocuments.count == 5)
        for index in [0, 1, 3, 4] {  // Service (with its comments), ConfigMap, comments only, unknown kind
            #expect(outputDocuments[index] == inputDocuments[index])
        }
        #expect(outputDocuments[2] != inputDocuments[2])
        #expect(outputDocuments[2].hasPrefix("\n# The API itself.\napiVersion: apps/v1\n"), "leading comment kept")
    }

    @Test(arguments: [
        "",
        "\n\n",
        "# only a comment\n",
        "---\n",
        "apiVersion: v1\nkind: List\nitems:\n  - apiVersion: apps/v1\n    kind: Deployment\n",
        "apiVersion: apps/v1beta1\nkind: Deployment\nspec: {template: {spec: {containers: [{name: a}]}}}\n",
        "apiVersion: v1\r\nkind: Service\r\n---\r\napiVersion: v1\r\nkind: ConfigMap\r\n",
        "apiVersion: v1\nkind: Service\nmetadata: {name: no-final-newline}",
    ])
    func documentsItDoesNotKnowPassThrough(input: String) throws {
        #expect(try injector.inject(yaml: input) == input)
    }

    /// A `%YAML` directive before a document's `---` belongs to that document, and stays.
    @Test func aDirectiveBeforeTheSeparatorIsKept() throws {
        let workload = try Fixtures.text("deployment")
        let body = workload.hasPrefix("---") ? String(workload.drop { $0 != "\n" }.dropFirst()) : workload
        let input = "%YAML 1.2\n---\n" + body
        let output = try injector.inject(yaml: input)
        #expect(output.hasPrefix("%YAML 1.2\n---\n"))
        #expect(output.contains("name: sluice"))
        #expect(try injector.inject(yaml: output) == output)
        // Between two documents: the first passes through, the second keeps its prologue.
        let stream = "apiVersion: v1\nkind: Service\nmetadata: {name: s}\n...\n%YAML 1.2\n# the app\n---\n" + body
        let injected = try injector.inject(yaml: stream)
        #expect(injected.hasPrefix("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n...\n%YAML 1.2\n# the app\n---\n"))
    }

    @Test func crlfWorkloadIsRewrittenWithTheSameResultAsLF() throws {
        let lf = try Fixtures.text("daemonset")
        let crlf = lf.replacingOccurrences(of: "\n", with: "\r\n")
        #expect(try injector.inject(yaml: crlf) == injector.inject(yaml: lf))
    }

    /// k8s/base/deployment.yaml already has a (hand-written) sidecar and a literal-block script.
    @Test func theExampleDeploymentIsUpdatedInPlace() throws {
        let input = try String(contentsOf: Fixtures.repository.appendingPathComponent("k8s/base/deployment.yaml"), encoding: .utf8)
        let output = try injector.inject(yaml: input)
        #expect(try injector.inject(yaml: output) == output)
        let before = try #require(try YAMLParser.document(input)?.podTemplate)
        let after = try #require(try YAMLParser.document(output)?.podTemplate)
        #expect(after[path: "spec.initContainers"]?.sequence?.items.count == 1)
        #expect(after[path: "spec.initContainers.name=sluice.image"]?.string == "ghcr.io/sluice-rl/sluice:0.1.0")
        #expect(after[path: "spec.containers.name=app.args"] == before[path: "spec.containers.name=app.args"])
        #expect(after[path: "spec.containers.name=app.args"]?.sequence?.items.first?.scalar?.style == .literal)
        #expect(after[path: "spec.securityContext"] == before[path: "spec.securityContext"])
    }

    @Test func separatorWithContentBecomesAPlainSeparator() throws {
        let input = "--- {apiVersion: batch/v1, kind: Job, spec: {template: {spec: {containers: [{name: a, image: b}]}}}}\n"
        let output = try injector.inject(yaml: input)
        #expect(output.hasPrefix("---\napiVersion: batch/v1\nkind: Job\n"))
        #expect(try injector.inject(yaml: output) == output)
    }
}
