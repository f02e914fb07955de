/// Why `sluice inject` refused its input, with the place: the document (1-based, in input order)
/// and the line (1-based, counted from the start of the whole input, not of the document).
public struct InjectError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The document the problem is in; nil for problems with the options.
    public var document: Int?
    /// The input line of the problem, when known.
    public var line: Int?
    public var message: String

    public init(document: Int?, line: Int?, message: String) {
        self.document = document
        self.line = line
        self.message = message
    }

    /// `document 2, line 7: message`, leaving out the parts that are unknown.
    public var description: String {
        let place = [document.map { "document \($0)" }, line.map { "line \($0)" }].compactMap(\.self)
        return place.isEmpty ? message : place.joined(separator: ", ") + ": " + message
    }
}
