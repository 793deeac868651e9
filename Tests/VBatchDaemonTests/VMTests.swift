import Foundation
import Synchronization
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore
import VBatchLibvirt

/// Jobs in real QEMU VMs (TCG) through libvirt, with the test guest built from Debian
/// packages (scripts/setup.sh prepares libvirtd and images/testguest). One VM test at a
/// time: the machine has two cores.
@Suite("Real VMs", .serialized)
struct VMTests {
    static let connectionURI = "qemu:///system"

    func harness(extraSite: String = "", queues: [String: String] = [:]) throws -> DaemonHarness {
        let d = try DaemonHarness(site: DaemonHarness.libvirtSite(extra: extraSite), queues: queues)
        try d.start()
        return d
    }

    func submit(_ d: DaemonHarness, _ script: String, _ args: [String]) throws -> Int64 {
        guard let id = try d.submitJobs(script, args).first else { throw HarnessError("submit printed no job id") }
        return id
    }

    func job(_ d: DaemonHarness, _ id: Int64) throws -> JobInfo { try d.client.job(id).job }

    func waitEnded(_ d: DaemonHarness, _ ids: [Int64], timeout: Double = 90) throws {
        try d.waitEnded(ids, timeout: timeout)
    }

    func domainXML(jobID: Int64) async throws -> String? {
        let connection = try await LibvirtConnection(uri: Self.connectionURI)
        defer { Task { await connection.close() } }
        guard let domain = try await connection.activeDomains().first(where: { $0.name == "vbatch-job-\(jobID)" }) else { return nil }
        return try await connection.xmlDescription(domain)
    }

    @Test func outputAndExitCodesAreCollected() throws {
        let d = try harness()
        let ok = try submit(d, """
            #!/bin/sh
            echo "hello from job $VBATCH_JOB_ID: $1 $GREETING"
            echo "to stderr" >&2
            echo result > "$VBATCH_OUTPUT/result.txt"
            """, ["-q", "two-way", "-v", "GREETING=<&'\">", "--", "first-arg"])
        let bad = try submit(d, "#!/bin/sh\necho failing\nexit 7\n", ["-q", "two-way"])
        try waitEnded(d, [ok, bad])
        #expect(try job(d, ok).state == .completed)
        #expect(try job(d, ok).exitCode == 0)
        let output = try d.client.output(ok)
        #expect(output.stdout == "hello from job \(ok): first-arg <&'\">\n")
        #expect(output.stderr == "to stderr\n")
        #expect(output.files == ["output/result.txt"])
        #expect(try d.vbatch(["output", String(ok), "--file", "output/result.txt"]).stdout == "result\n")
        let cli = try d.vbatch(["output", String(ok)])
        #expect(cli.stdout == output.stdout && cli.stderr.hasPrefix("to stderr\n"))
        let failed = try job(d, bad)
        #expect(failed.state == .completed && failed.exitCode == 7)
        #expect(try d.client.output(bad).stdout == "failing\n")
        // Scratch disks are gone with the VM; the collected output stays.
        let spool = d.stateDirectory + "/spool/\(ok)"
        #expect(!FileManager.default.fileExists(atPath: spool + "/job.img"))
        #expect(!FileManager.default.fileExists(atPath: spool + "/out.img"))
        #expect(FileManager.default.fileExists(atPath: spool + "/stdout"))
    }

