import Testing
@testable import VBatchConfig

@Suite struct SourceLocatorTests {
    let locator = SourceLocator(text: """
        # comment = not a key
        top = 1
        [queue.one-way]
        type = "execution"   # trailing comment
        environments = [
            "el9",
            "fake = 3",
        ]
        description = \"\"\"
        walltime_max = "not a key"
        \"\"\"
        walltime_max = "10h"

        [ queue . "a.b" ]
        'literal key' = 1
        "quoted\\"key" = 2
        nested.inner.leaf = true

        [[history]]
        when = 1
        """)

    @Test func headersAndKeys() {
        #expect(locator.exactLine(of: ["top"]) == 2)
        #expect(locator.exactLine(of: ["queue", "one-way"]) == 3)
        #expect(locator.exactLine(of: ["queue"]) == 3)
        #expect(locator.exactLine(of: ["queue", "one-way", "type"]) == 4)
        #expect(locator.exactLine(of: ["queue", "one-way", "environments"]) == 5)
    }

    @Test func multiLineValuesAreSkipped() {
        #expect(locator.exactLine(of: ["queue", "one-way", "walltime_max"]) == 12)
        #expect(locator.exactLine(of: ["queue", "one-way", "fake"]) == nil)
        #expect(locator.exactLine(of: ["comment"]) == nil)
    }

    @Test func quotedAndDottedKeys() {
        #expect(locator.exactLine(of: ["queue", "a.b"]) == 14)
        #expect(locator.exactLine(of: ["queue", "a.b", "literal key"]) == 15)
        #expect(locator.exactLine(of: ["queue", "a.b", "quoted\"key"]) == 16)
        #expect(locator.exactLine(of: ["queue", "a.b", "nested"]) == 17)
        #expect(locator.exactLine(of: ["queue", "a.b", "nested", "inner", "leaf"]) == 17)
        #expect(locator.exactLine(of: ["history", "when"]) == 20)
    }

    @Test func unknownPathsFallBackToTheEnclosingTable() {
        #expect(locator.line(of: ["queue", "one-way", "max_cores"]) == 3)
        #expect(locator.line(of: ["nothing"]) == 1)
    }

    @Test func crlfLineEndings() {
        let crlf = SourceLocator(text: "[a]\r\nx = 1\r\n\r\n[b]\r\ny = 2\r\n")
        #expect(crlf.exactLine(of: ["b", "y"]) == 5)
    }

    @Test func keyPathsQuoteWhatIsNotBare() {
        #expect(KeyPath.format(["queue", "one-way", "type"]) == "queue.one-way.type")
        #expect(KeyPath.format(["queue", "a.b"]) == "queue.\"a.b\"")
    }

    @Test func cpuLists() throws {
        #expect(try CPUList.parse("0-3,6").get() == [0, 1, 2, 3, 6])
        #expect(try CPUList.parse(" 8 , 2-3").get() == [8, 2, 3])
        for bad in ["", "a", "1-", "-1", "1-2-3", "0,,1", "99999999"] {
            #expect((try? CPUList.parse(bad).get()) == nil, "\(bad)")
        }
    }

    @Test func names() {
        for good in ["a", "one-way", "el9.x86_64", "0", String(repeating: "a", count: 64)] {
            #expect(Names.isValid(good), "\(good)")
        }
        for bad in ["", "-a", ".a", "a b", "a/b", "é", String(repeating: "a", count: 65)] {
            #expect(!Names.isValid(bad), "\(bad)")
        }
    }
}
