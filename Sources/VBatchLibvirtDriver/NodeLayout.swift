/// Where vbatch keeps things on every worker node: two `dir` storage pools at the same paths
/// on every node (save/restore and migration need equal paths), created by the driver if
/// missing. The daemon names volumes, never node files: paths are the pool's path + name.
public enum NodeLayout {
    /// Catalogue files (base disks, kernels, initrds), one volume per content: its sha256.
    public static let imagePool = "vbatch-images"
    public static let imagePath = "/var/lib/vbatch/images"
    /// Per-VM volumes (job disk, output disk, overlay, seed, console), removed with the VM.
    public static let jobPool = "vbatch-jobs"
    public static let jobPath = "/var/lib/vbatch/jobs"

    /// The console log of a job's own VM, on its node (for tools on the node itself, such as
    /// benchmarks timing the guest; the daemon fetches it through the storage API).
    public static func consolePath(jobID: Int64) -> String { VMVolumes.path(VMVolumes(owner: .job(jobID)).console) }
    /// The console log of a pooled VM, on its node.
    public static func consolePath(poolVM id: Int64) -> String { VMVolumes.path(VMVolumes(owner: .pool(id)).console) }

    static func imagePath(sha256: String) -> String { "\(imagePath)/\(sha256)" }

    /// Whether a volume name in the image pool is a cached image (64 lower-case hex digits).
    static func isImageVolume(_ name: String) -> Bool {
        name.utf8.count == 64 && name.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
    }
}

/// The volumes of one VM in the job pool, named after their owner: `job-ID` for a job's own
/// VM (and the job disk of a job in a pooled VM), `pool-ID` for a pooled VM.
struct VMVolumes: Sendable, Hashable {
    enum Owner: Sendable, Hashable {
        case job(Int64)
        case pool(Int64)
    }

    let owner: Owner

    var prefix: String {
        switch owner {
        case .job(let id): "job-\(id)"
        case .pool(let id): "pool-\(id)"
        }
    }

    var jobDisk: String { prefix + ".img" }
    var outputDisk: String { prefix + ".out" }
    var overlay: String { prefix + ".qcow2" }
    var cidata: String { prefix + ".cidata" }
    var console: String { prefix + ".console" }
    /// The VM's memory and device state while it is saved.
    var saveFile: String { prefix + ".save" }
    /// Every volume such a VM may have.
    var all: [String] { [jobDisk, outputDisk, overlay, cidata, console, saveFile] }

    static func path(_ volume: String) -> String { "\(NodeLayout.jobPath)/\(volume)" }

    /// The owner of a volume of the job pool, from its name; nil for names vbatch never makes.
    static func owner(ofVolume name: String) -> Owner? {
        guard let dot = name.lastIndex(of: "."),
              ["img", "out", "qcow2", "cidata", "console", "save"].contains(name[name.index(after: dot)...]) else { return nil }
        let stem = name[..<dot]
        if stem.hasPrefix("job-"), let id = Int64(stem.dropFirst(4)) { return .job(id) }
        if stem.hasPrefix("pool-"), let id = Int64(stem.dropFirst(5)) { return .pool(id) }
        return nil
    }
}