    @Test func accountingRecordsTheCPUTimeLibvirtMeasured() async throws {
        let d = try harness()
        // What libvirt itself reports while the jobs run, to tell on a failure whether the
        // figures were libvirt's or the daemon's doing.
        let libvirt = Task {
            var seen: [String] = []
            guard let connection = try? await LibvirtConnection(uri: Self.connectionURI) else { return seen }
            while !Task.isCancelled {
                let usage = (try? await connection.domainUsage()) ?? []
                seen.append(usage.map { "\($0.domain.name) \($0.domain.uuid.prefix(8)) cpu \($0.cpuTimeNanoseconds ?? 0)" }
                    .joined(separator: "; "))
                try? await Task.sleep(for: .milliseconds(500))
            }
            await connection.close()
            return seen
        }
        // One payload keeps its vCPU busy for 4 s, the other sleeps as long.
        let busy = try submit(d, """
            #!/bin/sh
            end=$(( $(date +%s) + 4 ))
            while [ "$(date +%s)" -lt "$end" ]; do :; done
            """, ["-q", "two-way"])
        let idle = try submit(d, "#!/bin/sh\nsleep 4\n", ["-q", "two-way"])
        try waitEnded(d, [busy, idle])
        libvirt.cancel()
        let evidence = "libvirt's samples:\n" + (await libvirt.value).suffix(30).joined(separator: "\n")
        let report = try d.client.accounting(since: nil, until: nil, all: true)
        let records = Dictionary(uniqueKeysWithValues: report.records.map { ($0.jobID, $0) })
        let b = try #require(records[busy]), i = try #require(records[idle])
        for r in [b, i] {
            #expect(r.state == .completed && r.exitCode == 0 && r.node == "local" && r.cores == 1)
            // libvirt's CPU time of the VM: something (the guest boots), never more than its vCPU could give.
            #expect(r.cpuSeconds > 0.2 && r.cpuSeconds <= r.coreSeconds + 1, "cpu \(r.cpuSeconds) s, wall \(r.wallSeconds) s; \(evidence)")
            #expect((r.maxRSSKiB ?? 0) > 10_000, "QEMU's resident memory is reported")
        }
        #expect(b.cpuSeconds > i.cpuSeconds + 2, "busy \(b.cpuSeconds) s vs idle \(i.cpuSeconds) s of CPU; \(evidence)")
        // The job itself carries the measured CPU time: `vbatch show` and qstat's resources_used.cput.
        #expect(try job(d, busy).cpuTime == b.cpuSeconds)
        let cput = Quantities.formatHMS(Int(b.cpuSeconds.rounded()))
        let shown = try d.vbatch(["show", String(busy)]).stdout.split(separator: "\n").first { $0.hasPrefix("cpu time:") }
        #expect(shown?.hasSuffix(" \(cput)") == true, "\(String(describing: shown))")
        #expect(try d.vbatch(["qstat", "-f", String(busy)]).stdout.contains("resources_used.cput = \(cput)\n"))
        let apel = try d.vbatch(["accounting", "--all", "--format", "apel"]).stdout
        #expect(apel.contains("LocalJobId: \(busy)\n") && apel.contains("CpuDuration: \(Int(b.cpuSeconds.rounded()))\n"))
    }

    @Test func walltimeKillsWithinTheGracePeriod() throws {
        let d = try harness()
        let id = try submit(d, "#!/bin/sh\necho started\nsleep 600\n", ["-q", "one-way", "-l", "walltime=5s"])
        try waitEnded(d, [id], timeout: 120)
        let j = try job(d, id)
        #expect(j.state == .failed)
        #expect(j.reason == "killed: walltime of 5s exceeded")
        let ran = (j.endTime ?? 0) - (j.startTime ?? 0)
        #expect(ran >= 5 && ran <= 5 + 20 + 5, "ran \(ran) s")
        #expect(try d.client.output(id).stdout == "started\n")
    }

    @Test func cancelDestroysTheRunningVM() async throws {
        let d = try harness()
        let id = try submit(d, "#!/bin/sh\nsleep 600\n", ["-q", "one-way"])
        #expect(try d.wait(timeout: 60) { try job(d, id).state == .running })
        #expect(try await domainXML(jobID: id) != nil)
        #expect(try d.vbatch(["cancel", String(id)]).status == 0)
        try waitEnded(d, [id], timeout: 30)
        #expect(try job(d, id).state == .cancelled)
        #expect(try await domainXML(jobID: id) == nil)
    }

