import VBatchCore

/// A file of a catalogue image that worker nodes receive, named by its content: nodes cache
/// it once under its sha256 and every job on the node uses that copy.
public struct NodeFile: Sendable, Hashable {
    public enum Role: String, Sendable {
        case disk, kernel, initrd
    }

    public var role: Role
    /// The file in the daemon's catalogue.
    public var path: String
    /// How QEMU reads it: `raw` or `qcow2` for disks, `raw` for kernels and initrds.
    public var format: String
    /// Lower-case hex sha256 of its contents.
    public var sha256: String
    public var sizeBytes: UInt64
    /// The size a guest sees: a qcow2's virtual size, else the file's size (an overlay on it needs as much).
    public var virtualSizeBytes: UInt64

    public init(role: Role, path: String, format: String, sha256: String, sizeBytes: UInt64, virtualSizeBytes: UInt64? = nil) {
        self.role = role
        self.path = path
        self.format = format
        self.sha256 = sha256
        self.sizeBytes = sizeBytes
        self.virtualSizeBytes = virtualSizeBytes ?? sizeBytes
    }
}

extension ImageCheck {
    /// The files `image` needs on a node, checked (``verify(_:catalogueDirectory:)``) and
    /// hashed; digests are remembered while the files do not change. A disk must be one
    /// self-contained file: a node receives no backing chain.
    public static func nodeFiles(_ image: ImageConfig, catalogueDirectory: String) throws -> [NodeFile] {
        try verify(image, catalogueDirectory: catalogueDirectory)
        func fail(_ message: String) -> Failure { Failure(image: image.name, message: message) }
        func file(_ role: NodeFile.Role, _ path: String, format: String) throws -> NodeFile {
            guard let stamp = FileStamp(path) else { throw fail("\(role.rawValue) \(path): no such file") }
            let sha256 = try digest(of: path, stamp: stamp, fail: fail)
            var virtualSize: UInt64?
            if format == "qcow2" {
                // qcow2 header: the virtual size is the big-endian 64-bit field at offset 24.
                let header = try readHeader(path, fail: fail)
                guard header.count >= 32 else { throw fail("\(role.rawValue) \(path): qcow2 header too short") }
                virtualSize = header[24..<32].reduce(0) { $0 << 8 | UInt64($1) }
            }
            return NodeFile(role: role, path: path, format: format, sha256: sha256, sizeBytes: UInt64(stamp.size),
                            virtualSizeBytes: virtualSize)
        }
        var files: [NodeFile] = []
        if image.boot == .kernel, let kernel = image.kernel {
            files.append(try file(.kernel, kernel, format: "raw"))
            if let initrd = image.initrd { files.append(try file(.initrd, initrd, format: "raw")) }
        }
        if let disk = image.disk {
            if let chain = cache.withLock({ $0[disk]?.chain }), chain.count > 1 {
                throw fail("disk \(disk) has a backing file (\(chain[1].path)); worker nodes receive single files: "
                    + "flatten it with qemu-img convert -O \(image.format)")
            }
            files.append(try file(.disk, disk, format: image.format))
        }
        return files
    }
}
