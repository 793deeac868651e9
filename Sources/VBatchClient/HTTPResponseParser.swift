/// Why a response could not be parsed.
public struct HTTPParseError: Error, CustomStringConvertible, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// An incremental HTTP/1.1 response parser.
///
/// Feed it bytes as they arrive with ``feed(_:)-(UnsafeBufferPointer<UInt8>)`` until it reports
/// the response complete, or call ``finish()`` when the peer closes the connection. The body
/// is delimited by `Transfer-Encoding: chunked` (chunk extensions and trailers are accepted and
/// ignored), by `Content-Length`, or by the end of the connection, in that order (RFC 9112 §6.3).
/// Informational (1xx) responses are skipped. The parser does no I/O, so it can be tested with
/// plain byte arrays; see ``parse(_:requestMethod:)``.
public struct HTTPResponseParser: Sendable {
    /// Largest status line plus header block accepted.
    public static let maxHeadBytes = 64 * 1024
    /// Largest chunk-size or trailer line accepted.
    public static let maxLineBytes = 8 * 1024

    private enum State: Sendable, Equatable {
        case head
        case fixed(remaining: Int)
        case untilEOF
        case chunkSize
        case chunkData(remaining: Int)
        case chunkEnd
        case trailers
        case done
    }

    private var state: State = .head
    /// The head being collected, or the current line in the line-oriented chunked states.
    private var buffer: [UInt8] = []
    private var status = 0
    private var reason = ""
    private var headers: [String: String] = [:]
    private var body: [UInt8] = []
    private var received = 0
    private let bodyless: Bool
    /// Largest body accepted.
    public let maxBodyBytes: Int

    /// - Parameters:
    ///   - requestMethod: the request's method; a response to `HEAD` has no body.
    ///   - maxBodyBytes: refuse bodies larger than this.
    public init(requestMethod: String = "GET", maxBodyBytes: Int = 1 << 30) {
        self.bodyless = requestMethod == "HEAD"
        self.maxBodyBytes = maxBodyBytes
    }

    /// `true` once a whole response has been read.
    public var isComplete: Bool { state == .done }

    /// The response, once ``isComplete``.
    public var response: HTTPResponse? {
        state == .done ? HTTPResponse(status: status, reason: reason, headers: headers, body: body) : nil
    }

    /// Parses a whole exchange: `bytes` is everything the server sent before closing.
    public static func parse(_ bytes: [UInt8], requestMethod: String = "GET") throws(HTTPParseError) -> HTTPResponse {
        var parser = HTTPResponseParser(requestMethod: requestMethod)
        try parser.feed(bytes)
        return try parser.finish()
    }

    /// Feeds the next bytes; returns `true` once the response is complete. Bytes after the end of
    /// the response are ignored.
    @discardableResult
    public mutating func feed(_ bytes: [UInt8]) throws(HTTPParseError) -> Bool {
        try bytes.withUnsafeBufferPointer { (p) throws(HTTPParseError) -> Bool in try feed(p) }
    }