    /// Cancelled while its VM is being made (libvirtd held still meanwhile): the VM is destroyed
    /// as soon as it runs (the engine cancels again on `running`), not left to run its payload.
    @Test func cancelWhileTheVMStartsDestroysItOnceItRuns() async throws {
        let d = try harness()
        try d.waitNodes(["local"], link: "up")
        let pidText = try String(contentsOfFile: "/run/libvirtd.pid", encoding: .utf8)
        let libvirtd = try #require(pid_t(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        kill(libvirtd, SIGSTOP)
        var resumed = false
        defer { if !resumed { kill(libvirtd, SIGCONT) } }
        let id = try submit(d, "#!/bin/sh\nsleep 600\n", ["-q", "one-way"])
        #expect(try d.wait(timeout: 10) { try job(d, id).state == .starting })
        #expect(try d.vbatch(["cancel", String(id)]).status == 0)
        kill(libvirtd, SIGCONT)
        resumed = true
        try waitEnded(d, [id], timeout: 60)
        #expect(try job(d, id).state == .cancelled)
        #expect(try await domainXML(jobID: id) == nil)
    }

    @Test func vCPUsArePinnedToCPUsOfTheirOwn() async throws {
        let d = try harness()
        let sleeper = "#!/bin/sh\nsleep 30\n"
        let two = try submit(d, sleeper, ["-q", "one-way", "-l", "cores=2"])
        #expect(try d.wait(timeout: 60) { try job(d, two).state == .running })
        let xml = try #require(try await domainXML(jobID: two))
        #expect(xml.contains("<vcpu placement='static' cpuset='0-1'>2</vcpu>") || xml.contains("cpuset='0-1'"))
        #expect(xml.contains("<vcpupin vcpu='0' cpuset='0'/>"))
        #expect(xml.contains("<vcpupin vcpu='1' cpuset='1'/>"))
        #expect(try d.vbatch(["cancel", String(two)]).status == 0)
        try waitEnded(d, [two], timeout: 30)

        let a = try submit(d, sleeper, ["-q", "two-way"]), b = try submit(d, sleeper, ["-q", "two-way"])
        #expect(try d.wait(timeout: 60) { try job(d, a).state == .running && job(d, b).state == .running })
        let cpusA = try #require(try job(d, a).cpus), cpusB = try #require(try job(d, b).cpus)
        #expect(cpusA.count == 1 && cpusB.count == 1 && Set(cpusA).isDisjoint(with: cpusB))
        for (id, cpu) in [(a, cpusA[0]), (b, cpusB[0])] {
            let domain = try #require(try await domainXML(jobID: id))
            #expect(domain.contains("<vcpupin vcpu='0' cpuset='\(cpu)'/>"))
        }
        for id in [a, b] { _ = try d.vbatch(["cancel", String(id)]) }
        try waitEnded(d, [a, b], timeout: 30)
    }

    @Test func jobSurvivesKill9OfTheDaemon() async throws {
        let d = try harness()
        let id = try submit(d, "#!/bin/sh\nsleep 8\necho survived\n", ["-q", "one-way"])
        #expect(try d.wait(timeout: 60) { try job(d, id).state == .running })
        let startTime = try job(d, id).startTime
        d.kill9()
        #expect(try await domainXML(jobID: id) != nil, "the VM keeps running without the daemon")
        try d.start()
        try waitEnded(d, [id])
        let j = try job(d, id)
        #expect(j.state == .completed && j.exitCode == 0)
        #expect(j.startTime == startTime, "walltime counts from the original start")
        #expect(try d.client.output(id).stdout == "survived\n")
        #expect(try d.client.job(id).history.contains { $0.reason.contains("re-adopted") })
    }

    @Test func jobKeepsRunningThroughAConfigurationReload() async throws {
        let d = try harness()
        let id = try submit(d, "#!/bin/sh\nsleep 6\necho still here\n", ["-q", "two-way"])
        #expect(try d.wait(timeout: 60) { try job(d, id).state == .running })
        try DaemonHarness.extraQueue.write(toFile: d.configDirectory + "/queues/extra.toml", atomically: true, encoding: .utf8)
        let reload = try d.vbatch(["reload"])
        #expect(reload.status == 0, "\(reload.stderr)")
        #expect(try d.wait(timeout: 30) { (try? d.client.queues().map(\.name))?.contains("extra") == true })
        #expect(try await domainXML(jobID: id) != nil || job(d, id).state.isTerminal, "the VM was not stopped by the reload")
        try waitEnded(d, [id])
        let j = try job(d, id)
        #expect(j.state == .completed && j.exitCode == 0, "\(j.reason ?? "")")
        #expect(try d.client.output(id).stdout == "still here\n")
        #expect(try d.client.job(id).history.contains { $0.reason.contains("re-adopted") })
        #expect((j.cpuTime ?? 0) > 0, "the new driver samples the re-adopted VM")
    }

