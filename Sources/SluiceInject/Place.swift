internal import YAML

/// A document being rewritten, for errors that name the document and the input line.
struct Place {
    let document: SourceDocument

    /// An error at `line` of the document (1-based), reported as an input line.
    func error(at line: Int?, _ message: String) -> InjectError {
        InjectError(document: document.index, line: line.map { document.firstLine + $0 - 1 }, message: message)
    }

    /// A parse error, at its line, with the line of the construct it was in.
    func error(_ yaml: YAMLError) -> InjectError {
        let during = yaml.context.map { context in
            " (\(context)\(yaml.contextMark.map { " at line \(document.firstLine + $0.line - 1)" } ?? ""))"
        } ?? ""
        return error(at: yaml.mark.line, yaml.message + during)
    }

    /// `mapping` with the mapping at `path` replaced by `body`'s result; a missing or non-mapping
    /// step is the error `missing`, at the line of the step or of its parent.
    func update(
        _ mapping: YAMLMapping, at path: ArraySlice<String>, missing: String,
        _ body: (YAMLMapping) throws(InjectError) -> YAMLMapping
    ) throws(InjectError) -> YAMLMapping {
        guard let key = path.first else { return try body(mapping) }
        guard case .mapping(let child)? = mapping[key] else {
            throw error(at: mapping.line(of: key), missing)
        }
        return mapping.setting(key, .mapping(try update(child, at: path.dropFirst(), missing: missing, body)))
    }
}
