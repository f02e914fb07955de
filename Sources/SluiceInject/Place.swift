internal import Yams

/// A document being rewritten, for errors that name the document and the input line.
struct Place {
    let document: SourceDocument

    /// An error at `line` of the document (1-based, as Yams counts), reported as an input line.
    func error(at line: Int?, _ message: String) -> InjectError {
        InjectError(document: document.index, line: line.map { document.firstLine + $0 - 1 }, message: message)
    }

    /// A Yams parse error, with its line and without the document text Yams attaches.
    func error(_ yaml: YamlError) -> InjectError {
        switch yaml {
        case .scanner(let context, let problem, let mark, _), .parser(let context, let problem, let mark, _),
             .composer(let context, let problem, let mark, _):
            let during = context.map { " (\($0.text) at line \(document.firstLine + $0.mark.line - 1))" } ?? ""
            return error(at: mark.line, problem + during)
        case .duplicatedKeysInMapping(let duplicates, let context):
            return error(at: context.mark.line, "duplicate keys \(duplicates.joined(separator: ", "))")
        case .reader(let problem, _, _, _):
            return error(at: nil, "cannot read the text: \(problem)")
        default:
            return error(at: nil, "\(yaml)")
        }
    }

    /// `mapping` with the mapping at `path` replaced by `body`'s result; a missing or non-mapping
    /// step is the error `missing`, at the line of the step or of its parent.
    func update(
        _ mapping: Node.Mapping, at path: ArraySlice<String>, missing: String,
        _ body: (Node.Mapping) throws(InjectError) -> Node.Mapping
    ) throws(InjectError) -> Node.Mapping {
        guard let key = path.first else { return try body(mapping) }
        guard case .mapping(let child)? = mapping[key] else {
            throw error(at: mapping.line(of: key), missing)
        }
        return mapping.setting(key, .mapping(try update(child, at: path.dropFirst(), missing: missing, body)))
    }
}
