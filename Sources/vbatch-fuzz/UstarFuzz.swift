#if canImport(Glibc)
import Glibc
#endif
import VBatchDrivers

/// `ustar`: bytes as the output disk a guest wrote, through `OutputDisk.collect`, which
/// `vbatchd` runs on every finished job: the ustar reader (headers, checksums, octal sizes,
/// member names, refusal of links, devices, absolute and `..` names) and the extraction into
/// the job's spool directory.
///
/// Each input is extracted into a fresh empty directory, which is then checked: every file
/// reported is a regular file inside it and nothing in it is a symbolic link (a member
/// name escaping the spool would be a finding even without a crash). Refusal is an error
/// thrown by `collect`.
enum UstarFuzz {
    static let spool: String = {
        let dir = FuzzScratch.root + "/ustar"
        FuzzScratch.makeDirectory(dir)
        return dir
    }()

    static let target = FuzzTarget(
        name: "ustar",
        summary: "output disk (ustar archive written by the guest): OutputDisk.collect into a fresh spool directory",
        run: { bytes in
            let into = spool + "/job"
            FuzzScratch.makeDirectory(into)
            defer { FuzzScratch.removeTree(into) }
            guard let result = try? OutputDisk.collect(archive: Array(bytes), into: into) else { return }
            for file in result.files {
                FuzzCheck.require(!file.hasPrefix("/") && !file.split(separator: "/").contains(".."),
                                  "extracted name stays inside the spool: \(file)")
                var st = stat()
                FuzzCheck.require(lstat(into + "/" + file, &st) == 0 && (st.st_mode & S_IFMT) == S_IFREG,
                                  "extracted \(file) is a regular file in the spool")
            }
            FuzzCheck.require(!containsLink(into), "no symbolic link in the spool")
        })

    /// Writes a job disk as the daemon makes it (`JobDisk.image`, the project's own ustar
    /// writer), without the zero padding to a whole MiB past its end-of-archive blocks: the
    /// seed of `Tests/fuzz/ustar/jobdisk.tar`.
    static func writeJobDiskSeed(to path: String) -> Int32 {
        let payload = JobPayload(name: "seed", script: "#!/bin/sh\necho hello > output/result.txt\n",
                                 arguments: ["a b", "'quoted'"], variables: ["FOO": "bar", "EMPTY": ""])
        guard var bytes = try? JobDisk.image(jobID: 42, payload: payload, cores: 2, memoryMB: 512, walltime: 3600, lease: 3700)
        else { return 1 }
        let used = (bytes.lastIndex { $0 != 0 } ?? 0) + 1
        bytes.removeLast(bytes.count - min(bytes.count, (used + 511) / 512 * 512 + 1024))
        FuzzScratch.write(bytes, to: path)
        return 0
    }

    /// Whether `path` or anything under it is a symbolic link.
    static func containsLink(_ path: String) -> Bool {
        var st = stat()
        guard lstat(path, &st) == 0 else { return false }
        if (st.st_mode & S_IFMT) == S_IFLNK { return true }
        guard (st.st_mode & S_IFMT) == S_IFDIR, let dir = opendir(path) else { return false }
        defer { closedir(dir) }
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name == "." || name == ".." { continue }
            if containsLink(path + "/" + name) { return true }
        }
        return false
    }
}
