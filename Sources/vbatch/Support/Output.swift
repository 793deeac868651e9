#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import VBatchClient

/// A runtime failure of a command, reported as one line.
struct CLIError: Error, CustomStringConvertible {
    var message: String
    var exitCode: Int32 = 1
    init(_ message: String, exitCode: Int32 = 1) {
        self.message = message
        self.exitCode = exitCode
    }
    var description: String { message }
}

/// Unbuffered writes straight to the file descriptors: each command builds its output and
/// writes it once.
enum Output {
    /// Writes `text` to standard output.
    static func print(_ text: String) {
        var text = text
        text.withUTF8 { write(1, UnsafeRawBufferPointer($0)) }
    }

    /// Writes a server's JSON body to standard output, ending it with a newline.
    static func json(_ body: [UInt8]) {
        var body = body
        if body.last != UInt8(ascii: "\n") { body.append(UInt8(ascii: "\n")) }
        body.withUnsafeBytes { write(1, $0) }
    }

    /// Writes bytes as they are (a job's stream or file) to `fd`: 1 for stdout, 2 for stderr.
    static func bytes(_ bytes: [UInt8], to fd: Int32 = 1) {
        bytes.withUnsafeBytes { write(fd, $0) }
    }

    /// Writes `vbatch: error: MESSAGE` to standard error.
    /// A progress line on standard error (not an error).
    static func progress(_ message: String) {
        var line = ClientError.oneLine(message) + "\n"
        line.withUTF8 { write(2, UnsafeRawBufferPointer($0)) }
    }

    static func error(_ message: String) {
        var line = "vbatch: error: " + ClientError.oneLine(message) + "\n"
        line.withUTF8 { write(2, UnsafeRawBufferPointer($0)) }
    }

    /// Reports `message` (unless empty: already reported) and exits.
    static func fail(_ message: String, exitCode: Int32 = 1) -> Never {
        if !message.isEmpty { error(message) }
        exit(exitCode)
    }

    private static func write(_ fd: Int32, _ bytes: UnsafeRawBufferPointer) {
        var offset = 0
        while offset < bytes.count {
            #if canImport(Darwin)
            let n = Darwin.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            #elseif canImport(Musl)
            let n = Musl.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            #else
            let n = Glibc.write(fd, bytes.baseAddress! + offset, bytes.count - offset)
            #endif
            if n < 0 {
                if errno == EINTR { continue }
                return
            }
            offset += n
        }
    }
}
