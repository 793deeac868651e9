/// The `newc` cpio format of Linux initramfs archives: the factory reads the test guest's
/// initramfs (to take its busybox) and appends its own small archive to it (the kernel
/// unpacks concatenated archives in order, later files replacing earlier ones).
enum Cpio {
    struct Entry {
        var name: String
        var mode: UInt32
        var contents: [UInt8]
    }

    /// A `newc` archive of `entries` (uid/gid 0, mtime 0), with its trailer.
    static func archive(_ entries: [Entry]) -> [UInt8] {
        var out: [UInt8] = []
        var inode: UInt32 = 1
        func header(_ name: String, mode: UInt32, size: Int, inode: UInt32) {
            let fields: [UInt32] = [inode, mode, 0, 0, 1, 0, UInt32(size), 0, 0, 0, 0, UInt32(name.utf8.count + 1), 0]
            out += Array("070701".utf8)
            for field in fields { out += Array(hex8(field).utf8) }
            out += Array(name.utf8) + [0]
            pad()
        }
        func pad() { while out.count % 4 != 0 { out.append(0) } }
        for entry in entries {
            header(entry.name, mode: entry.mode, size: entry.contents.count, inode: inode)
            out += entry.contents
            pad()
            inode += 1
        }
        header("TRAILER!!!", mode: 0, size: 0, inode: 0)
        while out.count % 512 != 0 { out.append(0) }
        return out
    }

    /// The contents of the regular file `name` in a `newc` archive (the first archive of
    /// the bytes; `nil` if it is not there).
    static func file(named name: String, in bytes: [UInt8]) -> [UInt8]? {
        var offset = 0
        while offset + 110 <= bytes.count {
            guard bytes[offset..<offset + 6].elementsEqual("070701".utf8) || bytes[offset..<offset + 6].elementsEqual("070702".utf8),
                  let mode = field(bytes, offset, 1), let size = field(bytes, offset, 6),
                  let nameSize = field(bytes, offset, 11), nameSize >= 1 else { return nil }
            let nameStart = offset + 110
            guard nameStart + Int(nameSize) <= bytes.count else { return nil }
            let entryName = String(decoding: bytes[nameStart..<nameStart + Int(nameSize) - 1], as: UTF8.self)
            let dataStart = align4(nameStart + Int(nameSize))
            guard dataStart + Int(size) <= bytes.count else { return nil }
            if entryName == "TRAILER!!!" { return nil }
            let normalised = entryName.hasPrefix("./") ? String(entryName.dropFirst(2)) : entryName
            if normalised == name, mode & 0o170000 == 0o100000 {
                return Array(bytes[dataStart..<dataStart + Int(size)])
            }
            offset = align4(dataStart + Int(size))
        }
        return nil
    }

    private static func field(_ bytes: [UInt8], _ offset: Int, _ index: Int) -> UInt32? {
        let start = offset + 6 + 8 * index
        return UInt32(String(decoding: bytes[start..<start + 8], as: UTF8.self), radix: 16)
    }

    private static func align4(_ n: Int) -> Int { (n + 3) & ~3 }

    private static func hex8(_ value: UInt32) -> String {
        let digits = String(value, radix: 16, uppercase: true)
        return String(repeating: "0", count: 8 - digits.count) + digits
    }
}
