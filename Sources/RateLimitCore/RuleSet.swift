/// A validated, ordered set of rules with unique names.
public struct RuleSet: Sendable, Hashable {
    /// The rules in the order they were given.
    public let rules: [Rule]
    private let index: [String: Int]
    /// The rule for each Envoy descriptor.
    public let descriptors: DescriptorIndex

    /// No rules.
    public static let empty = RuleSet(rules: [], descriptors: .empty)

    private init(rules: [Rule], descriptors: DescriptorIndex) {
        self.rules = rules
        self.index = Dictionary(rules.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { first, _ in first })
        self.descriptors = descriptors
    }

    public init(_ rules: [Rule]) throws(RuleError) {
        var index: [String: Int] = [:]
        for (i, rule) in rules.enumerated() {
            if index.updateValue(i, forKey: rule.name) != nil {
                throw RuleError(field: "rules[\(i)].name", message: "duplicate rule name \"\(rule.name)\"")
            }
        }
        self.rules = rules
        self.index = index
        self.descriptors = try DescriptorIndex(rules)
    }

    /// The rule named `name`, byte for byte (see `RateLimiter.sameName`).
    public subscript(name: String) -> Rule? {
        index[name].map { rules[$0] }.flatMap { RateLimiter.sameName($0.name, name) ? $0 : nil }
    }

    /// This set with `rule` added, or replacing the rule of the same name (keeping its position).
    /// Fails when `rule` declares a descriptor another rule already matches.
    public func upserting(_ rule: Rule) throws(RuleError) -> RuleSet {
        var rules = self.rules
        if let i = index[rule.name] { rules[i] = rule } else { rules.append(rule) }
        return try RuleSet(rules)
    }

    /// This set without the rule named `name`.
    public func removing(_ name: String) -> RuleSet {
        RuleSet(rules: rules.filter { $0.name != name }, descriptors: descriptors.removing(rule: name))
    }
}
