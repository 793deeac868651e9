/// Serialises the one kind of request `vbatch` sends: a single HTTP/1.1 request per connection.
public enum HTTPRequest {
    /// The bytes of a request, ready to write in one call: request line, `Host: localhost`,
    /// `Content-Length`, `Connection: close`, and for a body `Content-Type: application/json`.
    ///
    /// `method` must be an upper-case token and `path` an origin-form target (`/v1/jobs?all=1`)
    /// of visible ASCII, so nothing a caller passes can inject header lines.
    public static func serialize(method: String, path: String, body: [UInt8]?) throws(ClientError) -> [UInt8] {
        guard !method.isEmpty, method.utf8.allSatisfy({ $0 >= 65 && $0 <= 90 }) else {
            throw ClientError(.invalidRequest, "invalid HTTP method \"\(ClientError.oneLine(method))\"")
        }
        guard path.utf8.first == UInt8(ascii: "/"), path.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
            throw ClientError(.invalidRequest, "invalid request path \"\(ClientError.oneLine(path))\"")
        }
        var head = "\(method) \(path) HTTP/1.1\r\nHost: localhost\r\nUser-Agent: vbatch\r\nAccept: application/json\r\n"
        if body != nil { head += "Content-Type: application/json\r\n" }
        head += "Content-Length: \(body?.count ?? 0)\r\nConnection: close\r\n\r\n"
        var bytes = Array(head.utf8)
        if let body { bytes.append(contentsOf: body) }
        return bytes
    }
}
