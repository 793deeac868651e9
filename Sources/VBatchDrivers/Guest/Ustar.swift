/// The POSIX ustar archive format, the one container both sides of the guest contract
/// speak: the host writes the job disk with ``UstarWriter`` and reads the output disk with
/// ``UstarReader``. Busybox `tar` and GNU `tar` read and write it.
enum Ustar {
    static let blockSize = 512

    /// Largest member size accepted when reading (guards against hostile headers).
    static let maxMemberSize = 1 << 40
}

/// Builds a ustar archive in memory.
struct UstarWriter {
    private(set) var bytes: [UInt8] = []

    enum Failure: Error, CustomStringConvertible {
        case nameTooLong(String)
        var description: String {
            switch self {
            case .nameTooLong(let n): "archive member name too long: \(n.prefix(80))…"
            }
        }
    }

    /// Adds a regular file.
    mutating func addFile(_ name: String, contents: [UInt8], mode: Int = 0o644, mtime: Int = 0) throws {
        try addHeader(name: name, size: contents.count, mode: mode, type: UInt8(ascii: "0"), mtime: mtime)
        bytes.append(contentsOf: contents)
        pad()
    }

    mutating func addDirectory(_ name: String, mode: Int = 0o755, mtime: Int = 0) throws {
        let dirName = name.hasSuffix("/") ? name : name + "/"
        try addHeader(name: dirName, size: 0, mode: mode, type: UInt8(ascii: "5"), mtime: mtime)
    }

    /// Ends the archive (two zero blocks) and pads it to a multiple of `alignment` bytes.
    mutating func finish(alignment: Int = Ustar.blockSize) -> [UInt8] {
        bytes.append(contentsOf: [UInt8](repeating: 0, count: 2 * Ustar.blockSize))
        let rest = bytes.count % alignment
        if rest != 0 { bytes.append(contentsOf: [UInt8](repeating: 0, count: alignment - rest)) }
        return bytes
    }

    private mutating func pad() {
        let rest = bytes.count % Ustar.blockSize
        if rest != 0 { bytes.append(contentsOf: [UInt8](repeating: 0, count: Ustar.blockSize - rest)) }
    }

    private mutating func addHeader(name: String, size: Int, mode: Int, type: UInt8, mtime: Int) throws {
        var header = [UInt8](repeating: 0, count: Ustar.blockSize)
        let utf8 = Array(name.utf8)
        // Names over 100 bytes go into prefix (155) + name (100), split at a slash.
        var prefix: [UInt8] = [], base = utf8
        if utf8.count > 100 {
            guard let split = utf8.indices.reversed().first(where: { utf8[$0] == UInt8(ascii: "/") && $0 <= 155 && utf8.count - $0 - 1 <= 100 })
            else { throw Failure.nameTooLong(name) }
            prefix = Array(utf8[..<split])
            base = Array(utf8[(split + 1)...])
        }
        func put(_ field: [UInt8], at offset: Int) {
            for (i, b) in field.enumerated() { header[offset + i] = b }
        }
        func octal(_ value: Int, width: Int) -> [UInt8] {
            let digits = Array(String(value, radix: 8).utf8)
            return [UInt8](repeating: UInt8(ascii: "0"), count: max(0, width - 1 - digits.count)) + digits + [0]
        }
        put(base, at: 0)
        put(octal(mode, width: 8), at: 100)
        put(octal(0, width: 8), at: 108)
        put(octal(0, width: 8), at: 116)
        put(octal(size, width: 12), at: 124)
        put(octal(mtime, width: 12), at: 136)
        put([UInt8](repeating: UInt8(ascii: " "), count: 8), at: 148)
        header[156] = type
        put(Array("ustar".utf8) + [0], at: 257)
        put(Array("00".utf8), at: 263)
        put(Array("root".utf8), at: 265)
        put(Array("root".utf8), at: 297)
        put(prefix, at: 345)
        let sum = header.reduce(0) { $0 + Int($1) }
        put(octal(sum, width: 7) + [UInt8(ascii: " ")], at: 148)
        bytes.append(contentsOf: header)
    }
}

