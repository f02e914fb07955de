import RateLimitCore
import YAML

/// Reads a rule's `descriptors:` (the Envoy descriptors it answers over gRPC RLS v3):
///
///     descriptors:
///       - domain: edge
///         entries: [remote_address]                        # any value: the value is the key
///       - domain: edge
///         entries: [{ key: path, value: /login }, user_id] # path must be /login
enum DescriptorParser {
    static func parse(_ r: MappingReader) throws(ConfigError) -> [DescriptorMatch] {
        var matches: [DescriptorMatch] = []
        for (i, node) in (try r.sequence("descriptors") ?? []).enumerated() {
            let d = try MappingReader(node, path: r.child("descriptors[\(i)]"))
            try d.rejectUnknown(["domain", "entries"])
            let domain = try d.requiredString("domain")
            guard let entryNodes = try d.sequence("entries") else { throw ConfigError.at(node, d.child("entries"), "is required") }
            var entries: [DescriptorEntry] = []
            for (j, entryNode) in entryNodes.enumerated() {
                entries.append(try entry(entryNode, path: d.child("entries[\(j)]")))
            }
            do {
                matches.append(try DescriptorMatch(domain: domain, entries: entries))
            } catch {
                let field = error.field.split(separator: ".").last.map(String.init) ?? "entries"
                throw ConfigError.at(d.node(for: field), d.child(field), error.message)
            }
        }
        return matches
    }

    /// `key` (any value) or `{ key: K, value: V }`.
    private static func entry(_ node: YAMLNode, path: String) throws(ConfigError) -> DescriptorEntry {
        if case .scalar(let scalar) = node {
            guard !scalar.text.isEmpty else { throw ConfigError.at(node, path, "must not be empty") }
            return DescriptorEntry(key: scalar.text)
        }
        let e = try MappingReader(node, path: path)
        try e.rejectUnknown(["key", "value"])
        return DescriptorEntry(key: try e.requiredString("key"), value: try e.string("value"))
    }

    /// Rejects a domain and entries that an earlier rule (or descriptor) already matches, naming
    /// the descriptor's line (the rule set would reject it too, but without one).
    static func rejectDuplicates(_ rules: [Rule], nodes: [YAMLNode]) throws(ConfigError) {
        guard let (i, j, first) = DescriptorIndex.firstDuplicate(in: rules) else { return }
        let node = (try? MappingReader(nodes[i], path: "rules[\(i)]").sequence("descriptors"))??[j] ?? nodes[i]
        let domain = rules[i].descriptors[j].domain
        throw ConfigError.at(
            node, "rules[\(i)].descriptors[\(j)]", "rule \"\(first)\" already matches domain \"\(domain)\" with these entries")
    }
}
