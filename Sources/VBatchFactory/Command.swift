import Foundation
import VBatchCore

/// What a finished command left.
struct CommandResult {
    var status: Int32
    /// Its standard output (empty when it went to a log file).
    var outputData: Data
    var output: String { String(decoding: outputData, as: UTF8.self) }
    /// Its standard error, or the last lines of the log it wrote.
    var errors: String

    /// The last lines of whatever the command said, for error messages.
    var tail: String {
        let text = errors.isEmpty ? output : errors
        return text.split(separator: "\n", omittingEmptySubsequences: true).suffix(12).joined(separator: "\n")
    }
}

/// Runs the factory's tools (debootstrap, chroot, mkfs.ext4, qemu-img, …) as child
/// processes: never through a shell, always with an explicit environment.
enum Command {
    /// The environment every tool gets: nothing from the caller but a PATH and the C locale.
    static let cleanEnvironment = ["PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL": "C", "HOME": "/root"]

    /// Runs `executable` and waits for it.
    ///
    /// - Parameters:
    ///   - log: a file that receives the command's stdout and stderr (appended); the
    ///     result's `errors` then holds its last lines.
    ///   - input: bytes for its standard input (else `/dev/null`).
    ///   - timeout: the command is killed (SIGKILL) after this long.
    @discardableResult
    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = cleanEnvironment,
                    log: String? = nil, input: [UInt8]? = nil, timeout: Duration? = nil) throws -> CommandResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        let stdinPipe = input.map { _ in Pipe() }
        process.standardInput = stdinPipe ?? FileHandle.nullDevice
        var logHandle: FileHandle?
        var logStart: UInt64 = 0
        let outPipe = Pipe(), errPipe = Pipe()
        if let log {
            if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
            guard let handle = FileHandle(forWritingAtPath: log) else {
                throw FactoryError.io("cannot open the build log \(log)")
            }
            logStart = handle.seekToEndOfFile()
            logHandle = handle
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = outPipe
            process.standardError = errPipe
        }
        do {
            try process.run()
        } catch {
            throw FactoryError.tool(executable, -1, "cannot start: \(error.localizedDescription)")
        }
        if let stdinPipe, let input {
            let writer = stdinPipe.fileHandleForWriting
            DispatchQueue.global().async {
                writer.write(Data(input))
                try? writer.close()
            }
        }
        var timer: DispatchWorkItem?
        if let timeout {
            let pid = process.processIdentifier
            let item = DispatchWorkItem { kill(pid, SIGKILL) }
            DispatchQueue.global().asyncAfter(deadline: .now() + timeout.seconds, execute: item)
            timer = item
        }
        var output = Data()
        let errors = DataBox()
        if logHandle == nil {
            let group = DispatchGroup()
            group.enter()
            DispatchQueue.global().async {
                errors.data = errPipe.fileHandleForReading.readDataToEndOfFile()
                group.leave()
            }
            output = outPipe.fileHandleForReading.readDataToEndOfFile()
            group.wait()
        }
        process.waitUntilExit()
        timer?.cancel()
        var errorText = String(decoding: errors.data, as: UTF8.self)
        if let logHandle, let log {
            try? logHandle.close()
            errorText = Self.tail(of: log, from: logStart)
        }
        return CommandResult(status: process.terminationStatus, outputData: output, errors: errorText)
    }

    /// Runs a command that must succeed; a failure throws with its last lines.
    @discardableResult
    static func check(_ what: String, _ executable: String, _ arguments: [String],
                      environment: [String: String] = cleanEnvironment, log: String? = nil, input: [UInt8]? = nil,
                      timeout: Duration? = nil) throws -> CommandResult {
        let result = try run(executable, arguments, environment: environment, log: log, input: input, timeout: timeout)
        guard result.status == 0 else { throw FactoryError.tool(what, result.status, result.tail) }
        return result
    }

    /// The last 16 KiB of `path` written after `offset`.
    private static func tail(of path: String, from offset: UInt64) -> String {
        guard let handle = FileHandle(forReadingAtPath: path) else { return "" }
        defer { try? handle.close() }
        let end = handle.seekToEndOfFile()
        let start = max(offset, end > 16_384 ? end - 16_384 : 0)
        handle.seek(toFileOffset: start)
        return String(decoding: handle.readDataToEndOfFile(), as: UTF8.self)
    }

    /// Runs `executable` with stdout and stderr merged, appending every line to `log` and
    /// handing each to `onLine` as it comes; throws with the last lines when it fails.
    static func stream(_ what: String, _ executable: String, _ arguments: [String],
                       environment: [String: String] = cleanEnvironment, log: String,
                       onLine: (String) -> Void) throws {
        if !FileManager.default.fileExists(atPath: log) { _ = FileManager.default.createFile(atPath: log, contents: nil) }
        guard let logHandle = FileHandle(forWritingAtPath: log) else {
            throw FactoryError.io("cannot open the build log \(log)")
        }
        defer { try? logHandle.close() }
        logHandle.seekToEndOfFile()
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.environment = environment
        process.standardInput = FileHandle.nullDevice
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        do {
            try process.run()
        } catch {
            throw FactoryError.tool(what, -1, "cannot start \(executable): \(error.localizedDescription)")
        }
        let reader = pipe.fileHandleForReading
        var pending: [UInt8] = []
        var recent: [String] = []
        func emit(_ bytes: ArraySlice<UInt8>) {
            let line = String(decoding: bytes, as: UTF8.self)
            recent.append(line)
            if recent.count > 40 { recent.removeFirst(recent.count - 40) }
            onLine(line)
        }
        while true {
            let chunk = reader.availableData
            if chunk.isEmpty { break }
            logHandle.write(chunk)
            pending += chunk
            while let newline = pending.firstIndex(of: 10) {
                emit(pending[..<newline])
                pending.removeSubrange(...newline)
            }
        }
        if !pending.isEmpty { emit(pending[...]) }
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw FactoryError.tool(what, process.terminationStatus, recent.joined(separator: "\n"))
        }
    }

    /// The first of `candidates` that exists and is executable.
    static func find(_ name: String, in directories: [String] = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]) -> String? {
        directories.map { $0 + "/" + name }.first { FileManager.default.isExecutableFile(atPath: $0) }
    }
}

/// Bytes filled in by a reader thread, read after it is joined.
private final class DataBox: @unchecked Sendable {
    var data = Data()
}
