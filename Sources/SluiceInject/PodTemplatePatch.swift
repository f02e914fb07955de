internal import YAML

/// What `sluice inject` does to one pod template: the sidecar, the two volumes, the app
/// containers' socket mount and env, and the scrape annotations. Items of ours that are already
/// there are replaced in place, so a second run changes nothing.
struct PodTemplatePatch {
    let sidecar: SluiceSidecar
    let place: Place

    func apply(to template: YAMLMapping) throws(InjectError) -> YAMLMapping {
        var metadata = try mapping("metadata", in: template, "the pod template's metadata")
        var annotations = try mapping("annotations", in: metadata, "the pod template's annotations")
        for (key, value) in sidecar.annotations {
            annotations = annotations.setting(key, YAML.string(value))
        }
        metadata = metadata.setting("annotations", .mapping(annotations))
        guard case .mapping(let spec)? = template["spec"] else {
            throw place.error(at: template.line(of: "spec"), "the pod template has no spec mapping")
        }
        return template.setting("metadata", .mapping(metadata), first: true).setting("spec", .mapping(try patch(spec)))
    }

    private func patch(_ spec: YAMLMapping) throws(InjectError) -> YAMLMapping {
        let containers = try list("containers", in: spec, "containers")
        guard !containers.isEmpty else { throw place.error(at: spec.line(of: "containers"), "the pod has no containers") }
        if let clash = containers.first(where: { $0.field("name") == SluiceSidecar.containerName }) {
            throw place.error(at: clash.line, "containers already has a container named \"sluice\"; "
                + "remove it, the sidecar belongs in initContainers")
        }
        let names = containers.compactMap { $0.field("name") }
        let wanted = sidecar.options.containers.isEmpty ? names : sidecar.options.containers
        for name in wanted where !names.contains(name) {
            throw place.error(at: spec.line(of: "containers"), "no container named \"\(name)\" (containers: \(names.joined(separator: ", ")))")
        }
        var patched: [YAMLNode] = []
        for container in containers {
            guard let name = container.field("name"), wanted.contains(name) else {
                patched.append(container)
                continue
            }
            patched.append(try connect(container, name: name))
        }

        let initContainers = try list("initContainers", in: spec, "initContainers")
        // First, so app init containers that come after it can use the socket too.
        let withSidecar = NamedList.upsert(sidecar.container, in: initContainers, atStart: true)
        var volumes = try list("volumes", in: spec, "volumes")
        volumes = NamedList.upsert(sidecar.socketVolume, in: volumes)
        volumes = NamedList.upsert(sidecar.rulesVolume, in: volumes)
        return spec
            .setting("containers", sequence(patched, like: spec["containers"]))
            .setting("initContainers", sequence(withSidecar, like: spec["initContainers"]), before: "containers")
            .setting("volumes", sequence(volumes, like: spec["volumes"]))
    }

    /// One app container with the read-only socket mount and `SLUICE_SOCKET`.
    private func connect(_ container: YAMLNode, name: String) throws(InjectError) -> YAMLNode {
        guard case .mapping(let fields) = container else { return container }
        let mounts = try list("volumeMounts", in: fields, "volumeMounts of \(name)")
        if let clash = mounts.first(where: {
            $0.field("mountPath") == SluiceSidecar.socketDirectory && $0.field("name") != SluiceSidecar.socketVolume
        }) {
            throw place.error(at: clash.line, "container \"\(name)\" already mounts \(clash.field("name") ?? "a volume") "
                + "at \(SluiceSidecar.socketDirectory), where the sidecar's socket goes")
        }
        let env = try list("env", in: fields, "env of \(name)")
        return .mapping(fields
            .setting("env", sequence(NamedList.upsert(sidecar.appEnv, in: env), like: fields["env"]))
            .setting("volumeMounts", sequence(NamedList.upsert(sidecar.appMount, in: mounts), like: fields["volumeMounts"])))
    }

    /// The items of a list field; absent or null is empty, anything else but a list of mappings
    /// is an error.
    private func list(_ key: String, in parent: YAMLMapping, _ what: String) throws(InjectError) -> [YAMLNode] {
        guard let node = parent[key], !node.isNull else { return [] }
        guard case .sequence(let items) = node else {
            throw place.error(at: parent.line(of: key), "\(what) must be a list")
        }
        if let odd = items.items.first(where: { $0.mapping == nil }) {
            throw place.error(at: odd.line, "\(what) must be a list of mappings")
        }
        return items.items
    }

    private func mapping(_ key: String, in parent: YAMLMapping, _ what: String) throws(InjectError) -> YAMLMapping {
        guard let node = parent[key], !node.isNull else { return YAMLMapping() }
        guard case .mapping(let fields) = node else {
            throw place.error(at: parent.line(of: key), "\(what) must be a mapping")
        }
        return fields
    }

    /// A list with the tag of the one it replaces. Style is left to the emitter: a flow `[]`
    /// that now holds our mappings reads better as a block list.
    private func sequence(_ items: [YAMLNode], like original: YAMLNode?) -> YAMLNode {
        .sequence(YAMLSequence(items, tag: original?.sequence?.tag))
    }
}
