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
}
