import Testing
@testable import VBatchConfig

/// Table headers that made toml++ 3.4.0 assert (and so abort vbatchd or `vbatch config
/// check`), found by `vbatch-fuzz config` (Tests/fuzz/config/crash-table-header-*): now a
/// syntax error on the header's line.
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
        #expect(TOMLGuard.firstUnsafeTableHeader(in: text) == 3)
        #expect(throws: TOMLHeaderError(line: 3)) { try TOMLGuard.parse(text) }
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
        #expect(TOMLGuard.firstUnsafeTableHeader(in: text) == nil)
        #expect(TOMLGuard.firstUnsafeTableHeader(in: "[") == nil)
    }
}
