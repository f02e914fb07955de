import Testing
import YAML

/// The emitter's layout, its quoting, and that its output reads back as the same nodes.
@Suite struct YAMLEmitterTests {
    @Test func blockLayoutAsKubectlWritesIt() throws {
        let input = """
            kind: Deployment
            spec:
              template: {metadata: {labels: {app: web}}, spec: {containers: [{name: web, args: [a, "0666"]}], volumes: []}}
              empty: {}
              nothing:
              nested: [[a, b], [c]]
            """
        let expected = """
            kind: Deployment
            spec:
              template:
                metadata:
                  labels:
                    app: web
                spec:
                  containers:
                  - name: web
                    args:
                    - a
                    - "0666"
                  volumes: []
              empty: {}
              nothing:
              nested:
              - - a
                - b
              - - c

            """
        let node = try #require(try YAMLParser.document(input))
        #expect(YAMLEmitter.document(node) == expected)
    }

    @Test(arguments: [
        ("a: b", #""a: b""#), ("- x", #""- x""#), ("#x", ##""#x""##), ("x #y", #""x #y""#), ("x:", #""x:""#),
        (" lead", #"" lead""#), ("trail ", #""trail ""#), ("---", #""---""#), ("*star", #""*star""#), ("@at", #""@at""#),
        ("tab\there", "tab\there"), ("a\u{1}b", #""a\x01b""#), ("nel\u{85}", #""nel\N""#), ("-x", "-x"), ("a:b", "a:b"),
        ("x#y", "x#y"), ("{a}", #""{a}""#), ("é", "é"),
    ])
    func plainScalarsThatWouldBreakAreQuoted(text: String, written: String) throws {
        let output = YAMLEmitter.document(.mapping(YAMLMapping([YAMLPair(.scalar(YAMLScalar("k")), .scalar(YAMLScalar(text)))])))
        #expect(output == "k: \(written)\n")
        #expect(try YAMLParser.document(output)?.mapping?["k"]?.string == text)
    }

    @Test(arguments: [
        ("line one\nline two\n", "|\n  line one\n  line two\n"),
        ("no final break\nx", "|-\n  no final break\n  x\n"),
        ("kept\n\n\n", "|+\n  kept\n\n\n"),
        ("  indented first\nsecond\n", "|2\n    indented first\n  second\n"),
        ("\nleading empty\n", "|\n\n  leading empty\n"),
        ("\ttab first\n", "|2\n  \ttab first\n"),
        ("trailing space \nx\n", #""trailing space \nx\n""#),
        ("\n\n", #""\n\n""#),
    ])
    func multiLineStringsAreLiteralBlocks(text: String, written: String) throws {
        let output = YAMLEmitter.document(.mapping(YAMLMapping([YAMLPair(.scalar(YAMLScalar("k")), .scalar(YAMLScalar(text)))])))
        #expect(output == "k: \(written)" + (written.hasSuffix("\n") ? "" : "\n"))
        #expect(try YAMLParser.document(output)?.mapping?["k"]?.string == text)
    }

    @Test func stylesAndTagsAreKept() throws {
        let input = """
            plain: x
            single: 'it''s'
            double: "y"
            literal: |
              a
              b
            folded: >
              c
              d
            tagged: !!str 5
            custom: !thing {a: 1}
            """
        let node = try #require(try YAMLParser.document(input))
        let output = YAMLEmitter.document(node)
        #expect(output == """
            plain: x
            single: 'it''s'
            double: "y"
            literal: |
              a
              b
            folded: |
              c d
            tagged: !!str 5
            custom: !thing
              a: 1

            """)
        #expect(try YAMLParser.document(output) == node)
    }

    @Test func anEmptyKeyIsWrittenAsTilde() throws {
        let node = try #require(try YAMLParser.document("{: a, '': b}"))
        let output = YAMLEmitter.document(node)
        #expect(output == "~: a\n'': b\n")
        #expect(try YAMLParser.document(output) == node)
    }

    /// Whatever the strings, output reads back as equal nodes and writes the same text again.
    @Test func roundTripIsStable() throws {
        let nasty = [
            "", " ", "true", "null", "~", "0666", "1.5", "a: b", "- a", "? x", "'", "\"", "\\", "#", "&a", "*a", "!t", "|", ">",
            "%x", "@x", "`x", "[x]", "{x}", "x,y", "a\tb", "\t", "\u{0}", "\u{7F}", "\u{85}", "\u{2028}", "\u{FEFF}x", "é😀",
            "a\nb", "a\n", "a\n\n", "\na", " a\nb", "a \nb", "a\n\tb", "a\r\nb", "---", "...", "--- x", "x\n---\ny",
        ]
        let mapping = YAMLMapping(nasty.enumerated().flatMap { index, text in
            [YAMLScalarStyle.plain, .singleQuoted, .doubleQuoted, .literal, .folded].map { style in
                YAMLPair(.scalar(YAMLScalar("k\(index)-\(style)")), .sequence(YAMLSequence([
                    .scalar(YAMLScalar(text, style: style)),
                    .mapping(YAMLMapping([YAMLPair(.scalar(YAMLScalar(text, style: style)), .scalar(YAMLScalar(text, style: style)))])),
                ])))
            }
        })
        let output = YAMLEmitter.document(.mapping(mapping))
        let parsed = try #require(try YAMLParser.document(output))
        for (pair, back) in zip(mapping.pairs, parsed.mapping?.pairs ?? []) {
            #expect(pair.value == back.value || pair.value.sequence?.items.first?.scalar?.text == "", "\(pair.key.string ?? "")")
        }
        #expect(YAMLEmitter.document(parsed) == output)
    }
}
