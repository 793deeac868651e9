import Foundation

/// A small ext4 filesystem in an image file, loop-mounted on a directory, that a test can
/// fill up and free again (full-disk tests). Needs root; ``unmount()`` (also on deinit)
/// unmounts it, which detaches its loop device.
final class LoopFilesystem: @unchecked Sendable {
    let image: String
    let mountPoint: String
    private var mounted = false
    private var filler: String { mountPoint + "/.filler" }

    /// Creates a `sizeMB` MiB image at `image`, makes an ext4 filesystem on it (no blocks
    /// reserved for root, so full means full for everyone) and mounts it on `mountPoint`.
    init(image: String, mountPoint: String, sizeMB: Int = 24) throws {
        self.image = image
        self.mountPoint = mountPoint
        guard FileManager.default.createFile(atPath: image, contents: nil), truncate(image, off_t(sizeMB) << 20) == 0 else {
            throw HarnessError("cannot create the image \(image)")
        }
        try Self.tool("mkfs.ext4", ["-q", "-m", "0", "-F", image])
        try FileManager.default.createDirectory(atPath: mountPoint, withIntermediateDirectories: true)
        try Self.tool("mount", ["-o", "loop", image, mountPoint])
        mounted = true
    }

    deinit { unmount() }

    /// Writes a filler file until the filesystem refuses (ENOSPC); returns the bytes written.
    @discardableResult
    func fill() throws -> Int {
        let fd = open(filler, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0o600)
        guard fd >= 0 else { throw HarnessError("cannot create \(filler): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var written = 0
        // Large blocks first, then smaller ones for what the large ones could not take.
        for size in [1 << 20, 64 << 10, 4 << 10, 512] {
            let block = [UInt8](repeating: 0x5A, count: size)
            while true {
                let n = block.withUnsafeBytes { write(fd, $0.baseAddress, size) }
                if n < 0, errno == EINTR { continue }
                if n <= 0 { break }
                written += n
            }
            guard errno == ENOSPC || errno == EDQUOT else { throw HarnessError("filling \(mountPoint): \(String(cString: strerror(errno)))") }
        }
        return written
    }

    /// Deletes the filler: the space is back.
    func free() {
        unlink(filler)
        // The freed blocks count once the journal commits the deletion.
        _ = try? Self.tool("sync", ["-f", mountPoint])
    }

    /// Bytes free on the filesystem.
    var freeBytes: Int64 {
        var fs = statvfs()
        guard statvfs(mountPoint, &fs) == 0 else { return -1 }
        return Int64(fs.f_bfree) * Int64(fs.f_frsize)
    }

    /// Unmounts (lazily if something still holds it); the loop device goes with the mount.
    func unmount() {
        guard mounted else { return }
        mounted = false
        if (try? Self.tool("umount", [mountPoint])) == nil {
            _ = try? Self.tool("umount", ["-l", mountPoint])
        }
        // A loop device left attached to the image (mount's autoclear did not happen).
        if let attached = try? Self.tool("losetup", ["-j", image]) {
            for line in attached.split(separator: "\n") {
                if let device = line.split(separator: ":").first { _ = try? Self.tool("losetup", ["-d", String(device)]) }
            }
        }
    }

    /// Whether this process may mount filesystems (root).
    static var canMount: Bool { geteuid() == 0 }

    /// Runs a system tool found on PATH (with the sbin directories added); its stdout.
    @discardableResult
    static func tool(_ name: String, _ arguments: [String]) throws -> String {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/sbin"
        let r = try DaemonHarness.run("/usr/bin/env", [name] + arguments, environment: ["PATH": path], stdin: nil)
        guard r.status == 0 else { throw HarnessError("\(name) \(arguments.joined(separator: " ")) failed (\(r.status)): \(r.stderr)") }
        return r.stdout
    }
}
