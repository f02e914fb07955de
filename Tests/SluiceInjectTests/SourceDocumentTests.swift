@testable import SluiceInject
import Testing

@Suite struct SourceDocumentTests {
    @Test func splitsAtSeparatorLinesAndKeepsEveryByte() {
        let input = "a: 1\n---\nb: 2\n--- # two\nc: 3\n----\nd: |\n  ---x\n---\tx: 4\n"
        let documents = SourceDocument.split(input)
        #expect(documents.map(\.text) == ["a: 1\n", "---\nb: 2\n", "--- # two\nc: 3\n----\nd: |\n  ---x\n", "---\tx: 4\n"])
        #expect(documents.map(\.index) == [1, 2, 3, 4])
        #expect(documents.map(\.firstLine) == [1, 2, 4, 9])
        #expect(documents.map(\.text).joined() == input)
    }

    @Test func aLeadingSeparatorStartsTheFirstDocument() {
        let documents = SourceDocument.split("---\na: 1\n---\n")
        #expect(documents.map(\.text) == ["---\na: 1\n", "---\n"])
        #expect(documents.map(\.firstLine) == [1, 3])
    }

    @Test func crlfSeparators() {
        let documents = SourceDocument.split("a: 1\r\n---\r\nb: 2\r\n")
        #expect(documents.map(\.text) == ["a: 1\r\n", "---\r\nb: 2\r\n"])
    }

    @Test(arguments: [
        ("a: 1\n", ""),
        ("# top\n\n# more\nkind: Job\n# inside\n", "# top\n\n# more\n"),
        ("--- # note\n# top\nkind: Job\n", "--- # note\n# top\n"),
        ("---\nkind: Job\n", "---\n"),
        ("--- {kind: Job}\n", "---\n"),
        ("---\r\n# top\r\nkind: Job\r\n", "---\r\n# top\r\n"),
    ])
    func headerKeepsTheSeparatorAndLeadingComments(text: String, header: String) {
        #expect(SourceDocument(index: 1, firstLine: 1, text: text[...]).header == header)
    }
}