/// Reads a ustar archive from untrusted bytes (the guest wrote them), one member at a time.
///
/// Anything that is not a well-formed regular file or directory with a safe relative name
/// is refused: absolute names, `..`, NUL, links, devices, bad checksums, sizes past the end.
struct UstarReader {
    struct Member: Equatable {
        var name: String
        var isDirectory: Bool
        /// Range of the contents within the archive bytes.
        var contents: Range<Int>
    }

    enum Failure: Error, Equatable, CustomStringConvertible {
        case badChecksum(offset: Int)
        case truncated(String)
        case unsafeName(String)
        case unsupportedType(String, UInt8)

        var description: String {
            switch self {
            case .badChecksum(let o): "output archive: bad header checksum at byte \(o)"
            case .truncated(let n): "output archive: member \(n) runs past the end of the disk"
            case .unsafeName(let n): "output archive: refused member name \(n.debugDescription)"
            case .unsupportedType(let n, let t): "output archive: refused member \(n.debugDescription) of type \(Character(Unicode.Scalar(t)))"
            }
        }
    }

    /// Lists the members of `archive`, stopping at the end-of-archive marker or the end of the bytes.
    static func members(of archive: UnsafeRawBufferPointer) throws -> [Member] {
        var members: [Member] = []
        var offset = 0
        while offset + Ustar.blockSize <= archive.count {
            let header = UnsafeRawBufferPointer(rebasing: archive[offset..<offset + Ustar.blockSize])
            if header.allSatisfy({ $0 == 0 }) { break }
            var sum = 0
            for (i, b) in header.enumerated() { sum += (148..<156).contains(i) ? 32 : Int(b) }
            guard let stored = octal(header, 148, 8), stored == sum else { throw Failure.badChecksum(offset: offset) }
            let base = string(header, 0, 100)
            let prefix = Array(header[257..<262]) == Array("ustar".utf8) ? string(header, 345, 155) : ""
            var name = prefix.isEmpty ? base : prefix + "/" + base
            guard let size = octal(header, 124, 12), size >= 0, size <= Ustar.maxMemberSize else {
                throw Failure.truncated(name)
            }
            let type = header[156]
            let start = offset + Ustar.blockSize
            guard start + size <= archive.count else { throw Failure.truncated(name) }
            while name.hasPrefix("./") { name.removeFirst(2) }
            let isDirectory = type == UInt8(ascii: "5")
            if isDirectory, name.hasSuffix("/") { name.removeLast() }
            if !(name.isEmpty && isDirectory) {
                guard isSafe(name) else { throw Failure.unsafeName(name) }
                guard isDirectory || type == UInt8(ascii: "0") || type == 0 else { throw Failure.unsupportedType(name, type) }
                members.append(Member(name: name, isDirectory: isDirectory, contents: start..<start + size))
            }
            offset = start + (size + Ustar.blockSize - 1) / Ustar.blockSize * Ustar.blockSize
        }
        return members
    }

    /// A relative path of plain components: no empty, `.` or `..` components, no NUL, no backslash tricks.
    static func isSafe(_ name: String) -> Bool {
        guard !name.isEmpty, name.utf8.count <= 4096, !name.hasPrefix("/"), !name.utf8.contains(0) else { return false }
        return name.split(separator: "/", omittingEmptySubsequences: false).allSatisfy { c in
            !c.isEmpty && c != "." && c != ".." && c.utf8.count <= 255
        }
    }

    private static func string(_ h: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> String {
        let field = h[offset..<offset + length]
        let end = field.firstIndex(of: 0) ?? field.endIndex
        return String(decoding: h[offset..<end], as: UTF8.self)
    }

    private static func octal(_ h: UnsafeRawBufferPointer, _ offset: Int, _ length: Int) -> Int? {
        var value = 0
        var seen = false
        for b in h[offset..<offset + length] {
            if b == 0 || b == UInt8(ascii: " ") { if seen { break } else { continue } }
            guard b >= UInt8(ascii: "0"), b <= UInt8(ascii: "7") else { return nil }
            value = value * 8 + Int(b - UInt8(ascii: "0"))
            seen = true
            if value > Ustar.maxMemberSize * 8 { return nil }
        }
        return seen ? value : 0
    }
}
