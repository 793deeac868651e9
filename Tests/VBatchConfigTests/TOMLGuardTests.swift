import Testing
@testable import VBatchConfig

/// TOML that made toml++ 3.4.0 assert (and so abort vbatchd, `vbatch config check` or
/// `vbatch image build`), found by `vbatch-fuzz config` and `vbatch-fuzz recipe`
/// (Tests/fuzz/config/crash-*, Tests/fuzz/recipe/crash-*): now a syntax error on its line.
@Suite struct TOMLGuardTests {
    @Test("a header whose key starts with '#' is a syntax error, not an abort")
    func hashAfterBracket() throws {
        try ConfigFixture(["queues/q.toml": """
            [queue.grid]
            type = "routing"
            destinations = ["one-way"]
            [#queue.one-way]
            """]).expectSingleError(file: "queues/q.toml", line: 4, key: "",
                                    message: "TOML syntax error while parsing table header")
    }

    @Test("other characters toml++ asserted on after '[' or '[['", arguments: [
        "[=x]", "[[ #x]]", "[\n", "[ \t\r\n", "[.a]", "[\u{FFFD}ite]", "[[{]]",
    ])
    func otherStarts(_ header: String) throws {
        let text = "[site]\nname = \"x\"\n" + header
        #expect(TOMLGuard.firstUnsafeSyntax(in: text) == .header(3))
        #expect(throws: TOMLGuardError.header(3)) { try TOMLGuard.parse(text) }
    }

    @Test("a '}' where an array expects a value is a syntax error, not an abort")
    func braceInArray() throws {
        try ConfigFixture(["queues/q.toml": """
            [queue.grid]
            type = "routing"
            destinations = ["one-way",
              }]
            """]).expectSingleError(file: "queues/q.toml", line: 4, key: "",
                                    message: "TOML syntax error while parsing array")
        for text in ["a = [}]", "a = [ # c\n }]", "a = [[1], }]", "a = [{ b = [ }] }]"] {
            #expect(TOMLGuard.firstUnsafeSyntax(in: text)?.line != nil, "\(text)")
        }
    }

    /// Tests/fuzz/recipe/crash-bom-header: a byte order mark, then such a header.
    @Test("after a byte order mark too")
    func afterByteOrderMark() {
        #expect(TOMLGuard.firstUnsafeSyntax(in: "\u{FEFF}[\u{FFFD}]") == .header(1))
        #expect(TOMLGuard.firstUnsafeSyntax(in: "\u{FEFF}[a]") == nil)
    }

    /// Tests/fuzz/config/crash-datetime-t: toml++ asserted that a time follows the `T`.
    @Test("a date-time with no time after its 'T' is a syntax error, not an abort")
    func dateTimeWithoutTime() throws {
        try ConfigFixture(["queues/q.toml": """
            [queue.grid]
            type = 1979-05-27T[vo.2:00Z
            """]).expectSingleError(file: "queues/q.toml", line: 2, key: "",
                                    message: "TOML syntax error while parsing date-time")
        for text in ["a = 1979-05-27t", "a = [1979-05-27Tx]", "a = { b = 2000-01-01T }", "a = [\n 1, 1979-05-27T:00 ]"] {
            #expect(TOMLGuard.firstUnsafeSyntax(in: text) != nil, "\(text)")
        }
        for text in ["a = 1979-05-27T07:32:00Z", "a = 1979-05-27 07:32:00", "a = 1979-05-27", "1979-05-27T = 1"] {
            #expect(TOMLGuard.firstUnsafeSyntax(in: text) == nil, "\(text)")
        }
    }

    /// Tests/fuzz/recipe/crash-crlf-header: with CRLF line ends the text before the header
    /// was not cut, and toml++ was given the header after all.
    @Test("with CRLF line ends too")
    func crlfLineEnds() {
        #expect(throws: TOMLGuardError.header(2)) { try TOMLGuard.parse("a = 1\r\n[#") }
        #expect(throws: TOMLGuardError.arrayValue(3)) { try TOMLGuard.parse("a = 1\r\nb = [\r\n}]") }
    }

    @Test("an earlier syntax error is the one reported")
    func earlierErrorFirst() throws {
        try ConfigFixture(["queues/q.toml": """
            [queue.grid]
            type = routing
            [#x]
            """]).expectSingleError(file: "queues/q.toml", line: 2, key: "", message: "TOML syntax error")
    }

    @Test("brackets inside values, strings and comments are not headers")
    func valuesAreNotHeaders() throws {
        let text = #"""
            # [# a comment
            a = [
              [1, 2],
            [ "x" ],
              [ # comment
                3 ],
            ]
            b = """
            [#not a header
            ["""
            c = '''
            [=
            '''
            d = "[#" # [#
            e = { f = [ "]" ] }
            ["quoted . key"]
            [ 'lit' . bare-key_1 ]
            [[ array ]]
            []
            """#
        #expect(TOMLGuard.firstUnsafeSyntax(in: text) == nil)
        #expect(TOMLGuard.firstUnsafeSyntax(in: "[") == nil)
        #expect(TOMLGuard.firstUnsafeSyntax(in: "a = [1, { b = 2 }, [ ], ]\nc = { d = [] }") == nil)
    }
}
