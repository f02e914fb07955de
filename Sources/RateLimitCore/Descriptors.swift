/// One entry of an Envoy rate-limit descriptor that a rule matches (RLS v3): a key, and
/// optionally the one value it must have.
public struct DescriptorEntry: Sendable, Hashable {
    public let key: String
    /// The value the entry must have; nil matches any value, and that value becomes part of the
    /// rate-limit key.
    public let value: String?

    public init(key: String, value: String? = nil) {
        self.key = key
        self.value = value
    }
}

/// The descriptors a rule answers: a domain and the descriptor's entries, in order.
public struct DescriptorMatch: Sendable, Hashable {
    public let domain: String
    public let entries: [DescriptorEntry]

    public init(domain: String, entries: [DescriptorEntry]) throws(RuleError) {
        guard !domain.isEmpty else { throw RuleError(field: "descriptors.domain", message: "must not be empty") }
        guard !entries.isEmpty else { throw RuleError(field: "descriptors.entries", message: "needs at least one entry") }
        guard entries.allSatisfy({ !$0.key.isEmpty }) else {
            throw RuleError(field: "descriptors.entries", message: "an entry's key must not be empty")
        }
        self.domain = domain
        self.entries = entries
    }

    /// How many entries fix their value: the more, the more specific the match.
    var specificity: Int { entries.count { $0.value != nil } }
}

/// Finds the rule for an Envoy descriptor and builds its key. A descriptor matches a rule when it
/// has the same entry keys in the same order and every fixed value is equal; among several
/// matches the most specific wins (most fixed values), then the earlier rule.
///
/// The key is the descriptor's values of the rule's any-value entries joined by `|`; when the
/// rule fixes every value, it is the values joined the same way.
public struct DescriptorIndex: Sendable, Hashable {
    struct Candidate: Sendable, Hashable {
        var rule: String
        var match: DescriptorMatch
    }

    /// The candidates for one sequence of entry keys, most specific first.
    struct Group: Sendable, Hashable {
        var keys: [String]
        var candidates: [Candidate]
    }

    /// domain → first entry key → groups: a lookup hashes two strings and compares the rest,
    /// so it needs no array built from the request.
    private var table: [String: [String: [Group]]] = [:]
    /// The same groups as a list per domain, scanned without hashing, while the index is small
    /// (at most `scanLimit` groups): a few string comparisons beat two hashed lookups.
    private var list: [(domain: String, groups: [Group])]?
    static let scanLimit = 16

    public static func == (a: DescriptorIndex, b: DescriptorIndex) -> Bool { a.table == b.table }
    public func hash(into hasher: inout Hasher) { hasher.combine(table) }

    /// The result of looking a descriptor up.
    public enum Match: Sendable, Hashable {
        /// No rule names this domain.
        case unknownDomain
        /// The domain is known but no rule matches these entries.
        case noRule
        /// The rule and the key to check.
        case rule(String, key: String)
    }

    public static let empty = DescriptorIndex()

    private init() {}

    /// The first descriptor that an earlier one (of any rule) already declares: its rule's and
    /// its own position, and the name of the rule that declared it first.
    public static func firstDuplicate(in rules: [Rule]) -> (rule: Int, descriptor: Int, owner: String)? {
        var owner: [DescriptorMatch: String] = [:]
        for (i, rule) in rules.enumerated() {
            for (j, match) in rule.descriptors.enumerated() {
                if let first = owner.updateValue(rule.name, forKey: match) { return (i, j, first) }
            }
        }
        return nil
    }

    /// Indexes every rule's descriptors. Two rules declaring the same domain and entries is an error.
    init(_ rules: [Rule]) throws(RuleError) {
        if let duplicate = Self.firstDuplicate(in: rules) {
            throw RuleError(
                field: "rules[\(duplicate.rule)].descriptors[\(duplicate.descriptor)]",
                message: "rule \"\(duplicate.owner)\" already matches this domain and these entries")
        }
        var byKeys: [String: [[String]: [Candidate]]] = [:]
        for rule in rules {
            for match in rule.descriptors {
                byKeys[match.domain, default: [:]][match.entries.map(\.key), default: []].append(Candidate(rule: rule.name, match: match))
            }
        }
        for (domain, groups) in byKeys {
            for (keys, candidates) in groups.sorted(by: { $0.key.lexicographicallyPrecedes($1.key) }) {
                // A stable sort: equally specific candidates keep rule order.
                let ranked = candidates.enumerated().sorted {
                    ($0.element.match.specificity, -$0.offset) > ($1.element.match.specificity, -$1.offset)
                }
                table[domain, default: [:]][keys[0], default: []].append(Group(keys: keys, candidates: ranked.map(\.element)))
            }
        }
        list = Self.list(table)
    }

