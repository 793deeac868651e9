import Testing
@testable import VBatchClient

@Suite("HTTP request serialisation")
struct HTTPRequestTests {
    @Test func getWithoutBody() throws {
        let bytes = try HTTPRequest.serialize(method: "GET", path: "/v1/jobs?all=1", body: nil)
        #expect(String(decoding: bytes, as: UTF8.self) == """
            GET /v1/jobs?all=1 HTTP/1.1\r
            Host: localhost\r
            User-Agent: vbatch\r
            Accept: application/json\r
            Content-Length: 0\r
            Connection: close\r
            \r

            """)
    }

    @Test func postWithBody() throws {
        let bytes = try HTTPRequest.serialize(method: "POST", path: "/v1/jobs", body: Array("{}".utf8))
        let text = String(decoding: bytes, as: UTF8.self)
        #expect(text.hasPrefix("POST /v1/jobs HTTP/1.1\r\n"))
        #expect(text.contains("\r\nContent-Type: application/json\r\n"))
        #expect(text.contains("\r\nContent-Length: 2\r\n"))
        #expect(text.hasSuffix("\r\n\r\n{}"))
    }

    @Test(arguments: [("GET", "/v1/jobs\r\nX-Evil: 1"), ("GET", "v1/jobs"), ("GET", "/a b"), ("get", "/v1"), ("", "/v1"),
                      ("GE T", "/v1")])
    func injectionIsRefused(method: String, path: String) {
        #expect(throws: ClientError.self) { try HTTPRequest.serialize(method: method, path: path, body: nil) }
    }
}