    @Test func jobWhoseVMEndedWhileTheDaemonWasDownIsCompleted() async throws {
        let d = try harness()
        let id = try submit(d, "#!/bin/sh\nsleep 2\necho finished alone\nexit 5\n", ["-q", "one-way"])
        #expect(try d.wait(timeout: 60) { try job(d, id).state == .running })
        d.kill9()
        let gone = try d.wait(timeout: 60) { (try? awaitDomainGone(id)) ?? false }
        #expect(gone, "the VM ends on its own")
        try d.start()
        try waitEnded(d, [id])
        let j = try job(d, id)
        #expect(j.state == .completed && j.exitCode == 5)
        #expect(try d.client.output(id).stdout == "finished alone\n")
    }

    /// Whether the job's domain is gone (synchronous, for polling).
    func awaitDomainGone(_ id: Int64) throws -> Bool {
        let result = Mutex<Bool?>(nil)
        let done = DispatchSemaphore(value: 0)
        Task {
            do {
                let xml = try await domainXML(jobID: id)
                result.withLock { $0 = xml == nil }
            } catch {
                result.withLock { $0 = false }
            }
            done.signal()
        }
        done.wait()
        return result.withLock { $0 } ?? false
    }

    @Test func pooledVMRunsAJobWithoutABootAndIsNeverReused() async throws {
        let pool = "\n[pool.testguest]\nenvironment = \"testguest\"\nsize = 1\nmemory = \"256mb\"\n"
        let d = try DaemonHarness(site: DaemonHarness.libvirtSite() + pool)
        try d.start()
        func idle() throws -> Int { try d.client.nodes()[0].pools.first?.idle ?? 0 }
        #expect(try d.wait(timeout: 90) { try idle() == 1 }, "the pool fills at start")

        let first = try submit(d, "#!/bin/sh\necho first in $VBATCH_JOB_ID\n", ["-q", "one-way"])
        try waitEnded(d, [first])
        let firstDetail = try d.client.job(first)
        #expect(firstDetail.job.state == .completed && firstDetail.job.exitCode == 0)
        #expect(try d.client.output(first).stdout == "first in \(first)\n")
        let firstVM = try #require(pooledVM(firstDetail))
        // The VM was booted and waiting before the job came: its console shows the agent
        // ready first, then the job starting in the same boot.
        let console = try String(decoding: d.client.file(first, path: "console.log"), as: UTF8.self)
        let ready = try #require(console.range(of: "vbatch-guest: ready"))
        let started = try #require(console.range(of: "vbatch-guest: job \(first) started"))
        #expect(ready.upperBound <= started.lowerBound)

        // The pool refills with a fresh VM; the next job runs there, never in the first one.
        #expect(try d.wait(timeout: 90) { try idle() == 1 })
        let second = try submit(d, "#!/bin/sh\necho second\n", ["-q", "one-way"])
        try waitEnded(d, [second])
        let secondVM = try #require(pooledVM(try d.client.job(second)))
        #expect(secondVM != firstVM)
        let connection = try await LibvirtConnection(uri: Self.connectionURI)
        #expect(try await connection.activeDomains().allSatisfy { $0.name != "vbatch-pool-\(firstVM)" })
        await connection.close()
        #expect(try d.client.output(second).stdout == "second\n")
    }

    /// The pooled VM a job was placed in, from its history.
    func pooledVM(_ detail: JobDetail) -> Int64? {
        guard let reason = detail.history.first(where: { $0.state == .starting })?.reason,
              let range = reason.range(of: "in pooled VM ") else { return nil }
        return Int64(reason[range.upperBound...].prefix { $0.isNumber })
    }

