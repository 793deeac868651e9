#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import VBatchAPI

/// Reads the job script from a file or `-` (standard input), with the size and content checks.
enum ScriptFile {
    /// Checks that can be done without consuming the script: it exists, is not a directory, and
    /// a regular file is neither empty nor too large. Returns a message, or nil if fine.
    static func precheck(_ path: String) -> String? {
        if path == "-" { return nil }
        var st = stat()
        guard stat(path, &st) == 0 else { return "cannot read script \(shown(path)): \(errorText())" }
        if (st.st_mode & S_IFMT) == S_IFDIR { return "script \(shown(path)) is a directory" }
        if (st.st_mode & S_IFMT) == S_IFREG {
            if st.st_size == 0 { return "script \(shown(path)) is empty" }
            if st.st_size > API.maxScriptBytes { return "script \(shown(path)) is larger than \(API.maxScriptBytes) bytes" }
        }
        return nil
    }

    /// The script's text: valid UTF-8, not empty, no NUL, at most ``API/maxScriptBytes``.
    static func read(_ path: String) throws(CLIError) -> String {
        let name = path == "-" ? "on standard input" : shown(path)
        let fd: Int32 = path == "-" ? 0 : open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw CLIError("cannot read script \(name): \(errorText())") }
        defer { if fd != 0 { _ = close(fd) } }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 64 * 1024)
        while bytes.count <= API.maxScriptBytes {
            let n = chunk.withUnsafeMutableBytes { Glibc_read(fd, $0.baseAddress!, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw CLIError("cannot read script \(name): \(errorText())")
            }
            if n == 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        guard bytes.count <= API.maxScriptBytes else { throw CLIError("script \(name) is larger than \(API.maxScriptBytes) bytes") }
        guard !bytes.isEmpty else { throw CLIError("script \(name) is empty") }
        guard !bytes.contains(0) else { throw CLIError("script \(name) contains NUL bytes (is it a binary?)") }
        guard let text = String(validating: bytes, as: UTF8.self) else { throw CLIError("script \(name) is not valid UTF-8") }
        return text
    }

    /// The default job name: the script's file name, or `STDIN`.
    static func defaultName(_ path: String) -> String {
        if path == "-" { return "STDIN" }
        let base = path.split(separator: "/").last.map(String.init) ?? path
        return base.isEmpty ? "STDIN" : base
    }

    /// `text` quoted for a message, without control characters.
    static func shown(_ text: String) -> String { "'" + Table.clean(text, max: 200) + "'" }

    private static func errorText() -> String { String(cString: strerror(errno)) }
}

#if canImport(Darwin)
private func Glibc_read(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { Darwin.read(fd, p, n) }
#elseif canImport(Musl)
private func Glibc_read(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { Musl.read(fd, p, n) }
#else
private func Glibc_read(_ fd: Int32, _ p: UnsafeMutableRawPointer, _ n: Int) -> Int { Glibc.read(fd, p, n) }
#endif
