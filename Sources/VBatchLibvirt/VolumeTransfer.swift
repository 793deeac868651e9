import CLibvirt
import Foundation

/// Moving bytes between a local file and a volume on the node, through libvirt streams
/// (`virStorageVolUpload` / `virStorageVolDownload`).
///
/// A transfer is a series of calls of at most ``chunkBytes`` each, every one with the
/// connection's call timeout, so a node that stops answering mid-transfer fails the transfer
/// within one timeout instead of hanging it. Use a connection of its own for bulk transfers
/// so that they never queue in front of a node's control calls.
extension LibvirtConnection {
    /// Bytes moved per call.
    public static let chunkBytes = 4 << 20

    /// Writes the whole local `file` into the existing volume `name` from offset 0, calling
    /// `progress` with the bytes sent so far after each chunk. Returns the bytes sent.
    @discardableResult
    public func upload(file: String, toVolume name: String, inPool pool: String,
                       progress: (@Sendable (UInt64) -> Void)? = nil) async throws -> UInt64 {
        let fd = open(file, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw LocalFileError(path: file, operation: "open") }
        let source = FileDescriptor(fd)
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw LocalFileError(path: file, operation: "stat") }
        let size = UInt64(st.st_size)
        let stream = try await openStream("virStorageVolUpload", pool: pool, volume: name) { volume, stream in
            virStorageVolUpload(volume, stream, 0, size, 0)
        }
        var sent: UInt64 = 0
        do {
            while sent < size {
                let offset = sent
                let count = try await perform("virStreamSend") {
                    try stream.send(from: source, offset: offset, maxBytes: Self.chunkBytes)
                }
                guard count > 0 else { throw LocalFileError(path: file, operation: "read (file shrank)") }
                sent += UInt64(count)
                progress?(sent)
            }
            try await perform("virStreamFinish") { try stream.finish() }
        } catch {
            await abort(stream)
            throw error
        }
        return sent
    }

    /// Reads the volume `name` into the local `file` (created or truncated, mode 0600), from
    /// `offset` to the volume's end but at most `maxBytes`; holes of a sparse volume are not
    /// sent and stay holes in `file`. Returns the bytes of `file` (holes included).
    @discardableResult
    public func download(volume name: String, inPool pool: String, to file: String, offset: UInt64 = 0,
                         maxBytes: UInt64 = 0) async throws -> UInt64 {
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw LocalFileError(path: file, operation: "create") }
        let target = FileDescriptor(fd)
        let stream = try await openStream("virStorageVolDownload", pool: pool, volume: name) { volume, stream in
            virStorageVolDownload(volume, stream, offset, maxBytes,
                                  UInt32(VIR_STORAGE_VOL_DOWNLOAD_SPARSE_STREAM.rawValue))
        }
        var position: UInt64 = 0
        do {
            while true {
                let start = position
                let (moved, done) = try await perform("virStreamRecv") {
                    try stream.receive(into: target, offset: start, maxBytes: Self.chunkBytes)
                }
                position += moved
                if done { break }
            }
            guard ftruncate(target.fd, off_t(position)) == 0 else { throw LocalFileError(path: file, operation: "truncate") }
            try await perform("virStreamFinish") { try stream.finish() }
        } catch {
            await abort(stream)
            throw error
        }
        return position
    }

    /// Ends a failed transfer on the node's side too, best effort (a hung node: no wait).
    private func abort(_ stream: Stream) async {
        _ = try? await perform("virStreamAbort") { stream.abort() }
    }

    /// A new blocking stream on which `start` began a transfer of the pool's volume.
    private func openStream(_ operation: String, pool: String, volume: String,
                            _ start: @escaping @Sendable (OpaquePointer, OpaquePointer) -> Int32) async throws -> Stream {
        try await withVolume(volume, inPool: pool, operation) { volumeHandle in
            guard let volumeHandle else {
                throw LibvirtError(code: Int32(VIR_ERR_NO_STORAGE_VOL.rawValue), domain: 0,
                                   message: "no volume \(volume) in pool \(pool)", operation: operation)
            }
            guard let connection = virStorageVolGetConnect(volumeHandle), let pointer = virStreamNew(connection, 0) else {
                throw LibvirtError.last(operation: "virStreamNew")
            }
            let stream = Stream(pointer)
            guard start(volumeHandle, pointer) == 0 else { throw LibvirtError.last(operation: operation) }
            return stream
        }
    }
}

