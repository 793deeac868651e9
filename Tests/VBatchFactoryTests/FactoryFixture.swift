import Foundation
import Synchronization
import Testing
import VBatchConfig
import VBatchCore
import VBatchDrivers
import VBatchFactory
import VBatchLibvirt

/// One configuration directory for every build and boot test of a test run, under
/// `.build/vbatch-factory-tests/` (wiped when the first test of a run uses it, so the first
/// build is a real one and disk use stays bounded). Each recipe is built at most once per
/// run: the tests share the builds.
actor FactoryFixture {
    static let shared = FactoryFixture()

    let directory = repository + "/.build/vbatch-factory-tests"
    var configDirectory: String { directory + "/config" }
    var catalogueDirectory: String { configDirectory + "/images" }
    private var prepared = false
    private var builds: [String: Task<Build, any Error>] = [:]

    struct Build: Sendable {
        var result: ImageFactory.Result
        var progress: [String]
    }

    /// The configuration directory, created on first use.
    func prepare() throws -> String {
        if prepared { return configDirectory }
        guard geteuid() == 0 else { throw FixtureError("the factory tests need root (debootstrap, chroot, mkfs.ext4 -d)") }
        try FactoryInputs(root: repository).check()
        let fm = FileManager.default
        if fm.fileExists(atPath: directory) {
            let rm = Process()
            rm.executableURL = URL(fileURLWithPath: "/bin/rm")
            rm.arguments = ["-rf", "--one-file-system", directory]
            try rm.run()
            rm.waitUntilExit()
        }
        try fm.createDirectory(atPath: configDirectory + "/queues", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: catalogueDirectory, withIntermediateDirectories: true)
        try """
            [node.localhost]
            uri = "qemu:///system"
            cpus = "0-1"
            memory = "4gb"

            [vo.cms]
            groups = ["cms"]
            """.write(toFile: configDirectory + "/site.toml", atomically: true, encoding: .utf8)
        prepared = true
        return configDirectory
    }

    /// A factory on the test configuration; its progress lines go to `lines` and stdout.
    func factory(lines: ProgressLines) throws -> ImageFactory {
        let config = try prepare()
        let site = try ConfigLoader.loadSite(directory: config)
        let catalogue = try? ConfigLoader.load(directory: config).images
        return ImageFactory(catalogueDirectory: config + "/images", policy: site.settings.factory, catalogue: catalogue,
                            knownVOs: site.vos.map(\.name), inputs: FactoryInputs(root: repository),
                            progress: { line in
                                print(line)
                                lines.append(line)
                            })
    }

    /// The first build of the shipped recipe `name` in this run (built on first request).
    func build(_ name: String) async throws -> Build {
        if let task = builds[name] { return try await task.value }
        let lines = ProgressLines()
        let factory = try self.factory(lines: lines)
        let recipe = try RecipeFile.load(path: repository + "/images/recipes/\(name).toml")
        let task = Task.detached {
            let result = try factory.build(recipe, recipeFile: "images/recipes/\(name).toml")
            return Build(result: result, progress: lines.all)
        }
        builds[name] = task
        return try await task.value
    }

    /// The catalogue entry `name` as vbatch reads it.
    func image(_ name: String) throws -> ImageConfig {
        let config = try ConfigLoader.load(directory: configDirectory)
        guard let image = config.image(named: name) else { throw FixtureError("no image \(name) in the catalogue") }
        return image
    }
}

/// Progress lines collected from a build.
final class ProgressLines: Sendable {
    private let lines = Mutex<[String]>([])
    func append(_ line: String) { lines.withLock { $0.append(line) } }
    var all: [String] { lines.withLock { $0 } }
}

struct FixtureError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// Runs one job in a catalogue image the way the libvirt driver does (JobDomain.swift):
/// a qcow2 overlay as vda, the job disk (serial vbatch-job, read-only) and the output disk
/// (serial vbatch-out), raw, explicit formats; for `agent = "cloud-init"` images also the
/// cidata seed (serial cidata, read-only). Direct kernel boot, TCG, 1 vCPU.
struct JobRun {
    var exitCode: Int?
    var stdout: String
    var console: String
    /// The agent's log from the output disk.
    var agentLog: String
    /// Domain created → "vbatch-guest: job ID started" on the console.
    var secondsToPayload: Double?
    /// Domain created → domain gone.
    var seconds: Double
    /// Pooled: job disk attached → "job ID started".
    var secondsFromAttach: Double?

    static let namePrefix = "vbatch-factorytest-"

