/// Parses YAML text into nodes. Supports block and flow collections, comments, multi-document
/// streams, the `%YAML` directive, plain, quoted and block scalars, tags and anchors (aliases
/// are resolved). Refuses, with the line and column, what it does not support: `%TAG`
/// directives, explicit `? ` keys and collections as keys; nesting is bounded (`maxDepth`), and
/// so is what aliases expand to (`maxNodes`), so hostile text cannot exhaust the stack or memory.
public enum YAMLParser {
    /// The deepest nesting of collections accepted.
    public static let maxDepth = 128
    /// The most nodes a document may hold, counting each alias as a copy of what it names.
    public static let maxNodes = 1_000_000

    /// Every document of the stream, in order; empty for text with no documents.
    public static func documents(_ text: String) throws(YAMLError) -> [YAMLNode] {
        var composer = YAMLComposer(scanner: try YAMLScanner(text))
        return try composer.documents()
    }

    /// The stream's only document; nil when it has none (only blank lines and comments).
    public static func document(_ text: String) throws(YAMLError) -> YAMLNode? {
        let all = try documents(text)
        if all.count > 1 {
            throw YAMLError("expected a single document, found \(all.count)", at: all[1].mark ?? YAMLMark(line: 1, column: 1))
        }
        return all.first
    }
}