/// A local file that could not be used for a transfer.
public struct LocalFileError: Error, Sendable, CustomStringConvertible {
    public let path: String
    public let operation: String
    public let reason: String

    init(path: String, operation: String) {
        self.path = path
        self.operation = operation
        reason = String(cString: strerror(errno))
    }

    public var description: String { "\(operation) \(path): \(reason)" }
}

/// Closes its descriptor when the last reference goes. `@unchecked Sendable`: used by one
/// transfer call at a time.
final class FileDescriptor: @unchecked Sendable {
    let fd: Int32
    init(_ fd: Int32) { self.fd = fd }
    deinit { close(fd) }
}

/// A libvirt stream (`virStreamPtr`), freed on deinit. `@unchecked Sendable`: the transfer
/// uses it from one call at a time; `abort` may race only with a call that already failed.
final class Stream: @unchecked Sendable {
    private let pointer: OpaquePointer
    private var finished = false

    init(_ pointer: OpaquePointer) { self.pointer = pointer }

    deinit { virStreamFree(pointer) }

    /// libvirt's largest stream message payload: sends of this size keep the node's side
    /// (libvirtd and its I/O helper) writing while the next piece travels.
    static let messageBytes = 256 << 10

    /// Reads up to `maxBytes` of `source` at `offset` and sends them all, a message at a time;
    /// returns the count.
    func send(from source: FileDescriptor, offset: UInt64, maxBytes: Int) throws -> Int {
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: Self.messageBytes, alignment: 16)
        defer { buffer.deallocate() }
        var total = 0
        while total < maxBytes {
            let count = pread(source.fd, buffer, min(Self.messageBytes, maxBytes - total), off_t(offset) + off_t(total))
            guard count >= 0 else { throw LocalFileError(path: "(upload source)", operation: "read") }
            if count == 0 { break }
            var sent = 0
            while sent < count {
                let n = virStreamSend(pointer, buffer.assumingMemoryBound(to: CChar.self) + sent, count - sent)
                guard n >= 0 else { throw LibvirtError.last(operation: "virStreamSend") }
                sent += Int(n)
            }
            total += count
        }
        return total
    }

    /// Receives up to `maxBytes` (data and holes) into `target` at `offset`; returns how far
    /// the file advanced and whether the stream ended.
    func receive(into target: FileDescriptor, offset: UInt64, maxBytes: Int) throws -> (UInt64, Bool) {
        var buffer = [CChar](repeating: 0, count: 1 << 20)
        var moved: UInt64 = 0
        while moved < UInt64(maxBytes) {
            let n = buffer.withUnsafeMutableBufferPointer {
                virStreamRecvFlags(pointer, $0.baseAddress, $0.count, UInt32(VIR_STREAM_RECV_STOP_AT_HOLE.rawValue))
            }
            if n == 0 { return (moved, true) }
            if n == -3 {
                var hole: Int64 = 0
                guard virStreamRecvHole(pointer, &hole, 0) == 0 else { throw LibvirtError.last(operation: "virStreamRecvHole") }
                moved += UInt64(hole)
                continue
            }
            guard n > 0 else { throw LibvirtError.last(operation: "virStreamRecvFlags") }
            let written = buffer.withUnsafeBufferPointer { pwrite(target.fd, $0.baseAddress, Int(n), off_t(offset + moved)) }
            guard written == Int(n) else { throw LocalFileError(path: "(download target)", operation: "write") }
            moved += UInt64(n)
        }
        return (moved, false)
    }

    func finish() throws {
        guard virStreamFinish(pointer) == 0 else { throw LibvirtError.last(operation: "virStreamFinish") }
        finished = true
    }

    /// Ends a failed transfer on the node's side too (best effort).
    func abort() {
        guard !finished else { return }
        if virStreamAbort(pointer) < 0 { virResetLastError() }
    }
}