    @Test func orphanDomainsAreRemoved() async throws {
        // A domain that looks like a vbatch job the store never heard of.
        let connection = try await LibvirtConnection(uri: Self.connectionURI)
        let orphanID: Int64 = 990_000 + Int64.random(in: 0..<9999)
        let spec = DomainSpec(
            name: "vbatch-job-\(orphanID)", uuid: nil, type: "qemu", memoryMB: 64, hostCPUs: [0], boot: .disk, disks: [],
            consoleLogPath: nil,
            metadata: (namespaceURI: "urn:x-vbatch:job:1", prefix: "vbatch",
                       element: XMLElement("job", attributes: [("id", String(orphanID)), ("node", "local")])))
        _ = try await connection.createTransient(xml: try DomainXML.render(spec))
        #expect(try await connection.activeDomains().contains { $0.name == "vbatch-job-\(orphanID)" })
        let d = try harness()
        // The daemon answers at once; the node's resync, in the background, destroys the orphan.
        var gone = false
        for _ in 0..<300 where !gone {
            gone = try await connection.activeDomains().allSatisfy { $0.name != "vbatch-job-\(orphanID)" }
            if !gone { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(gone, "orphan destroyed: \(d.daemonLog.suffix(1000))")
        await connection.close()
    }

    @Test func diskImagesGetACopyOnWriteOverlayDeletedWithTheJob() throws {
        // The test guest's kernel with a catalogue disk: the job's VM gets a qcow2 overlay on it.
        let d = try DaemonHarness(site: DaemonHarness.libvirtSite(), queues: ["disk.toml": """
            [queue.disk]
            type = "execution"
            environments = ["guest-with-disk"]
            walltime_max = "1h"
            default_memory = "256mb"
            """])
        let base = d.configDirectory + "/images/base.qcow2"
        let create = try DaemonHarness.run("/usr/bin/qemu-img", ["create", "-q", "-f", "qcow2", base, "16M"], environment: [:], stdin: nil)
        #expect(create.status == 0)
        try """
            [image.guest-with-disk]
            boot = "kernel"
            kernel = "testguest/out/vmlinuz"
            initrd = "testguest/out/initrd.img"
            cmdline = "console=ttyS0 quiet panic=-1 cryptomgr.notests"
            disk = "base.qcow2"
            format = "qcow2"
            """.write(toFile: d.configDirectory + "/images/disk.toml", atomically: true, encoding: .utf8)
        try d.start()
        let id = try submit(d, "#!/bin/sh\nls /sys/block\nsleep 3\n", ["-q", "disk"])
        #expect(try d.wait(timeout: 60) { try job(d, id).state == .running })
        // The overlay is a volume of the node's job pool, on the node's cached copy of the base.
        let overlay = "/var/lib/vbatch/jobs/job-\(id).qcow2"
        let info = try DaemonHarness.run("/usr/bin/qemu-img", ["info", "-U", "--output=json", overlay], environment: [:], stdin: nil)
        #expect(info.stdout.contains("\"backing-filename\": \"/var/lib/vbatch/images/"), "overlay on the cached disk: \(info.stdout)")
        #expect(info.stdout.contains("\"backing-filename-format\": \"qcow2\""))
        try waitEnded(d, [id])
        #expect(try job(d, id).state == .completed)
        #expect(try d.client.output(id).stdout.contains("vda"), "the guest sees the disk")
        #expect(!FileManager.default.fileExists(atPath: overlay), "deleted with the job")
        #expect(FileManager.default.fileExists(atPath: base))
    }

    /// A config tree whose queue `NAME` offers the image `vbatch image build` makes from `recipe`.
    func factorySite(recipe: String, image: String, memory: String) throws -> DaemonHarness {
        let d = try DaemonHarness(site: DaemonHarness.libvirtSite(), queues: ["\(image).toml": """
            [queue.\(image)]
            type = "execution"
            environments = ["\(image)"]
            walltime_max = "1h"
            default_memory = "\(memory)"
            """])
        // `vbatch image build` writes the image and its catalogue entry into this config tree.
        let build = try DaemonHarness.run(DaemonHarness.binaries + "/vbatch",
                                          ["image", "build", DaemonHarness.repository + "/images/recipes/\(recipe).toml",
                                           "--config", d.configDirectory],
                                          environment: ["VBATCH_HOME": DaemonHarness.repository], stdin: nil)
        guard build.status == 0 else { throw HarnessError("image build failed: \(build.stderr.suffix(2000))") }
        try d.start()
        return d
    }

    @Test func jobRunsInTheFactoryBuiltDebianImage() throws {
        let d = try factorySite(recipe: "debian12", image: "debian12", memory: "512mb")
        let id = try submit(d, """
            #!/bin/sh
            . /etc/os-release
            echo "$PRETTY_NAME"
            python3 -c 'print(6 * 7)'
            """, ["-q", "debian12"])
        try waitEnded(d, [id], timeout: 120)
        #expect(try job(d, id).state == .completed && job(d, id).exitCode == 0)
        #expect(try d.client.output(id).stdout == "Debian GNU/Linux 12 (bookworm)\n42\n")
    }

    @Test func cloudInitImageWithoutTheAgentRunsAJob() throws {
        let d = try factorySite(recipe: "debian12-cloudinit", image: "debian12-cloudinit", memory: "512mb")
        let id = try submit(d, "#!/bin/sh\necho \"agent came by cloud-init: $(command -v cloud-init)\"\n",
                            ["-q", "debian12-cloudinit"])
        try waitEnded(d, [id], timeout: 180)
        let console = (try? String(decoding: d.client.file(id, path: "console.log"), as: UTF8.self)) ?? ""
        let reasons = try d.client.job(id).history.map(\.reason)
        #expect(try job(d, id).state == .completed && job(d, id).exitCode == 0, "\(reasons) console: \(console.suffix(3000))")
        #expect(try d.client.output(id).stdout == "agent came by cloud-init: /usr/bin/cloud-init\n")
    }

    func brokenImageSite(kernel: String) throws -> DaemonHarness {
        let broken = """
            [queue.broken]
            type = "execution"
            environments = ["broken"]
            walltime_max = "1h"
            """
        let d = try DaemonHarness(site: DaemonHarness.libvirtSite(extra: "max_start_attempts = 2\nmax_node_failures = 2"),
                                  queues: ["broken.toml": broken])
        try """
            [image.broken]
            boot = "kernel"
            kernel = "\(kernel)"
            """.write(toFile: d.configDirectory + "/images/broken.toml", atomically: true, encoding: .utf8)
        return d
    }

    @Test func bootFailureRequeuesThenFailsAndMarksTheNode() throws {
        // A "kernel" QEMU cannot load: libvirt's create fails on every attempt.
        let probe = try DaemonHarness()
        let garbage = probe.root + "-garbage-vmlinuz"
        try Data(repeating: 0x5A, count: 4096).write(to: URL(fileURLWithPath: garbage))
        defer { try? FileManager.default.removeItem(atPath: garbage) }
        let d = try brokenImageSite(kernel: garbage)
        try d.start()
        let id = try submit(d, "#!/bin/sh\ntrue\n", ["-q", "broken"])
        try waitEnded(d, [id], timeout: 60)
        let detail = try d.client.job(id)
        #expect(detail.job.state == .failed)
        let requeued = detail.history.filter { $0.state == .queued && $0.reason.contains("start on local failed (attempt 1 of 2)") }
        #expect(requeued.count == 1)
        #expect(detail.history.last?.reason.contains("start failed 2 times") == true)
        #expect(detail.history.contains { $0.reason.contains("virDomainCreateXML") }, "libvirt's error is in the history")
        let node = try #require(try d.client.nodes().first)
        #expect(!node.enabled)
        #expect(node.note?.contains("2 consecutive VM start failures") == true)
    }

    @Test func imageThatFailsItsCheckFailsTheJobAtOnce() throws {
        let d = try brokenImageSite(kernel: "/nonexistent/vmlinuz")
        try d.start()
        let id = try submit(d, "#!/bin/sh\ntrue\n", ["-q", "broken"])
        try waitEnded(d, [id], timeout: 60)
        let detail = try d.client.job(id)
        #expect(detail.job.state == .failed)
        #expect(detail.job.reason?.contains("/nonexistent/vmlinuz: no such file") == true)
        #expect(!detail.history.contains { $0.state == .queued && $0.reason.contains("attempt") }, "no retries")
        #expect(try d.client.nodes().first?.enabled == true, "the node is not blamed")
    }
}
