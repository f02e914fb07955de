/// One document of a multi-document YAML text, kept as the exact text it came from so that
/// documents `sluice inject` does not change are written back byte for byte.
struct SourceDocument: Equatable {
    /// 1-based position among the input's documents.
    var index: Int
    /// The input line (1-based) where `text` starts.
    var firstLine: Int
    /// The document's text, verbatim, starting with its `---` line when it has one.
    var text: Substring

    /// Splits `input` at lines that are exactly `---` or start with `--- ` (a line break of
    /// `\r\n` allowed). Text before the first separator is a document only when there is any;
    /// directives (`%YAML …`) with only comments and blank lines around them belong to the
    /// document their `---` starts. Concatenating the documents' texts gives back `input`.
    static func split(_ input: String) -> [SourceDocument] {
        var documents: [SourceDocument] = []
        var start = input.startIndex
        var startLine = 1
        // Where directives may begin: the input's start, or the line after a `...` end marker.
        var prologue: (index: String.Index, line: Int)? = (input.startIndex, 1)
        for (number, line) in lines(input[...]).enumerated() {
            if isDocumentEnd(line) {
                prologue = (line.endIndex, number + 2)
                continue
            }
            guard isSeparator(line) else { continue }
            var cut = (index: line.startIndex, line: number + 1)
            if let prologue, prologue.index < line.startIndex, isDirectivePrologue(input[prologue.index..<line.startIndex]) {
                cut = prologue
            }
            prologue = nil
            guard cut.index > start else { continue }
            documents.append(SourceDocument(index: documents.count + 1, firstLine: startLine, text: input[start..<cut.index]))
            start = cut.index
            startLine = cut.line
        }
        if start < input.endIndex {
            documents.append(SourceDocument(index: documents.count + 1, firstLine: startLine, text: input[start...]))
        }
        return documents
    }

    /// A `...` line: the document before it has ended, and directives may follow.
    static func isDocumentEnd(_ line: Substring) -> Bool {
        let content = content(line)
        return content == "..." || content.hasPrefix("... ") || content.hasPrefix("...\t")
    }

    /// The separator line when it carries nothing but a comment, and the comment and blank lines
    /// after it: what a re-serialized document keeps of its text. A separator with content after
    /// it (`--- {kind: …}`) becomes a plain `---`.
    var header: String {
        var header = ""
        var rest = Self.lines(text)[...]
        // A directive prologue is kept whole: the separator after it must stay.
        if let separator = rest.firstIndex(where: Self.isSeparator), separator > rest.startIndex,
           Self.isDirectivePrologue(text[rest[rest.startIndex].startIndex..<rest[separator].startIndex]) {
            header = rest[..<separator].joined()
            rest = rest[separator...]
        }
        if let first = rest.first, Self.isSeparator(first) {
            let after = Self.content(first).dropFirst(3).drop { $0 == " " || $0 == "\t" }
            guard after.isEmpty || after.first == "#" else { return header + "---\n" }
            header += first
            rest = rest.dropFirst()
        }
        for line in rest where line.utf8.last == UInt8(ascii: "\n") {
            let content = Self.content(line).drop { $0 == " " || $0 == "\t" }
            guard content.isEmpty || content.first == "#" else { break }
            header += line
        }
        return header
    }

    /// Whether `text` is directives, with comments and blank lines, and nothing else.
    static func isDirectivePrologue(_ text: Substring) -> Bool {
        var sawDirective = false
        for line in lines(text) {
            let content = Self.content(line).drop { $0 == " " || $0 == "\t" }
            if content.first == "%" && content.startIndex == Self.content(line).startIndex {
                sawDirective = true
            } else if !(content.isEmpty || content.first == "#") {
                return false
            }
        }
        return sawDirective
    }

    static func isSeparator(_ line: Substring) -> Bool {
        let content = content(line)
        return content == "---" || content.hasPrefix("--- ") || content.hasPrefix("---\t")
    }

    /// The lines of `text`, each with its line break; split on the byte `\n` because Swift reads
    /// `\r\n` as one Character.
    static func lines(_ text: Substring) -> [Substring] {
        var result: [Substring] = []
        var start = text.startIndex
        while start < text.endIndex {
            let end = text.utf8[start...].firstIndex(of: UInt8(ascii: "\n")).map { text.utf8.index(after: $0) } ?? text.endIndex
            result.append(text[start..<end])
            start = end
        }
        return result
    }

    /// A line without its `\n` or `\r\n`.
    static func content(_ line: Substring) -> Substring {
        var bytes = line.utf8[...]
        if bytes.last == UInt8(ascii: "\n") { bytes = bytes.dropLast() }
        if bytes.last == UInt8(ascii: "\r") { bytes = bytes.dropLast() }
        return Substring(bytes)
    }
}