    /// - Parameters:
    ///   - pooled: boot without the job and output disks, hot-plug them (output first) once
    ///     the agent says `ready`, as a pooled VM gets its job.
    ///   - whenStarted: called once the payload started (e.g. to press the power button).
    static func run(_ image: ImageConfig, catalogueDirectory: String, jobID: Int64, script: String,
                    timeout: Double = 120, pooled: Bool = false,
                    whenStarted: (@Sendable (LibvirtConnection, DomainRef) async throws -> Void)? = nil) async throws -> JobRun {
        try ImageCheck.verify(image, catalogueDirectory: catalogueDirectory)
        let spool = repository + "/.build/vbatch-factory-tests/spool-\(jobID)"
        let fm = FileManager.default
        try? fm.removeItem(atPath: spool)
        try fm.createDirectory(atPath: spool + "/result", withIntermediateDirectories: true)
        defer { try? fm.removeItem(atPath: spool) }
        let overlay = spool + "/disk.qcow2", jobDisk = spool + "/job.img", outDisk = spool + "/out.img"
        let cidata = spool + "/cidata.img", console = spool + "/console.log"
        try JobDisk.write(to: jobDisk, jobID: jobID, payload: JobPayload(name: "factory-test", script: script),
                          cores: 1, memoryMB: image.memoryMB, walltime: 600)
        try OutputDisk.create(at: outDisk, sizeMB: 16)
        let qemuImg = Process()
        qemuImg.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-img")
        qemuImg.arguments = ["create", "-q", "-f", "qcow2", "-F", image.format, "-b", image.disk!, overlay]
        try qemuImg.run()
        qemuImg.waitUntilExit()
        guard qemuImg.terminationStatus == 0 else { throw FixtureError("qemu-img create failed") }
        var disks = [
            DomainSpec.Disk(path: overlay, format: "qcow2", target: "vda"),
            DomainSpec.Disk(path: jobDisk, format: "raw", target: "vdb", serial: JobDisk.serial, readOnly: true),
            DomainSpec.Disk(path: outDisk, format: "raw", target: "vdc", serial: OutputDisk.serial),
        ]
        if image.agent == .cloudInit {
            let agent = try Array(Data(contentsOf: URL(fileURLWithPath: repository + "/images/vbatch-guest")))
            try CloudInitDisk.write(to: cidata, jobID: jobID, agent: agent)
            disks.append(DomainSpec.Disk(path: cidata, format: "raw", target: "vdd", serial: CloudInitDisk.serial, readOnly: true))
        }
        let hotPlugged = pooled ? [disks[2], disks[1]] : []  // output disk first, then the job disk
        if pooled { disks = [disks[0]] + disks.dropFirst(3) }
        let spec = DomainSpec(name: namePrefix + String(jobID), type: "qemu", memoryMB: image.memoryMB, hostCPUs: [0],
                              boot: .kernel(kernel: image.kernel!, initrd: image.initrd, cmdline: image.cmdline),
                              disks: disks, consoleLogPath: console)
        let connection = try await LibvirtConnection(uri: "qemu:///system", callTimeout: .seconds(60))
        let started = Date()
        let domain = try await connection.createTransient(xml: DomainXML.render(spec))
        var secondsToPayload: Double?
        var attached: Date?
        var pressed = false
        do {
            while true {
                let text = (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
                if pooled, attached == nil, text.contains("vbatch-guest: ready") {
                    for disk in hotPlugged { try await connection.attachDevice(domain, xml: DomainXML.diskXML(disk)) }
                    attached = Date()
                }
                if secondsToPayload == nil, text.contains("vbatch-guest: job \(jobID) started") {
                    secondsToPayload = Date().timeIntervalSince(started)
                }
                if secondsToPayload != nil, !pressed, let whenStarted {
                    pressed = true
                    try await whenStarted(connection, domain)
                }
                if try await !connection.activeDomains().contains(where: { $0.name == domain.name }) { break }
                if Date().timeIntervalSince(started) > timeout {
                    throw FixtureError("the VM ran longer than \(timeout) s; console:\n\(text.suffix(3000))")
                }
                try await Task.sleep(for: .milliseconds(100))
            }
        } catch {
            try? await connection.destroy(domain)
            await connection.close()
            throw error
        }
        let seconds = Date().timeIntervalSince(started)
        await connection.close()
        let collected = try OutputDisk.collect(from: outDisk, into: spool + "/result")
        let stdout = (try? String(contentsOfFile: spool + "/result/stdout", encoding: .utf8)) ?? ""
        let consoleText = (try? String(contentsOfFile: console, encoding: .utf8)) ?? ""
        let agentLog = (try? String(contentsOfFile: spool + "/result/agent.log", encoding: .utf8)) ?? ""
        return JobRun(exitCode: collected.exitCode, stdout: stdout, console: consoleText, agentLog: agentLog,
                      secondsToPayload: secondsToPayload, seconds: seconds,
                      secondsFromAttach: attached.flatMap { a in secondsToPayload.map { started.addingTimeInterval($0).timeIntervalSince(a) } })
    }
}
