#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// One blocking stream connection to a Unix domain socket, through plain POSIX calls.
///
/// Kept deliberately small: `vbatch` opens exactly one connection per process, so there is no
/// event loop, no pooling and no thread.
struct UnixSocketConnection: ~Copyable {
    private let fd: Int32
    let path: String

    /// Connects to `path`; sends and receives time out after `timeout` seconds.
    init(path: String, timeout: Int) throws(ClientError) {
        self.path = path
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let pathBytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        guard !pathBytes.isEmpty, !pathBytes.contains(0) else {
            throw ClientError(.connect, "cannot connect to vbatchd: invalid socket path \"\(path)\"")
        }
        guard pathBytes.count < capacity else {
            throw ClientError(.connect, "cannot connect to vbatchd at \(path): socket path longer than \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: pathBytes)
            raw[pathBytes.count] = 0
        }

        #if canImport(Darwin)
        let fd = socket(AF_UNIX, SOCK_STREAM, 0)
        #else
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        #endif
        guard fd >= 0 else {
            throw ClientError(.connect, "cannot connect to vbatchd at \(path): socket: \(errnoText())")
        }
        #if canImport(Darwin)
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_NOSIGPIPE, &one, socklen_t(MemoryLayout<Int32>.size))
        #endif
        if timeout > 0 {
            var tv = timeval(tv_sec: timeout, tv_usec: 0)
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            _ = setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + pathBytes.count + 1)
        var rc: Int32
        repeat {
            rc = withUnsafePointer(to: &addr) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, length) }
            }
        } while rc != 0 && errno == EINTR
        if rc != 0 {
            let code = errno
            _ = close(fd)
            let reason = code == EAGAIN || code == EINPROGRESS ? "timed out (the daemon is not accepting connections)"
                                                               : errnoText(code)
            throw ClientError(.connect, "cannot connect to vbatchd at \(path): \(reason) "
                                        + "(is vbatchd running? set --socket or VBATCH_SOCKET)")
        }
        self.fd = fd
    }

    deinit { _ = close(fd) }

    /// Writes all of `bytes`.
    func send(_ bytes: [UInt8]) throws(ClientError) {
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeBytes { raw in
                #if canImport(Darwin)
                Glibc_send(fd, raw.baseAddress! + sent, raw.count - sent)
                #else
                Glibc.send(fd, raw.baseAddress! + sent, raw.count - sent, Int32(MSG_NOSIGNAL))
                #endif
            }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw transportError(code, while: "sending the request")
            }
            sent += n
        }
    }

    /// Sends `request` and reads the response. If the daemon stops reading and closes early
    /// (say, a 413 for an oversized body), its answer is still read and returned.
    func exchange(_ request: [UInt8], parser: inout HTTPResponseParser) throws(ClientError) -> HTTPResponse {
        do {
            try send(request)
        } catch {
            if let response = try? receive(into: &parser) { return response }
            throw error
        }
        return try receive(into: &parser)
    }

    /// Reads until `parser` has a whole response or the daemon closes the connection.
    func receive(into parser: inout HTTPResponseParser) throws(ClientError) -> HTTPResponse {
        var buffer = [UInt8](repeating: 0, count: 64 * 1024)
        while true {
            let n = buffer.withUnsafeMutableBytes { raw in read(fd, raw.baseAddress!, raw.count) }
            if n < 0 {
                let code = errno
                if code == EINTR { continue }
                throw transportError(code, while: "reading the response")
            }
            do {
                if n == 0 { return try parser.finish() }
                let done = try buffer.withUnsafeBufferPointer { (p) throws(HTTPParseError) -> Bool in
                    try parser.feed(UnsafeBufferPointer(rebasing: p[0..<n]))
                }
                if done, let response = parser.response { return response }
            } catch {
                throw ClientError(.badResponse, "bad response from vbatchd at \(path): \(error.message)")
            }
        }
    }

    private func transportError(_ code: Int32, while doing: String) -> ClientError {
        if code == EAGAIN || code == EWOULDBLOCK {
            return ClientError(.transport, "timed out waiting for vbatchd at \(path) while \(doing)")
        }
        return ClientError(.transport, "lost connection to vbatchd at \(path) while \(doing): \(errnoText(code))")
    }
}

#if canImport(Darwin)
private func Glibc_send(_ fd: Int32, _ p: UnsafeRawPointer, _ n: Int) -> Int { Darwin.send(fd, p, n, 0) }
#endif

/// `strerror` for `code` (default: the current `errno`).
func errnoText(_ code: Int32 = errno) -> String {
    guard let s = strerror(code) else { return "error \(code)" }
    return String(cString: s)
}
