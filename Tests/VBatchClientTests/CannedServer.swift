import Foundation
import Glibc

/// A tiny Unix-socket server on its own thread (plain POSIX accept/read/write) that answers
/// successive connections with canned responses, each written in the given pieces with a short
/// pause between them so the client sees partial reads. It records the requests it received.
final class CannedServer: @unchecked Sendable {
    let path: String
    private let listener: Int32
    private let lock = NSLock()
    private var received: [[UInt8]] = []
    private let done = DispatchSemaphore(value: 0)

    /// - Parameter responses: for each connection, the pieces of its response; `nil` pieces
    ///   list means "accept, read the request, and never answer" (until `hangSeconds`).
    ///   - readBody: `false` answers right after the request head, leaving the body unread, like
    ///     a server refusing an oversized request.
    init(responses: [[[UInt8]]?], hangSeconds: UInt32 = 3, readBody: Bool = true) throws {
        path = "/tmp/vbc-\(getpid())-\(UUID().uuidString.prefix(8)).sock"
        listener = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        withUnsafeMutableBytes(of: &addr.sun_path) { raw in
            raw.copyBytes(from: bytes)
            raw[bytes.count] = 0
        }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(listener, $0, socklen_t(MemoryLayout<sockaddr_un>.size))
            }
        }
        guard rc == 0, listen(listener, 8) == 0 else { throw POSIXError(.EADDRINUSE) }
        let thread = Thread { [self] in
            for response in responses {
                let fd = accept(listener, nil, nil)
                guard fd >= 0 else { break }
                let request = Self.readRequest(fd, body: readBody)
                lock.withLock { received.append(request) }
                if let response {
                    for piece in response {
                        _ = piece.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
                        usleep(2000)
                    }
                } else {
                    sleep(hangSeconds)
                }
                close(fd)
            }
            done.signal()
        }
        thread.start()
    }

    deinit {
        close(listener)
        unlink(path)
    }

    /// Waits until every canned response has been served; returns the requests received.
    func requests() -> [[UInt8]] {
        done.wait()
        return lock.withLock { received }
    }

    /// Reads a request head and its `Content-Length` body.
    private static func readRequest(_ fd: Int32, body: Bool) -> [UInt8] {
        var data: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 4096)
        var expected: Int?
        while expected == nil || data.count < expected! {
            let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data += buffer[0..<n]
            if expected == nil, let end = data.firstRange(of: Array("\r\n\r\n".utf8)) {
                let head = String(decoding: data[..<end.lowerBound], as: UTF8.self)
                let length = head.split(separator: "\r\n")
                    .first { $0.lowercased().hasPrefix("content-length:") }
                    .flatMap { Int($0.split(separator: ":")[1].trimmingCharacters(in: .whitespaces)) } ?? 0
                expected = body ? end.upperBound + length : end.upperBound
            }
        }
        return data
    }
}

/// Helpers to build canned responses.
enum Canned {
    static func fixed(_ status: String, _ body: String, pieces: Int = 1) -> [[UInt8]] {
        split(Array("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)".utf8), pieces)
    }

    /// A chunked response as Hummingbird sends it, the body cut into `chunks` chunks.
    static func chunked(_ status: String, _ body: String, chunks: Int) -> [[UInt8]] {
        var out = Array("HTTP/1.1 \(status)\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".utf8)
        for part in split(Array(body.utf8), chunks) where !part.isEmpty {
            out += Array("\(String(part.count, radix: 16));ext=1\r\n".utf8) + part + Array("\r\n".utf8)
        }
        out += Array("0\r\n\r\n".utf8)
        return split(out, chunks * 2)
    }

    static func split(_ bytes: [UInt8], _ pieces: Int) -> [[UInt8]] {
        let size = max(1, (bytes.count + pieces - 1) / pieces)
        return stride(from: 0, to: bytes.count, by: size).map { Array(bytes[$0..<min(bytes.count, $0 + size)]) }
    }
}
