import Foundation
import SluiceInject
import YAML

/// The fixture files next to this file (read by path: no bundle resources to wire up).
enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    /// The repository root (symlinks resolved, so it also holds when the tests are built from a
    /// package that links this directory in).
    static let repository = URL(fileURLWithPath: #filePath).resolvingSymlinksInPath()
        .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// One per workload kind.
    static let workloads = ["deployment", "statefulset", "daemonset", "job", "cronjob"]

    static func text(_ name: String) throws -> String {
        try String(contentsOf: directory.appendingPathComponent("\(name).yaml"), encoding: .utf8)
    }

    /// The injected documents, parsed, for assertions about their shape.
    static func injectedObjects(_ name: String, options: InjectOptions = InjectOptions()) throws -> [YAMLNode] {
        let output = try SluiceInjector(options: options).inject(yaml: try text(name))
        return try YAMLParser.documents(output)
    }
}

extension YAMLNode {
    /// The node at a dotted path of mapping keys and list items named by `name=`.
    subscript(path path: String) -> YAMLNode? {
        var node: YAMLNode? = self
        for step in path.split(separator: ".") {
            if step.hasPrefix("name=") {
                let name = String(step.dropFirst(5))
                node = node?.sequence?.items.first { $0.mapping?["name"]?.string == name }
            } else {
                node = node?.mapping?[String(step)]
            }
        }
        return node
    }

    /// The node as YAML, for readable failure messages.
    var yaml: String { YAMLEmitter.document(self) }

    /// The pod template of a workload, wherever its kind keeps it.
    var podTemplate: YAMLNode? {
        self[path: "kind"]?.string == "CronJob" ? self[path: "spec.jobTemplate.spec.template"] : self[path: "spec.template"]
    }
}
