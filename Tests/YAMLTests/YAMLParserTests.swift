import Testing
import YAML

/// The parser on what Kubernetes manifests and Sluice configs use, and on what it refuses.
@Suite struct YAMLParserTests {
    func parse(_ text: String) throws -> YAMLNode {
        try #require(try YAMLParser.document(text))
    }

    func failure(_ text: String) -> YAMLError? {
        do {
            _ = try YAMLParser.documents(text)
            return nil
        } catch {
            return error
        }
    }

    @Test func blockMappingsAndSequencesWithMarks() throws {
        let root = try parse("""
            a: 1
            b:
              c: x
            seq:
            - one
            - two: 2
              three: 3
            nested:
              - - p
                - q
            """)
        let mapping = try #require(root.mapping)
        #expect(mapping.pairs.map { $0.key.string } == ["a", "b", "seq", "nested"])
        #expect(mapping.mark == YAMLMark(line: 1, column: 1))
        #expect(mapping["b"]?.mapping?["c"]?.string == "x")
        #expect(mapping["b"]?.mark == YAMLMark(line: 3, column: 3))
        let seq = try #require(mapping["seq"]?.sequence)
        #expect(seq.mark == YAMLMark(line: 5, column: 1))
        #expect(seq.items.count == 2)
        #expect(seq.items[1].mapping?["three"]?.string == "3")
        #expect(seq.items[1].mapping?["three"]?.mark == YAMLMark(line: 7, column: 10))
        #expect(mapping["nested"]?.sequence?.items.first?.sequence?.items.map(\.string) == ["p", "q"])
    }

    @Test func flowCollections() throws {
        let root = try parse("""
            a: [1, "two", {k: v, e: }, []]
            b: {x: [y,
                 z], "q":1}
            c: [k: v]
            """)
        let a = try #require(root.mapping?["a"]?.sequence?.items)
        #expect(a.map(\.string) == ["1", "two", nil, nil])
        #expect(a[2].mapping?["e"]?.isNull == true)
        #expect(root.mapping?["b"]?.mapping?["x"]?.sequence?.items.map(\.string) == ["y", "z"])
        #expect(root.mapping?["b"]?.mapping?["q"]?.string == "1")
        #expect(root.mapping?["c"]?.sequence?.items.first?.mapping?["k"]?.string == "v")
    }

