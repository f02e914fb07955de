/// Why YAML text was refused: what, where, and the construct being read when it went wrong.
public struct YAMLError: Error, Sendable, Equatable, CustomStringConvertible {
    public var message: String
    public var mark: YAMLMark
    /// The construct being read, e.g. "while parsing a flow mapping".
    public var context: String?
    /// Where that construct starts.
    public var contextMark: YAMLMark?

    public init(_ message: String, at mark: YAMLMark, context: String? = nil, contextMark: YAMLMark? = nil) {
        self.message = message
        self.mark = mark
        self.context = context
        self.contextMark = contextMark
    }

    /// `line 3, column 7: message (while parsing a flow mapping at line 2, column 9)`.
    public var description: String {
        "\(mark): \(message)" + (context.map { " (\($0)\(contextMark.map { " at \($0)" } ?? ""))" } ?? "")
    }
}