    private static func list(_ table: [String: [String: [Group]]]) -> [(domain: String, groups: [Group])]? {
        let groups = table.values.reduce(0) { $0 + $1.values.reduce(0) { $0 + $1.count } }
        guard groups <= scanLimit else { return nil }
        return table.sorted { $0.key < $1.key }.map { (domain: $0.key, groups: $0.value.values.flatMap { $0 }) }
    }

    /// This index without `rule`'s descriptors.
    func removing(rule: String) -> DescriptorIndex {
        var copy = DescriptorIndex()
        for (domain, byFirst) in table {
            for (first, groups) in byFirst {
                let kept = groups.compactMap { group -> Group? in
                    let candidates = group.candidates.filter { $0.rule != rule }
                    return candidates.isEmpty ? nil : Group(keys: group.keys, candidates: candidates)
                }
                if !kept.isEmpty { copy.table[domain, default: [:]][first] = kept }
            }
        }
        copy.list = Self.list(copy.table)
        return copy
    }

    /// Whether any rule matches descriptors of `domain`.
    public func knows(domain: String) -> Bool { table[domain] != nil }

    /// The rule and key for one descriptor's entries.
    public func match(domain: String, entries: [(key: String, value: String)]) -> Match {
        match(domain: domain, keys: entries.map(\.key)[...], values: entries.map(\.value)[...])
    }

    /// The rule and key for one descriptor's entries, given as their keys and values in order
    /// (slices of what Envoy's wire decoding yields: nothing is copied to look them up).
    public func match(domain: String, keys: ArraySlice<String>, values: ArraySlice<String>) -> Match {
        find(domain, keys, values)
    }

    /// The same, for a descriptor decoded into `SmallArray`s (the common one, with one entry,
    /// allocates nothing).
    public func match(domain: String, keys: Slice<SmallArray<String>>, values: Slice<SmallArray<String>>) -> Match {
        find(domain, keys, values)
    }

    private func find<Keys: Collection<String>, Values: Collection<String>>(_ domain: String, _ keys: Keys, _ values: Values) -> Match {
        let found: Group?
        if let list {
            guard let groups = list.first(where: { $0.domain == domain })?.groups else { return .unknownDomain }
            found = groups.first { $0.keys.elementsEqual(keys) }
        } else {
            guard let byFirst = table[domain] else { return .unknownDomain }
            found = keys.first.flatMap { byFirst[$0]?.first { $0.keys.elementsEqual(keys) } }
        }
        guard keys.count == values.count, let group = found else { return .noRule }
        for candidate in group.candidates where Self.fixedValuesMatch(candidate.match.entries, values) {
            return .rule(candidate.rule, key: Self.key(candidate.match.entries, values))
        }
        return .noRule
    }

    private static func fixedValuesMatch(_ entries: [DescriptorEntry], _ values: some Collection<String>) -> Bool {
        for (entry, value) in zip(entries, values) where entry.value != nil && entry.value != value { return false }
        return true
    }

    /// The values of the any-value entries joined by `|`; every value when the rule fixes them all.
    private static func key(_ entries: [DescriptorEntry], _ values: some Collection<String>) -> String {
        if entries.count == 1, entries[0].value == nil, let only = values.first { return only }  // one entry, any value
        var variable: String?
        var count = 0
        for (entry, value) in zip(entries, values) where entry.value == nil {
            count += 1
            if count == 1 { variable = value } else { break }
        }
        if count == 1, let variable { return variable }  // the common case: one key, no join
        let chosen = zip(entries, values).filter { $0.0.value == nil }.map(\.1)
        return chosen.isEmpty ? values.joined(separator: "|") : chosen.joined(separator: "|")
    }
}