    @Test(arguments: [
        ("plain", "plain", YAMLScalarStyle.plain),
        ("'it''s'", "it's", .singleQuoted),
        (#""a\tb\n\"\\\x41\u00e9\U0001F600\/\ \N\_\L\P\0""#, "a\tb\n\"\\Aé😀/ \u{85}\u{A0}\u{2028}\u{2029}\u{0}", .doubleQuoted),
        ("\"folded\n  line\n\n  break\"", "folded line\nbreak", .doubleQuoted),
        ("\"escaped \\\n  break\"", "escaped break", .doubleQuoted),
        ("plain\n  continued\n\n  after blank", "plain continued\nafter blank", .plain),
        ("a#b # comment", "a#b", .plain),
    ])
    func scalars(text: String, value: String, style: YAMLScalarStyle) throws {
        let node = try parse("k: " + text + "\n")
        #expect(node.mapping?["k"]?.string == value)
        #expect(node.mapping?["k"]?.scalar?.style == style)
    }

    @Test(arguments: [
        ("k: |\n  a\n   b\n\n", "a\n b\n"),
        ("k: |-\n  a\n  b\n", "a\nb"),
        ("k: |+\n  a\n\n\nn: 1", "a\n\n\n"),
        ("k: >\n  a\n  b\n\n  c\n   d\n  e\n", "a b\nc\n d\ne\n"),
        ("k: |2\n    indented\n  x\n", "  indented\nx\n"),
        ("k: >-\n\n  a\n", "\na"),
        ("- |\n  item\n- next", "item\n"),
    ])
    func blockScalars(text: String, value: String) throws {
        let node = try parse(text)
        let scalar = node.mapping?["k"] ?? node.sequence?.items.first
        #expect(scalar?.string == value)
    }

    @Test func anchorsAliasesAndTags() throws {
        let root = try parse("""
            base: &b {cpu: "1", memory: 1Gi}
            copy: *b
            tagged: !!str 123
            int: 123
            custom: !thing x
            list: &l
              - 1
            again: *l
            """)
        let mapping = try #require(root.mapping)
        #expect(mapping["copy"] == mapping["base"])
        #expect(mapping["again"] == mapping["list"])
        #expect(mapping["tagged"]?.resolvedTag == YAMLTag.str)
        #expect(mapping["tagged"]?.scalar?.tag == "!!str")
        #expect(mapping["int"]?.resolvedTag == YAMLTag.int)
        #expect(mapping["tagged"] != mapping["int"])
        #expect(mapping["custom"]?.resolvedTag == "!thing")
    }

    @Test func documentsDirectivesAndComments() throws {
        let documents = try YAMLParser.documents("""
            %YAML 1.2
            # leading comment
            --- # after the marker
            a: 1
            ...
            ---
            - b
            --- text
            ---
            """)
        #expect(documents.count == 4)
        #expect(documents[0].mapping?["a"]?.string == "1")
        #expect(documents[1].sequence?.items.first?.string == "b")
        #expect(documents[2].string == "text")
        #expect(documents[3].isNull)
        #expect(try YAMLParser.documents("# only a comment\n\n").isEmpty)
        #expect(try YAMLParser.document("a: 1\r\nb: 2\r\n")?.mapping?["b"]?.string == "2")
    }

    @Test(arguments: [
        ("null", YAMLTag.null), ("~", YAMLTag.null), ("", YAMLTag.null), ("true", YAMLTag.bool), ("yes", YAMLTag.bool),
        ("Off", YAMLTag.bool), ("0666", YAMLTag.int), ("1_000", YAMLTag.int), ("0x1F", YAMLTag.int), ("-5", YAMLTag.int),
        ("190:20:30", YAMLTag.int), ("1.5", YAMLTag.float), ("1e3", YAMLTag.float), (".inf", YAMLTag.float),
        (".NaN", YAMLTag.float), ("2024-01-02", YAMLTag.timestamp), ("2001-12-14t21:59:43.10-05:00", YAMLTag.timestamp),
        ("0.0.0.0:9780", YAMLTag.str), ("50m", YAMLTag.str), ("1Gi", YAMLTag.str), ("nulls", YAMLTag.str), ("<<", YAMLTag.merge),
    ])
    func plainScalarsResolveAsYamsDid(text: String, tag: String) {
        #expect(YAMLScalar(text).resolvedTag == tag)
    }

    @Test(arguments: [
        ("a: 1\na: 2\n", 2, 1, "duplicate key \"a\""),
        ("a: [1, 2\nb: 3\n", 2, 1, "expected ',' or ']'"),
        ("a: {b: 1\n", 2, 1, "the text ends before the closing '}'"),
        ("a: \"open\n", 2, 1, "the text ends inside a quoted scalar"),
        ("a: 1\n  b: 2\n", 2, 4, "a mapping key must fit on one line"),
        ("a: b: c\n", 1, 5, "a mapping cannot start on the line of its key"),
        ("a:\n  - x\n  y: 1\n", 3, 3, "this line is indented more than the mapping's keys"),
        ("? complex\n: value\n", 1, 1, "explicit mapping keys"),
        ("[a]: b\n", 1, 4, "a flow collection as a mapping key is not supported"),
        ("%TAG ! tag:example.com:\n--- a\n", 1, 1, "%TAG"),
        ("%YAML 2.0\n--- a\n", 1, 1, "unsupported YAML version"),
        ("a: *nowhere\n", 1, 4, "unknown anchor \"nowhere\""),
        ("a:\n\t- b\n", 2, 1, "a tab character cannot indent"),
        ("a: \"\\q\"\n", 1, 5, "unknown escape sequence \\q"),
        ("a: \"\u{1}\"\n", 1, 5, "control character U+0001"),
        ("a: 1\n- b\n", 2, 1, "expected a mapping key, found a sequence entry"),
        ("- a\nb: 1\n", 2, 1, "unexpected content after the document's top-level node"),
        ("a: @x\n", 1, 4, "unexpected '@'"),
        ("a: |x\n", 1, 5, "chomping indicator"),
        ("a: 'x'y\n", 1, 7, "unexpected text after the scalar"),
    ])
    func refusalsNameLineAndColumn(text: String, line: Int, column: Int, message: String) throws {
        let error = try #require(failure(text))
        #expect(error.mark == YAMLMark(line: line, column: column), "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }

    /// `~`, `null` and an empty key are the same key (null), as YAML compares keys by value.
    @Test func nullKeysAreOneKey() throws {
        #expect(failure("{~: 1, null: 2}")?.message == "duplicate key \"null\" in a mapping")
        #expect(failure("{: 1, ~: 2}")?.message.contains("duplicate key") == true)
        #expect(try parse("{~: 1}") == (try parse("{null: 1}")))
        #expect(try parse("{~: 1}") != (try parse("{'~': 1}")))
    }

    @Test func aMissingBraceIsFoundWhereTheBlockResumes() throws {
        let error = try #require(failure("kind: Deployment\nmetadata:\n  labels: {app: broken\nspec:\n  x: 1\n"))
        #expect(error.mark.line == 4)
        #expect(error.context == "while parsing a flow mapping")
        #expect(error.contextMark == YAMLMark(line: 3, column: 11))
    }

    @Test func nestingIsBounded() throws {
        let deep = String(repeating: "[", count: YAMLParser.maxDepth + 1)
        #expect(failure(deep)?.message.contains("nested deeper") == true)
        let blocks = (0...YAMLParser.maxDepth).map { String(repeating: " ", count: $0) + "k:" }.joined(separator: "\n") + " v\n"
        #expect(failure(blocks)?.message.contains("nested deeper") == true)
        let fine = (0..<20).map { String(repeating: " ", count: $0 * 2) + "k:" }.joined(separator: "\n") + " v\n"
        #expect(failure(fine) == nil)
    }

    @Test func aliasExpansionIsBounded() throws {
        var text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n"
        for level in 1...8 {
            text += "a\(level): &a\(level) [" + Array(repeating: "*a\(level - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        #expect(failure(text)?.message.contains("expands to more than") == true)
    }
}

/// Inputs the fuzzer (FuzzYAML) found, kept as regressions.
@Suite struct YAMLFuzzRegressionTests {
    /// A tag before a sequence item's first key is the key's, and the mapping starts at the tag.
    @Test func aTagBeforeTheFirstKeyOfAnItem() throws {
        let text = "- !!str key: 1\n  other: 2\n"
        let item = try #require(try YAMLParser.document(text)?.sequence?.items.first?.mapping)
        #expect(item.pairs.map { $0.key.string } == ["key", "other"])
        #expect(item.pairs.first?.key.scalar?.tag == "!!str")
        #expect(item.tag == nil)
        let written = YAMLEmitter.document(try #require(try YAMLParser.document(text)))
        #expect(written == text)
    }

    @Test(arguments: ["{[]}", "{{a: 1}}", "{[a], b}"])
    func aCollectionAsAFlowMappingKeyIsRefused(text: String) throws {
        #expect(throws: YAMLError.self) { try YAMLParser.documents(text) }
    }
}

extension YAMLFuzzRegressionTests {
    /// An error about an alias points at the alias, not at its anchor (the fuzzer saw an error
    /// placed before the flow mapping it was found in).
    @Test func anAliasIsPlacedWhereItIs() throws {
        let found: YAMLError?
        do {
            _ = try YAMLParser.documents("s: &base {}\nI: {*base\n")
            found = nil
        } catch {
            found = error
        }
        let error = try #require(found)
        #expect(error.mark == YAMLMark(line: 2, column: 5))
        #expect(error.message == "a collection as a mapping key is not supported")
        let root = try #require(try YAMLParser.document("a: &x 1\nb: *x\n")?.mapping)
        #expect(root["b"]?.mark == YAMLMark(line: 2, column: 4))
        #expect(root["b"] == root["a"])
    }
}
