public import RateLimitCore
import YAML

extension ConfigValue {
    /// The value as a YAML node with no source position: strings are quoted scalars (never
    /// numbers or booleans), numbers and booleans plain ones.
    var node: YAMLNode {
        switch self {
        case .null: .scalar(YAMLScalar("null"))
        case .bool(let b): .scalar(YAMLScalar(b ? "true" : "false"))
        case .number(let text): .scalar(YAMLScalar(text))
        case .string(let s): .scalar(YAMLScalar(s, style: .doubleQuoted))
        case .array(let items): .sequence(YAMLSequence(items.map(\.node)))
        case .object(let pairs): .mapping(YAMLMapping(pairs.map { YAMLPair(.scalar(YAMLScalar($0.0, style: .doubleQuoted)), $0.1.node) }))
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
