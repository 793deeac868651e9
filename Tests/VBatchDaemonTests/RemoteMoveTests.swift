import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// Work kept across interruptions, in real VMs on the test hosts: a payload appends a line
/// with a counter and the guest's uptime every second; suspended, saved and restored on another
/// host, migrated live, drained away or preempted, it must go on counting with no gap and no
/// restart (the uptime never goes back, and never jumps: the guest's clock stops with it).
@Suite("Jobs that stop and move without losing work", .serialized)
final class RemoteMoveTests {
    let hosts: TestHosts

    init() throws {
        hosts = try TestHosts.load()
        try hosts.reset()
    }

    deinit { try? hosts.reset() }

    /// Counts to `TICKS` (a job variable), one line a second: `N UPTIME`.
    static let counter = """
        #!/bin/sh
        n=0
        while [ "$n" -lt "$TICKS" ]; do
            n=$((n + 1))
            read up idle < /proc/uptime
            echo "$n $up" >> "$VBATCH_OUTPUT/count.txt"
            sleep 1
        done
        echo "counted to $n"
        """

    static let queues = ["moves.toml": """
        [queue.low]
        type = "execution"
        priority = 0
        environments = ["testguest"]
        walltime_max = "10m"
        max_cores = 2
        default_memory = "256mb"

        [queue.high]
        type = "execution"
        priority = 100
        environments = ["testguest"]
        walltime_max = "10m"
        max_cores = 2
        default_memory = "256mb"
        preempts = ["low"]
        preempt_mode = "save"
        """]

    func harness(count: Int) throws -> DaemonHarness {
        let d = try DaemonHarness(site: hosts.site(count: count), queues: Self.queues)
        try d.start()
        try d.waitNodes(hosts.hosts.prefix(count).map(\.name), link: "up")
        return d
    }

    func submitCounter(_ d: DaemonHarness, ticks: Int, _ extra: [String] = []) throws -> Int64 {
        let ids = try d.submitJobs(Self.counter, ["-q", "low", "-v", "TICKS=\(ticks)"] + extra)
        return try #require(ids.first)
    }

    /// Waits until the job's payload has been running for about `seconds` (its VM boots first).
    func letItCount(_ d: DaemonHarness, _ id: Int64, seconds: Double) throws {
        try d.waitRunning([id])
        Thread.sleep(forTimeInterval: seconds)
    }

