import Testing
@testable import VBatchClient

@Suite("HTTP response parsing")
struct HTTPResponseParserTests {
    func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// Feeds `input` in pieces of `step` bytes, then EOF.
    func parse(_ input: [UInt8], step: Int, method: String = "GET") throws -> HTTPResponse {
        var parser = HTTPResponseParser(requestMethod: method)
        var i = 0
        while i < input.count {
            let end = min(input.count, i + step)
            if try parser.feed(Array(input[i..<end])) { return parser.response! }
            i = end
        }
        return try parser.finish()
    }

    @Test func contentLength() throws {
        let raw = bytes("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 11\r\n\r\n{\"ok\":true}")
        for step in [1, 2, 7, raw.count] {
            let r = try parse(raw, step: step)
            #expect(r.status == 200)
            #expect(r.reason == "OK")
            #expect(r.header("content-type") == "application/json")
            #expect(r.header("Content-Length") == "11")
            #expect(r.body == bytes("{\"ok\":true}"))
        }
    }

    @Test func contentLengthCompletesWithoutEOF() throws {
        var parser = HTTPResponseParser()
        let done = try parser.feed(bytes("HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabcTRAILING GARBAGE"))
        #expect(done)
        #expect(parser.response?.status == 201)
        #expect(parser.response?.body == bytes("abc"))
    }

    @Test func chunkedWithExtensionsAndTrailers() throws {
        let raw = bytes("""
            HTTP/1.1 200 OK\r
            transfer-encoding: chunked\r
            \r
            4\r
            [{"a\r
            A;name=value;x="q"\r
            ":1},{"b":\r
            0003 \r
            2}]\r
            0\r
            X-Trailer: yes\r
            \r

            """)
        for step in [1, 3, 16, raw.count] {
            var parser = HTTPResponseParser()
            var done = false
            var i = 0
            while i < raw.count && !done {
                done = try parser.feed(Array(raw[i..<min(raw.count, i + step)]))
                i += step
            }
            #expect(done, "complete without EOF (step \(step))")
            #expect(parser.response?.body == bytes("[{\"a\":1},{\"b\":2}]"))
        }
    }

    @Test func chunkedUpperCaseHexAndBareLF() throws {
        let raw = bytes("HTTP/1.1 200 OK\nTransfer-Encoding: gzip, Chunked\n\n1A\nabcdefghijklmnopqrstuvwxyz\n0\n\n")
        let r = try parse(raw, step: 5)
        #expect(r.body == bytes("abcdefghijklmnopqrstuvwxyz"))
    }

    @Test func chunkedWinsOverContentLength() throws {
        let r = try parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\n"), step: 4)
        #expect(r.body == bytes("hi"))
    }

    @Test func untilEOF() throws {
        let raw = bytes("HTTP/1.0 500 Internal Server Error\r\nServer: x\r\n\r\nsomething broke\nbadly")
        var parser = HTTPResponseParser()
        #expect(try parser.feed(raw) == false)
        let r = try parser.finish()
        #expect(r.status == 500)
        #expect(r.reason == "Internal Server Error")
        #expect(r.body == bytes("something broke\nbadly"))
    }

    @Test func noBodyCases() throws {
        #expect(try parse(bytes("HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"), step: 100).body.isEmpty)
        #expect(try parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"), step: 100, method: "HEAD").body.isEmpty)
        #expect(try parse(bytes("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"), step: 100).body.isEmpty)
        let noReason = try parse(bytes("HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n"), step: 3)
        #expect(noReason.status == 404 && noReason.reason == "")
    }

    @Test func informationalResponsesAreSkipped() throws {
        let r = try parse(bytes("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"), step: 6)
        #expect(r.status == 200)
        #expect(r.body == bytes("ok"))
    }

    @Test func repeatedHeadersAreJoined() throws {
        let r = try parse(bytes("HTTP/1.1 200 OK\r\nX-A: 1\r\nx-a:  2 \r\nContent-Length: 0\r\n\r\n"), step: 100)
        #expect(r.header("X-A") == "1, 2")
    }

    @Test(arguments: [
        ("", "connection closed without a response"),
        ("HTTP/1.1 200 OK\r\nContent-Le", "connection closed in the middle of the response header"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc", "connection closed with 7 bytes of the body still missing"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab", "connection closed in the middle of a chunked body"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n", "connection closed in the middle of a chunked body"),
        ("SSH-2.0-OpenSSH_9.2\r\n\r\n", "bad status line: 'SSH-2.0-OpenSSH_9.2'"),
        ("HTTP/2 200 OK\r\n\r\n", "bad status line: 'HTTP/2 200 OK'"),
        ("HTTP/1.1 2x0 OK\r\n\r\n", "bad status line: 'HTTP/1.1 2x0 OK'"),
        ("HTTP/1.1 099 Odd\r\n\r\n", "bad status code 99"),
        ("HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", "bad Content-Length: -1"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 12abc\r\n\r\n", "bad Content-Length: 12abc"),
        ("HTTP/1.1 200 OK\r\nContent-Length: 3, 4\r\n\r\n", "bad Content-Length: 3, 4"),
        ("HTTP/1.1 200 OK\r\nNoColonHere\r\n\r\n", "header line without a colon: 'NoColonHere'"),
        ("HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n", "bad header name: 'Bad Name'"),
        ("HTTP/1.1 200 OK\r\nX: a\r\n  folded\r\n\r\n", "obsolete folded header line"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "bad chunk size line: 'zz'"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n", "bad chunk size line: ''"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n", "bad chunk size line: ';ext'"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n", "bad chunk size line: '1000000000000000'"),
        ("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabc\r\n0\r\n\r\n", "chunk data longer than its declared size"),
        ("HTTP/1.1 101 Switching Protocols\r\n\r\n", "unexpected protocol switch (101)"),
    ])
    func malformed(input: String, message: String) {
        #expect(throws: HTTPParseError(message)) { try HTTPResponseParser.parse(Array(input.utf8)) }
    }

    @Test func oversizedHeadAndBody() {
        let huge = "HTTP/1.1 200 OK\r\nX: " + String(repeating: "a", count: HTTPResponseParser.maxHeadBytes) + "\r\n\r\n"
        #expect(throws: HTTPParseError.self) { try HTTPResponseParser.parse(Array(huge.utf8)) }
        var small = HTTPResponseParser(maxBodyBytes: 4)
        #expect(throws: HTTPParseError("response body larger than 4 bytes")) {
            try small.feed(Array("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n".utf8))
        }
        var chunked = HTTPResponseParser(maxBodyBytes: 4)
        #expect(throws: HTTPParseError("response body larger than 4 bytes")) {
            try chunked.feed(Array("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\n".utf8))
        }
    }
}
