/// A complete HTTP/1.1 response as read from vbatchd.
public struct HTTPResponse: Sendable, Equatable {
    /// The status code, e.g. `200`.
    public var status: Int
    /// The reason phrase from the status line (may be empty).
    public var reason: String
    /// Header fields by lower-cased name; repeated fields are joined with `", "`.
    public var headers: [String: String]
    /// The body, de-chunked.
    public var body: [UInt8]

    public init(status: Int, reason: String = "", headers: [String: String] = [:], body: [UInt8] = []) {
        self.status = status
        self.reason = reason
        self.headers = headers
        self.body = body
    }

    /// The value of the header field `name` (case-insensitive).
    public func header(_ name: String) -> String? {
        headers[name.lowercased()]
    }

    /// `true` for a 2xx status.
    public var isSuccess: Bool { (200..<300).contains(status) }
}