    /// The job completed once and started anew once, counted 1…`ticks` without a gap, and its
    /// guest never restarted nor saw its clock jump: the uptime rises by about a second per
    /// line. Returns the largest step.
    @discardableResult
    func expectUnbrokenCount(_ d: DaemonHarness, _ id: Int64, ticks: Int) throws -> Double {
        let detail = try d.client.job(id)
        let job = detail.job
        #expect(job.state == .completed && job.exitCode == 0,
                "job \(id): \(detail.history.map { "\($0.state.rawValue): \($0.reason)" }.joined(separator: "\n"))\n\(d.daemonLog.suffix(3000))")
        #expect(try d.states(id).filter { $0 == "completed" }.count == 1)
        // It started anew once: every later piece was a resume, a restore or a migration.
        let fresh = detail.history.filter { $0.reason.hasPrefix("VM running on") }
        #expect(fresh.count == 1, "started anew \(fresh.count) times: \(detail.history.map(\.reason))")
        #expect(try d.client.output(id).stdout == "counted to \(ticks)\n")
        let text = String(decoding: try d.client.file(id, path: "output/count.txt"), as: UTF8.self)
        let lines = text.split(separator: "\n").map { $0.split(separator: " ") }
        #expect(lines.map { Int($0[0]) ?? -1 } == Array(1...ticks), "count: \(text)")
        let uptimes = lines.compactMap { $0.count > 1 ? Double($0[1]) : nil }
        var largest = 0.0
        for (a, b) in zip(uptimes, uptimes.dropFirst()) {
            #expect(b > a, "the guest restarted: uptime \(a) then \(b)")
            largest = max(largest, b - a)
        }
        #expect(largest < 4, "a gap of \(largest) s of guest time between two lines: \(text)")
        return largest
    }

    /// Domains of job `id` on every host.
    func copies(_ id: Int64) throws -> [String] {
        try hosts.hosts.flatMap { host in try hosts.domains(host.name).filter { $0 == "vbatch-job-\(id)" }.map { _ in host.name } }
    }

    // MARK: - (a) suspend, resume

    @Test("suspend stops the count and resume continues it; the suspended time does not count as walltime")
    func suspendAndResume() throws {
        let d = try harness(count: 1)
        // 25 s of counting under a 50 s walltime (the boot counts too), suspended for 35 s:
        // it would be killed if the suspended time counted.
        let id = try submitCounter(d, ticks: 25, ["-l", "walltime=50"])
        try letItCount(d, id, seconds: 8)
        let suspend = try d.vbatch(["suspend", String(id)])
        #expect(suspend.status == 0 && suspend.stdout == "\(id) suspended\n", "\(suspend.stderr)")
        #expect(try PBSCommands(d).run("qstat", ["-f", String(id)]).stdout.contains("job_state = S"))
        #expect(try d.client.nodes().first?.freeSlots == 1, "a suspended job keeps its slot")
        Thread.sleep(forTimeInterval: 35)
        let whileSuspended = try d.client.job(id)
        #expect(whileSuspended.job.state == .suspended, "\(whileSuspended.history.map { "\($0.state.rawValue): \($0.reason)" })")
        #expect(try d.vbatch(["suspend", String(id)]).status != 0, "already suspended")
        let resume = try d.vbatch(["resume", String(id)])
        #expect(resume.status == 0 && resume.stdout == "\(id) running\n", "\(resume.stderr)")
        try d.waitEnded([id])
        try expectUnbrokenCount(d, id, ticks: 25)
        let job = try d.client.job(id).job
        #expect((job.pausedSeconds ?? 0) >= 34, "paused \(job.pausedSeconds ?? 0) s")
        let record = try #require(try d.client.accounting(since: nil, until: nil, all: true).records.first { $0.jobID == id })
        #expect(record.wallSeconds < (job.endTime ?? 0) - (job.startTime ?? 0) - 30, "accounting leaves the pause out")
    }

    @Test("the walltime is still enforced after a suspend and a save: the job is killed once it has run its walltime")
    func walltimeEnforcedAcrossPauses() throws {
        let d = try harness(count: 2)
        let id = try d.submitJobs("#!/bin/sh\nsleep 600\n", ["-q", "low", "-l", "walltime=40"]).first!
        try letItCount(d, id, seconds: 8)
        #expect(try d.vbatch(["suspend", String(id)]).status == 0)
        Thread.sleep(forTimeInterval: 15)
        #expect(try d.vbatch(["resume", String(id)]).status == 0)
        Thread.sleep(forTimeInterval: 5)
        #expect(try d.vbatch(["checkpoint", String(id)]).status == 0)
        Thread.sleep(forTimeInterval: 15)
        #expect(try d.vbatch(["release", String(id)]).status == 0)
        try d.waitEnded([id], timeout: 240)
        let detail = try d.client.job(id)
        let job = detail.job
        #expect(job.state == .failed && (job.reason ?? "").contains("walltime of 40s exceeded"),
                "\(detail.history.map { "\($0.state.rawValue): \($0.reason)" })")
        // It ran its 40 s (and the grace), not 40 s of wall-clock time: the 30 s paused did not count.
        let ran = (job.endTime ?? 0) - (job.startTime ?? 0) - (job.pausedSeconds ?? 0)
        #expect(ran >= 38 && ran < 40 + 10 + 15, "ran \(ran) s besides \(job.pausedSeconds ?? 0) s paused")
        #expect((job.pausedSeconds ?? 0) >= 28)
    }

    // MARK: - (b) save here, restore there

    @Test("saved on one host and restored on another, the count goes on; walltime and accounting leave the saved time out")
    func saveOnOneHostRestoreOnAnother() throws {
        let d = try harness(count: 2)
        let id = try submitCounter(d, ticks: 20, ["-l", "walltime=45"])
        try letItCount(d, id, seconds: 7)
        let first = try #require(try d.client.job(id).job.node)
        let other = first == "wn1" ? "wn2" : "wn1"
        let save = try d.vbatch(["checkpoint", String(id)])
        #expect(save.status == 0 && save.stdout == "\(id) saved\n", "\(save.stderr)")
        let saved = try d.client.job(id).job
        #expect(saved.savedNode == first && saved.state == .saved)
        #expect(try PBSCommands(d).run("qstat", ["-f", String(id)]).stdout.contains("job_state = H"))
        #expect(try hosts.volumes(first, pool: "vbatch-jobs").contains("job-\(id).save"))
        #expect(try copies(id).isEmpty, "no VM while saved")
        #expect(try d.client.nodes().first { $0.name == first }?.freeSlots == 2, "a saved job frees its slots")
        // Its host goes into maintenance: released, the job is restored on the other one.
        #expect(try d.vbatch(["node", "drain", first]).status == 0)
        Thread.sleep(forTimeInterval: 30)  // longer than its walltime had left: saved time does not count
        #expect(try d.vbatch(["release", String(id)]).status == 0)
        try d.waitEnded([id])
        try expectUnbrokenCount(d, id, ticks: 20)
        let job = try d.client.job(id)
        #expect(job.job.node == other)
        #expect(job.history.contains { $0.reason.contains("VM restored on \(other) from \(first)") }, "\(job.history.map(\.reason))")
        #expect(try hosts.volumes(first, pool: "vbatch-jobs").isEmpty && hosts.volumes(other, pool: "vbatch-jobs").isEmpty)
        let record = try #require(try d.client.accounting(since: nil, until: nil, all: true).records.first { $0.jobID == id })
        #expect(record.cpuSeconds > 0 && record.wallSeconds < 45)
    }

    // MARK: - (c, d) live migration by a drain

    @Test("drain --mode migrate empties a host with two running jobs: both migrate live and finish elsewhere, counting on")
    func drainByLiveMigration() throws {
        let d = try harness(count: 3)
        #expect(try d.vbatch(["node", "drain", "wn2"]).status == 0)
        #expect(try d.vbatch(["node", "drain", "wn3"]).status == 0)
        let ids = try (0..<2).map { _ in try submitCounter(d, ticks: 30) }
        try d.waitRunning(ids)
        #expect(try ids.allSatisfy { try d.client.job($0).job.node == "wn1" })
        Thread.sleep(forTimeInterval: 6)
        #expect(try d.vbatch(["node", "resume", "wn2"]).status == 0)
        #expect(try d.vbatch(["node", "resume", "wn3"]).status == 0)
        let drain = try d.vbatch(["node", "drain", "wn1", "--mode", "migrate", "--reason", "kernel update"])
        #expect(drain.status == 0 && drain.stdout.contains("migrate"), "\(drain.stdout) \(drain.stderr)")
        #expect(try d.wait(timeout: 120) { try d.client.nodes().first { $0.name == "wn1" }?.jobs.isEmpty == true })
        let note = try d.client.nodes().first { $0.name == "wn1" }?.note ?? ""
        #expect(note.contains("emptied (migrate)"), "\(note)")
        #expect(try hosts.domains("wn1").isEmpty)
        for id in ids {
            #expect(try d.client.job(id).job.state == .running)
            #expect(try d.client.job(id).history.contains { $0.reason.hasPrefix("migrated live from wn1 to") })
        }
        try d.waitEnded(ids)
        for id in ids {
            try expectUnbrokenCount(d, id, ticks: 30)
            #expect(try d.client.job(id).job.node != "wn1")
        }
        #expect(try hosts.hosts.allSatisfy { try hosts.volumes($0.name, pool: "vbatch-jobs").isEmpty })
    }

    @Test("a VM on a qcow2 overlay migrates live with its overlay: what the payload wrote to its disk comes along")
    func overlayMigratesWithTheVM() throws {
        // 4 MiB: the payload writes 1 MiB in.
        let d = try DaemonHarness.withDiskGuest(site: hosts.site(count: 2), megabytes: 4)
        try d.start()
        try d.waitNodes(["wn1", "wn2"], link: "up")
        #expect(try d.vbatch(["node", "drain", "wn2"]).status == 0)
        // Written into the overlay on wn1 before the migration, read back on wn2 after it.
        let id = try d.submitJobs("""
            #!/bin/sh
            echo written-on-the-first-host | dd of=/dev/vda bs=512 seek=2048 conv=notrunc 2>/dev/null
            sync
            n=0
            while [ "$n" -lt 20 ]; do n=$((n + 1)); sleep 1; done
            head -c 24 /dev/vda; echo
            dd if=/dev/vda bs=512 skip=2048 count=1 2>/dev/null | head -n 1
            """, ["-q", "disk"])[0]
        try letItCount(d, id, seconds: 6)
        #expect(try d.client.job(id).job.node == "wn1")
        #expect(try d.vbatch(["node", "resume", "wn2"]).status == 0)
        #expect(try d.vbatch(["node", "drain", "wn1", "--mode", "migrate"]).status == 0)
        #expect(try d.wait(timeout: 120) { try d.client.job(id).job.node == "wn2" })
        #expect(try d.client.job(id).history.contains { $0.reason.hasPrefix("migrated live from wn1 to wn2") })
        let info = try hosts.exec("wn2", "qemu-img info -U /var/lib/vbatch/jobs/job-\(id).qcow2").stdout
        #expect(info.contains("backing file: /var/lib/vbatch/images/"), "the overlay on wn2 keeps its backing file: \(info)")
        try d.waitEnded([id])
        #expect(try d.client.job(id).job.exitCode == 0)
        #expect(try d.client.output(id).stdout == "VBATCH-BASE-IMAGE-MARKER\nwritten-on-the-first-host\n")
        #expect(try hosts.volumes("wn1", pool: "vbatch-jobs").isEmpty && hosts.volumes("wn2", pool: "vbatch-jobs").isEmpty)
    }

    // MARK: - (e) preemption

    @Test("a high-priority job preempts a low one on a full host; the saved job resumes afterwards and counts on")
    func preemptionBySaving() throws {
        let d = try harness(count: 1)
        let low = try submitCounter(d, ticks: 25, ["-l", "nodes=1:ppn=2"])
        try letItCount(d, low, seconds: 6)
        let high = try d.submitJobs("#!/bin/sh\nsleep 3\necho urgent\n", ["-q", "high"]).first!
        try d.waitEnded([high], timeout: 240)
        #expect(try d.client.job(high).job.state == .completed)
        #expect(try d.client.output(high).stdout == "urgent\n")
        let history = try d.client.job(low).history
        #expect(history.contains { $0.reason.contains("preempted on wn1 by job \(high) of queue high") }, "\(history.map(\.reason))")
        let show = try d.vbatch(["show", String(low)]).stdout
        #expect(show.contains("preempted"), "vbatch show explains it to the owner: \(show)")
        try d.waitEnded([low], timeout: 240)
        try expectUnbrokenCount(d, low, ticks: 25)
        #expect(history.filter { $0.state == .queued }.count == 2, "queued at submit, and once saved")
    }

    // MARK: - A saved or suspended job can be cancelled

    @Test("a suspended job and a saved job can be cancelled; nothing of them is left on the hosts")
    func cancelWhileStopped() throws {
        let d = try harness(count: 1)
        let a = try submitCounter(d, ticks: 300)
        let b = try submitCounter(d, ticks: 300)
        try d.waitRunning([a, b])
        #expect(try d.vbatch(["suspend", String(a)]).status == 0)
        #expect(try d.vbatch(["checkpoint", String(b)]).status == 0)
        #expect(try d.vbatch(["cancel", String(a), String(b)]).status == 0)
        try d.waitEnded([a, b])
        #expect(try d.client.job(a).job.state == .cancelled && d.client.job(b).job.state == .cancelled)
        #expect(try d.wait(timeout: 30) { try hosts.domains("wn1").isEmpty && hosts.volumes("wn1", pool: "vbatch-jobs").isEmpty })
    }
}
