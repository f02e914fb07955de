/// Writes a node as block-style YAML: mappings and sequences one entry a line (sequences under a
/// key at the key's indentation, as kubectl writes them), empty ones as `{}` and `[]`, scalars
/// in their own style where the text allows it. A plain scalar that would break the syntax is
/// double-quoted, and a multi-line one becomes a literal block; folded blocks are written as
/// literal ones. Reading the output gives back equal nodes, and writing them again gives the
/// same text. Anchors are not written: aliases were resolved when the text was read.
public enum YAMLEmitter {
    /// The node as a YAML document, ending in a line break.
    public static func document(_ node: YAMLNode) -> String {
        var output = ""
        switch node {
        case .mapping(let mapping) where !mapping.pairs.isEmpty:
            if let tag = mapping.tag { output += tag + "\n" }
            writePairs(mapping.pairs, indent: 0, to: &output)
        case .sequence(let sequence) where !sequence.items.isEmpty:
            if let tag = sequence.tag { output += tag + "\n" }
            writeItems(sequence.items, indent: 0, to: &output)
        default:
            output += "---"
            writeValue(node, indent: 2, to: &output)
        }
        return output
    }

    private static func spaces(_ count: Int) -> String { String(repeating: " ", count: count) }

    /// Pairs at `indent`, the first one written where `output` stands.
    private static func writePairs(_ pairs: [YAMLPair], indent: Int, to output: inout String) {
        for (index, pair) in pairs.enumerated() {
            if index > 0 { output += spaces(indent) }
            if let key = pair.key.scalar {
                output += ScalarWriter.key(key)
                output += ":"
            } else {
                output += "?"
                writeValue(pair.key, indent: indent + 2, to: &output)
                output += spaces(indent) + ":"
            }
            if case .sequence(let sequence) = pair.value, !sequence.items.isEmpty, sequence.tag == nil {
                output += "\n" + spaces(indent)
                writeItems(sequence.items, indent: indent, to: &output)
            } else {
                writeValue(pair.value, indent: indent + 2, to: &output)
            }
        }
    }

    /// Items at `indent`, the first one written where `output` stands.
    private static func writeItems(_ items: [YAMLNode], indent: Int, to output: inout String) {
        for (index, item) in items.enumerated() {
            if index > 0 { output += spaces(indent) }
            output += "-"
            switch item {
            case .mapping(let mapping) where !mapping.pairs.isEmpty && mapping.tag == nil:
                output += " "
                writePairs(mapping.pairs, indent: indent + 2, to: &output)
            case .sequence(let sequence) where !sequence.items.isEmpty && sequence.tag == nil:
                output += " "
                writeItems(sequence.items, indent: indent + 2, to: &output)
            default:
                writeValue(item, indent: indent + 2, to: &output)
            }
        }
    }

    /// A value after `key:` or `-`: a space and the scalar on this line, or a break and the
    /// collection at `indent`. Ends with a line break.
    private static func writeValue(_ node: YAMLNode, indent: Int, to output: inout String) {
        switch node {
        case .scalar(let scalar):
            let text = ScalarWriter.value(scalar, indent: indent)
            output += (text.isEmpty ? "" : " ") + text + (text.hasSuffix("\n") ? "" : "\n")
        case .mapping(let mapping):
            writeCollection(tag: mapping.tag, empty: mapping.pairs.isEmpty ? "{}" : nil, indent: indent, to: &output) {
                writePairs(mapping.pairs, indent: indent, to: &$0)
            }
        case .sequence(let sequence):
            writeCollection(tag: sequence.tag, empty: sequence.items.isEmpty ? "[]" : nil, indent: indent, to: &output) {
                writeItems(sequence.items, indent: indent, to: &$0)
            }
        }
    }

    /// A collection after `key:` or `-`: its tag, then `empty` on this line, or its entries
    /// from the next line at `indent`.
    private static func writeCollection(
        tag: String?, empty: String?, indent: Int, to output: inout String, entries: (inout String) -> Void
    ) {
        output += tag.map { " " + $0 } ?? ""
        if let empty {
            output += " " + empty + "\n"
        } else {
            output += "\n" + spaces(indent)
            entries(&output)
        }
    }
}
