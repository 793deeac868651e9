/// The cloud-init NoCloud seed for images whose catalogue entry says `agent = "cloud-init"`:
/// a small ISO 9660 file system (Rock Ridge names) labelled `cidata` holding `meta-data`
/// and `user-data`. The user-data installs the guest agent as
/// `/usr/local/sbin/vbatch-guest` and starts it at boot (a transient systemd unit with
/// `KillMode=mixed`, as docs/guest-contract.md asks). The job itself still comes on the job
/// disk; the seed carries nothing of the user's.
///
/// The driver attaches the file as a read-only raw virtio disk with serial `cidata`
/// (cloud-init finds it by its label; the serial lets anyone else tell it apart).
public enum CloudInitDisk {
    /// Serial of the virtio disk.
    public static let serial = "cidata"
    /// Volume label cloud-init's NoCloud data source looks for.
    public static let label = "cidata"

    /// Writes the seed disk for job `jobID` to `path` (mode 0600, replacing any file there).
    /// - Parameter agent: the guest agent's bytes (`images/vbatch-guest`).
    public static func write(to path: String, jobID: Int64, agent: [UInt8]) throws {
        try FileIO.write(image(jobID: jobID, agent: agent), to: path)
    }

    /// The seed disk's bytes.
    public static func image(jobID: Int64, agent: [UInt8]) -> [UInt8] {
        ISO9660.image(label: label, files: [
            ("meta-data", Array(metaData(jobID: jobID).utf8)),
            ("user-data", Array(userData(jobID: jobID, agent: agent).utf8)),
        ])
    }

    /// NoCloud `meta-data`: a fresh instance id per job, so cloud-init runs its per-instance steps.
    public static func metaData(jobID: Int64) -> String {
        "instance-id: vbatch-job-\(jobID)\nlocal-hostname: vbatch-job-\(jobID)\n"
    }

    /// `#cloud-config` user-data: at the earliest stage cloud-init runs commands
    /// (`bootcmd`), write the agent and start it.
    public static func userData(jobID: Int64, agent: [UInt8]) -> String {
        let encoded = base64(agent)
        var lines: [String] = []
        var i = encoded.startIndex
        while i < encoded.endIndex {
            let end = encoded.index(i, offsetBy: 76, limitedBy: encoded.endIndex) ?? encoded.endIndex
            lines.append(String(encoded[i..<end]))
            i = end
        }
        let script = [
            "set -e",
            "umask 022",
            "mkdir -p /usr/local/sbin",
            "base64 -d >/usr/local/sbin/vbatch-guest.new <<'VBATCH_AGENT'",
        ] + lines + [
            "VBATCH_AGENT",
            "chmod 0755 /usr/local/sbin/vbatch-guest.new",
            "mv -f /usr/local/sbin/vbatch-guest.new /usr/local/sbin/vbatch-guest",
            "if command -v systemd-run >/dev/null 2>&1 && [ -d /run/systemd/system ]; then",
            "  systemd-run --unit=vbatch-guest --description='vbatch guest agent' --no-block \\",
            "    -p KillMode=mixed -p TimeoutStopSec=15 \\",
            "    -p StandardOutput=journal+console -p StandardError=journal \\",
            "    /usr/local/sbin/vbatch-guest",
            "else",
            "  setsid /usr/local/sbin/vbatch-guest </dev/null >/dev/console 2>&1 &",
            "fi",
        ]
        return """
            #cloud-config
            # vbatch job \(jobID): install and start the vbatch guest agent (docs/guest-contract.md).
            # The job itself comes on the job disk (serial vbatch-job).
            bootcmd:
              - - /bin/sh
                - -c
                - |

            """ + script.map { "      " + $0 }.joined(separator: "\n") + "\n"
    }

