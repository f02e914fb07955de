internal import YAML

/// Adds the Sluice native sidecar to every workload in a Kubernetes YAML stream: Deployments,
/// StatefulSets, DaemonSets and Jobs (`spec.template`) and CronJobs
/// (`spec.jobTemplate.spec.template`). Every other document is written back byte for byte.
/// Injecting twice gives the same bytes as injecting once.
public struct SluiceInjector: Sendable {
    public let options: InjectOptions

    public init(options: InjectOptions = InjectOptions()) {
        self.options = options
    }

    /// The input with the sidecar added. Workload documents are re-serialized, so they keep
    /// their leading comments but not comments inside them.
    public func inject(yaml: String) throws(InjectError) -> String {
        try options.validate()
        var output = ""
        for document in SourceDocument.split(yaml) {
            output += try rewritten(document) ?? String(document.text)
        }
        return output
    }

    /// Where the pod template is, by kind; only the API versions served today (CronJob left
    /// batch/v1beta1 in 1.25), so a custom resource that reuses a name is left alone.
    static let templatePaths: [String: (apiVersion: String, path: [String])] = [
        "Deployment": ("apps/v1", ["spec", "template"]),
        "StatefulSet": ("apps/v1", ["spec", "template"]),
        "DaemonSet": ("apps/v1", ["spec", "template"]),
        "Job": ("batch/v1", ["spec", "template"]),
        "CronJob": ("batch/v1", ["spec", "jobTemplate", "spec", "template"]),
    ]

    /// The document with the sidecar added, or nil when it is not a workload.
    func rewritten(_ document: SourceDocument) throws(InjectError) -> String? {
        let place = Place(document: document)
        guard let root = try parse(document, place), case .mapping(let object) = root,
              let kind = object["kind"]?.string, let target = Self.templatePaths[kind],
              object["apiVersion"]?.string == target.apiVersion
        else { return nil }

        let patch = PodTemplatePatch(sidecar: SluiceSidecar(options: options), place: place)
        let missing = "\(kind) has no mapping at \(target.path.joined(separator: ".")) to add the sidecar to"
        let updated = try place.update(object, at: target.path[...], missing: missing) { template throws(InjectError) in
            try patch.apply(to: template)
        }
        return document.header + YAMLEmitter.document(.mapping(updated))
    }

    /// The document's single root node; nil when it holds only comments.
    private func parse(_ document: SourceDocument, _ place: Place) throws(InjectError) -> YAMLNode? {
        let roots: [YAMLNode]
        do { roots = try YAMLParser.documents(String(document.text)) } catch { throw place.error(error) }
        if roots.count > 1 {
            throw place.error(at: roots[1].line, "more than one document; separate documents with a line \"---\"")
        }
        return roots.first
    }
}
