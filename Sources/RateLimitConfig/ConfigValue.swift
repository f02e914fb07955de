public import RateLimitCore
import Yams

/// A parsed document independent of its syntax (the admin API's JSON), validated by the same
/// rules as the YAML file without ever becoming YAML text: a JSON string is the rule's string,
/// byte for byte (YAML text would fold NEL, strip a BOM and refuse C1 controls: red team 2, F13).
public indirect enum ConfigValue: Sendable, Equatable {
    case null
    case bool(Bool)
    /// The number's literal text.
    case number(String)
    case string(String)
    case array([ConfigValue])
    case object([(String, ConfigValue)])

    public static func == (a: ConfigValue, b: ConfigValue) -> Bool {
        switch (a, b) {
        case (.null, .null): true
        case (.bool(let x), .bool(let y)): x == y
        case (.number(let x), .number(let y)): x == y
        case (.string(let x), .string(let y)): x == y
        case (.array(let x), .array(let y)): x == y
        case (.object(let x), .object(let y)): x.count == y.count && zip(x, y).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
        default: false
        }
    }

    /// The value as a YAML node with no source position: strings are quoted scalars (never
    /// numbers or booleans), numbers and booleans plain ones.
    var node: Node {
        switch self {
        case .null: .scalar(.init("null", .implicit, .plain))
        case .bool(let b): .scalar(.init(b ? "true" : "false", .implicit, .plain))
        case .number(let text): .scalar(.init(text, .implicit, .plain))
        case .string(let s): .scalar(.init(s, Tag(.str), .doubleQuoted))
        case .array(let items): .sequence(.init(items.map(\.node)))
        case .object(let pairs): .mapping(.init(pairs.map { (Node.scalar(.init($0.0, Tag(.str), .doubleQuoted)), $0.1.node) }))
        }
    }
}

extension ConfigLoader {
    /// Parses one rule from a neutral tree (the admin API's JSON body). Errors name the field
    /// by its JSON path: `$.limit: must be an integer`.
    public static func parseRule(_ value: ConfigValue) throws(ConfigError) -> Rule {
        do throws(ConfigError) {
            return try parseRule(value.node, path: "")
        } catch {
            throw ConfigError(field: error.field.isEmpty ? "$" : "$.\(error.field)", line: nil, column: nil, message: error.message)
        }
    }
}