    private static func base64(_ bytes: [UInt8]) -> String {
        let table = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".utf8)
        var out: [UInt8] = []
        out.reserveCapacity((bytes.count + 2) / 3 * 4)
        var i = 0
        while i < bytes.count {
            let b0 = bytes[i], b1 = i + 1 < bytes.count ? bytes[i + 1] : 0, b2 = i + 2 < bytes.count ? bytes[i + 2] : 0
            out.append(table[Int(b0 >> 2)])
            out.append(table[Int((b0 & 0x03) << 4 | b1 >> 4)])
            out.append(i + 1 < bytes.count ? table[Int((b1 & 0x0f) << 2 | b2 >> 6)] : UInt8(ascii: "="))
            out.append(i + 2 < bytes.count ? table[Int(b2 & 0x3f)] : UInt8(ascii: "="))
            i += 3
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// A minimal ISO 9660 image: one root directory with regular files, Rock Ridge names and
/// modes (so `meta-data` keeps its lowercase name and its dash), deterministic bytes.
enum ISO9660 {
    static let sector = 2048

    static func image(label: String, files: [(name: String, contents: [UInt8])]) -> [UInt8] {
        let files = files.sorted { isoName($0.name).lexicographicallyPrecedes(isoName($1.name)) }
        // Sectors: 0-15 system area, 16 primary descriptor, 17 terminator, 18 and 19 the
        // path tables (little- and big-endian), 20 the root directory, then the files.
        let rootSector = 20
        var next = rootSector + 1
        var extents: [Int] = []
        for file in files {
            extents.append(next)
            next += max(1, (file.contents.count + sector - 1) / sector)
        }
        let total = next
        var out = [UInt8](repeating: 0, count: total * sector)
        func put(_ bytes: [UInt8], at offset: Int) { out.replaceSubrange(offset..<offset + bytes.count, with: bytes) }

        // Root directory: ".", "..", the files.
        var root: [UInt8] = []
        root += record(extent: rootSector, size: sector, directory: true, identifier: [0],
                       systemUse: sp() + px(mode: 0o040755, links: 2))
        root += record(extent: rootSector, size: sector, directory: true, identifier: [1],
                       systemUse: px(mode: 0o040755, links: 2))
        for (file, extent) in zip(files, extents) {
            root += record(extent: extent, size: file.contents.count, directory: false, identifier: isoName(file.name),
                           systemUse: px(mode: 0o100644, links: 1) + nm(file.name))
        }
        precondition(root.count <= sector, "ISO 9660 root directory must fit one sector")
        put(root, at: rootSector * sector)
        for (file, extent) in zip(files, extents) { put(file.contents, at: extent * sector) }

        // Path tables: the root only.
        put([1, 0] + le32(rootSector) + le16(1) + [0, 0], at: 18 * sector)
        put([1, 0] + be32(rootSector) + be16(1) + [0, 0], at: 19 * sector)

        // Primary volume descriptor.
        var pvd = [UInt8](repeating: 0, count: sector)
        func set(_ bytes: [UInt8], _ offset: Int) { pvd.replaceSubrange(offset..<offset + bytes.count, with: bytes) }
        set([1] + Array("CD001".utf8) + [1], 0)
        set(padded("LINUX", 32), 8)
        set(padded(label, 32), 40)
        set(both32(total), 80)
        set(both16(1), 120)
        set(both16(1), 124)
        set(both16(sector), 128)
        set(both32(10), 132)
        set(le32(18), 140)
        set(be32(19), 148)
        set(record(extent: rootSector, size: sector, directory: true, identifier: [0], systemUse: []), 156)
        set(padded("", 128), 190)   // volume set
        set(padded("", 128), 318)   // publisher
        set(padded("", 128), 446)   // data preparer
        set(padded("VBATCH", 128), 574)  // application
        set(padded("", 37 * 3), 702)     // copyright, abstract, bibliographic files
        let noDate = Array("0000000000000000".utf8) + [0]
        for offset in [813, 830, 847, 864] { set(noDate, offset) }
        pvd[881] = 1
        put(pvd, at: 16 * sector)
        put([255] + Array("CD001".utf8) + [1], at: 17 * sector)
        return out
    }

    /// ISO level 1 name (`META_DAT.;1`); Rock Ridge carries the real one.
    static func isoName(_ name: String) -> [UInt8] {
        let upper = name.uppercased().map { c -> Character in
            c.isASCII && (c.isLetter || c.isNumber) ? c : "_"
        }
        let base = String(upper.prefix(8))
        return Array((base + ".;1").utf8)
    }

    /// A directory record (ECMA-119 9.1), padded to an even length.
    static func record(extent: Int, size: Int, directory: Bool, identifier: [UInt8], systemUse: [UInt8]) -> [UInt8] {
        var r: [UInt8] = [0, 0] + both32(extent) + both32(size)
        r += [70, 1, 1, 0, 0, 0, 0]  // 1970-01-01 00:00:00 UTC: deterministic
        r += [directory ? 2 : 0, 0, 0] + both16(1) + [UInt8(identifier.count)] + identifier
        if identifier.count % 2 == 0 { r.append(0) }
        r += systemUse
        if r.count % 2 == 1 { r.append(0) }
        r[0] = UInt8(r.count)
        return r
    }

    /// SUSP "SP": marks the use of the System Use Sharing Protocol (root "." only).
    static func sp() -> [UInt8] { Array("SP".utf8) + [7, 1, 0xBE, 0xEF, 0] }

    /// Rock Ridge "PX": POSIX mode, links, uid and gid (RRIP 1.10 form).
    static func px(mode: Int, links: Int) -> [UInt8] {
        Array("PX".utf8) + [36, 1] + both32(mode) + both32(links) + both32(0) + both32(0)
    }

    /// Rock Ridge "NM": the file's real name.
    static func nm(_ name: String) -> [UInt8] {
        let bytes = Array(name.utf8)
        return Array("NM".utf8) + [UInt8(5 + bytes.count), 1, 0] + bytes
    }

    static func padded(_ text: String, _ width: Int) -> [UInt8] {
        Array(Array(text.utf8).prefix(width)) + [UInt8](repeating: 0x20, count: max(0, width - text.utf8.count))
    }

    static func le16(_ v: Int) -> [UInt8] { [UInt8(v & 0xff), UInt8(v >> 8 & 0xff)] }
    static func be16(_ v: Int) -> [UInt8] { le16(v).reversed() }
    static func le32(_ v: Int) -> [UInt8] { (0..<4).map { UInt8(v >> (8 * $0) & 0xff) } }
    static func be32(_ v: Int) -> [UInt8] { le32(v).reversed() }
    static func both16(_ v: Int) -> [UInt8] { le16(v) + be16(v) }
    static func both32(_ v: Int) -> [UInt8] { le32(v) + be32(v) }
}