    /// Feeds the next bytes; returns `true` once the response is complete.
    @discardableResult
    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>) throws(HTTPParseError) -> Bool {
        received += bytes.count
        var i = 0
        let n = bytes.count
        while i < n {
            switch state {
            case .done:
                return true
            case .head:
                let b = bytes[i]
                i += 1
                if b == lf && (buffer.isEmpty || buffer == [cr]) {
                    buffer.removeAll(keepingCapacity: true)  // tolerate empty lines before the status line
                    continue
                }
                buffer.append(b)
                guard buffer.count <= Self.maxHeadBytes else {
                    throw HTTPParseError("response header larger than \(Self.maxHeadBytes) bytes")
                }
                if b == lf && headEnded() {
                    try parseHead()
                }
            case .fixed(let remaining):
                let take = min(remaining, n - i)
                body.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                state = remaining == take ? .done : .fixed(remaining: remaining - take)
            case .untilEOF:
                guard body.count + (n - i) <= maxBodyBytes else {
                    throw HTTPParseError("response body larger than \(maxBodyBytes) bytes")
                }
                body.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<n]))
                i = n
            case .chunkData(let remaining):
                let take = min(remaining, n - i)
                body.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[i..<(i + take)]))
                i += take
                state = remaining == take ? .chunkEnd : .chunkData(remaining: remaining - take)
            case .chunkSize, .chunkEnd, .trailers:
                let b = bytes[i]
                i += 1
                if b == lf {
                    if buffer.last == cr { buffer.removeLast() }
                    try lineEnded()
                    buffer.removeAll(keepingCapacity: true)
                } else {
                    buffer.append(b)
                    guard buffer.count <= Self.maxLineBytes else {
                        throw HTTPParseError("chunk line longer than \(Self.maxLineBytes) bytes")
                    }
                }
            }
        }
        return state == .done
    }

    /// Signals that the connection was closed; returns the response or throws if it is incomplete.
    public mutating func finish() throws(HTTPParseError) -> HTTPResponse {
        switch state {
        case .done:
            break
        case .untilEOF:
            state = .done
        case .head:
            throw HTTPParseError(received == 0 ? "connection closed without a response"
                                              : "connection closed in the middle of the response header")
        case .fixed(let remaining):
            throw HTTPParseError("connection closed with \(remaining) bytes of the body still missing")
        case .chunkSize, .chunkData, .chunkEnd, .trailers:
            throw HTTPParseError("connection closed in the middle of a chunked body")
        }
        return HTTPResponse(status: status, reason: reason, headers: headers, body: body)
    }

    // MARK: - Head

    /// The head ends with an empty line (CRLF CRLF, or bare LFs).
    private func headEnded() -> Bool {
        let c = buffer.count
        if c >= 2 && buffer[c - 2] == lf { return true }
        if c >= 3 && buffer[c - 2] == cr && buffer[c - 3] == lf { return true }
        return false
    }

    private mutating func parseHead() throws(HTTPParseError) {
        var lines = buffer.split(separator: lf, omittingEmptySubsequences: false).map { line in
            line.last == cr ? line.dropLast() : line
        }
        buffer.removeAll(keepingCapacity: true)
        while lines.last?.isEmpty == true { lines.removeLast() }
        guard let statusLine = lines.first else { throw HTTPParseError("empty response header") }
        try parseStatusLine(statusLine)
        headers = [:]
        for line in lines.dropFirst() {
            guard let first = line.first else { continue }
            if first == sp || first == ht { throw HTTPParseError("obsolete folded header line") }
            guard let colonIndex = line.firstIndex(of: colon) else {
                throw HTTPParseError("header line without a colon: \(printable(line))")
            }
            let name = line[line.startIndex..<colonIndex]
            guard !name.isEmpty, name.allSatisfy(isTokenByte) else {
                throw HTTPParseError("bad header name: \(printable(name))")
            }
            let key = String(decoding: name, as: UTF8.self).lowercased()
            let value = String(decoding: trimmed(line[(colonIndex + 1)...]), as: UTF8.self)
            if let old = headers[key] { headers[key] = old + ", " + value } else { headers[key] = value }
        }
        try chooseBodyFraming()
    }

    private mutating func parseStatusLine(_ line: ArraySlice<UInt8>) throws(HTTPParseError) {
        // HTTP/1.x SP 3DIGIT [SP reason]
        let b = Array(line)
        let prefix: [UInt8] = Array("HTTP/1.".utf8)
        guard b.count >= 12, Array(b[0..<7]) == prefix, isDigit(b[7]), b[8] == sp,
              isDigit(b[9]), isDigit(b[10]), isDigit(b[11]), b.count == 12 || b[12] == sp
        else { throw HTTPParseError("bad status line: \(printable(line))") }
        status = Int(b[9] - 48) * 100 + Int(b[10] - 48) * 10 + Int(b[11] - 48)
        guard status >= 100 else { throw HTTPParseError("bad status code \(status)") }
        reason = b.count > 13 ? String(decoding: b[13...], as: UTF8.self) : ""
    }

    private mutating func chooseBodyFraming() throws(HTTPParseError) {
        if (100..<200).contains(status) {
            guard status != 101 else { throw HTTPParseError("unexpected protocol switch (101)") }
            state = .head  // informational: the real response follows
            return
        }
        if bodyless || status == 204 || status == 304 {
            state = .done
            return
        }
        if let te = headers["transfer-encoding"] {
            let last = te.split(separator: ",").last.map { String($0).trimmingSpaces().lowercased() }
            state = last == "chunked" ? .chunkSize : .untilEOF
            return
        }
        if let cl = headers["content-length"] {
            var length: Int?
            for part in cl.split(separator: ",", omittingEmptySubsequences: false) {
                let text = String(part).trimmingSpaces()
                guard !text.isEmpty, text.utf8.count <= 18, text.utf8.allSatisfy(isDigit), let v = Int(text),
                      length == nil || length == v
                else { throw HTTPParseError("bad Content-Length: \(cl)") }
                length = v
            }
            let n = length ?? 0
            guard n <= maxBodyBytes else { throw HTTPParseError("response body larger than \(maxBodyBytes) bytes") }
            body.reserveCapacity(min(n, 16 << 20))
            state = n == 0 ? .done : .fixed(remaining: n)
            return
        }
        state = .untilEOF
    }

    // MARK: - Chunked body

    private mutating func lineEnded() throws(HTTPParseError) {
        switch state {
        case .chunkSize:
            let sizeField = trimmed(buffer.prefix { $0 != semicolon })
            guard !sizeField.isEmpty, sizeField.count <= 15 else {
                throw HTTPParseError("bad chunk size line: \(printable(buffer[...]))")
            }
            var size = 0
            for b in sizeField {
                guard let d = hexValue(b) else { throw HTTPParseError("bad chunk size line: \(printable(buffer[...]))") }
                size = size * 16 + d
            }
            if size == 0 {
                state = .trailers
            } else {
                guard body.count + size <= maxBodyBytes else {
                    throw HTTPParseError("response body larger than \(maxBodyBytes) bytes")
                }
                state = .chunkData(remaining: size)
            }
        case .chunkEnd:
            guard buffer.isEmpty else { throw HTTPParseError("chunk data longer than its declared size") }
            state = .chunkSize
        case .trailers:
            if buffer.isEmpty { state = .done }  // trailer fields are ignored
        default:
            break
        }
    }
}

// MARK: - Byte helpers

private let cr: UInt8 = 13
private let lf: UInt8 = 10
private let sp: UInt8 = 32
private let ht: UInt8 = 9
private let colon: UInt8 = 58
private let semicolon: UInt8 = 59

private func isDigit(_ b: UInt8) -> Bool { b >= 48 && b <= 57 }

private func hexValue(_ b: UInt8) -> Int? {
    switch b {
    case 48...57: Int(b - 48)
    case 65...70: Int(b - 55)
    case 97...102: Int(b - 87)
    default: nil
    }
}

/// RFC 9110 `tchar`.
private func isTokenByte(_ b: UInt8) -> Bool {
    switch b {
    case 48...57, 65...90, 97...122: true
    case UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"),
         UInt8(ascii: "'"), UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."),
         UInt8(ascii: "^"), UInt8(ascii: "_"), UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"): true
    default: false
    }
}

private func trimmed<C: BidirectionalCollection>(_ s: C) -> C.SubSequence where C.Element == UInt8 {
    var sub = s[...]
    while let f = sub.first, f == sp || f == ht { sub = sub.dropFirst() }
    while let l = sub.last, l == sp || l == ht { sub = sub.dropLast() }
    return sub
}

/// At most 80 bytes of `bytes` with control characters shown as `?`, for error messages.
private func printable(_ bytes: ArraySlice<UInt8>) -> String {
    let clipped = bytes.prefix(80).map { $0 < 32 || $0 == 127 ? UInt8(ascii: "?") : $0 }
    return "'" + String(decoding: clipped, as: UTF8.self) + (bytes.count > 80 ? "…'" : "'")
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s.removeFirst() }
        while let l = s.last, l == " " || l == "\t" { s.removeLast() }
        return String(s)
    }
}
