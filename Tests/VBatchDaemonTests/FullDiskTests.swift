import Foundation
import Testing
import VBatchAPI
import VBatchClient

/// R4: the state directory (or the spool) on a small loop-mounted ext4 filesystem that
/// fills up while a real vbatchd runs on simulated nodes.
///
/// `VBATCH_R4_ROUNDS` sets the rounds of ``stateDirectoryFull()`` (default 2); with
/// `VBATCH_RELIABILITY_OUT` set, its figures are appended there (``ReliabilityRecord``).
@Suite("FullDisk", .serialized, .enabled(if: LoopFilesystem.canMount, "needs root to loop-mount a small filesystem"))
struct FullDiskTests {
    static let script = "#!/bin/sh\ntrue\n"

    /// A daemon (not started) whose state directory — or, with `spoolOnly`, only its spool —
    /// is a small loop-mounted filesystem; the caller stops the one and unmounts the other.
    static func daemonOnSmallFilesystem(nodes: Int = 1, spoolOnly: Bool = false, site: String? = nil) throws
        -> (DaemonHarness, LoopFilesystem) {
        let d = try DaemonHarness(nodes: nodes, slots: 2, site: site)
        let fs = spoolOnly
            ? try LoopFilesystem(image: d.root + "/spool.img", mountPoint: d.stateDirectory + "/spool", sizeMB: 16)
            : try LoopFilesystem(image: d.root + "/state.img", mountPoint: d.stateDirectory)
        return (d, fs)
    }

    /// `PRAGMA integrity_check` of the stopped daemon's store, by the sqlite3 program: `ok` when whole.
    static func integrityCheck(_ d: DaemonHarness) throws -> String {
        let check = try DaemonHarness.run("/usr/bin/env", ["sqlite3", d.stateDirectory + "/vbatch.sqlite", "PRAGMA integrity_check"],
                                          environment: [:], stdin: nil)
        return (check.stdout + check.stderr).trimmingCharacters(in: .whitespacesAndNewlines)
    }

    /// Each round: two jobs run while the state directory fills; submissions through the
    /// client and the CLI are refused with a clear error; the running jobs end while it is
    /// full, and their ends are recorded once the space is back; kill -9, the store passes
    /// `PRAGMA integrity_check`, and after a restart every acknowledged job is there, no job
    /// ended twice or ran twice.
    @Test func stateDirectoryFull() throws {
        let rounds = ReliabilityRecord.rounds("VBATCH_R4_ROUNDS", default: 2)
        let began = Date()
        let (d, fs) = try Self.daemonOnSmallFilesystem(nodes: 2)
        defer { d.stop(); fs.unmount() }
        try d.start()
        var record = ReliabilityRecord(id: "R4", subject: "state directory full", rounds: rounds)
        var acknowledged: [Int64] = []
        var refused = 0, refusedCLI = 0, endsKept = 0, integrityOK = 0
        for round in 1...rounds {
            // Jobs that are running when the disk fills, and end while it is full.
            let runtime = 4.0
            let runners = try d.client.submit(SubmitRequest(name: "runner\(round)", queue: "two-way", script: Self.script,
                                                            variables: ["VBATCH_SIM_RUNTIME": "\(runtime)"], count: 2)).ids
            acknowledged += runners
            try d.waitRunning(runners)
            let runnersStarted = Date()
            // A client submits while the disk fills, until it is refused (or 300 jobs).
            let during = Acknowledged()
            let client = d.client
            let submitter = Thread {
                for n in 0..<300 {
                    guard let r = try? client.submit(SubmitRequest(name: "during\(round)-\(n)", queue: "two-way", script: Self.script,
                                                                   variables: ["VBATCH_SIM_RUNTIME": "0.1"])) else { return }
                    during.add(r.ids)
                }
            }
            submitter.start()
            usleep(20_000)
            try fs.fill()
            while !submitter.isFinished { usleep(10_000) }
            acknowledged += during.ids

            // Submissions: acknowledged ones (the WAL may still have room) must last; then refused.
            var refusal: ClientError?
            for n in 0..<200 {
                do {
                    acknowledged += try d.client.submit(SubmitRequest(name: "fill\(round)-\(n)", queue: "two-way", script: Self.script,
                                                                      variables: ["VBATCH_SIM_RUNTIME": "0.2"])).ids
                } catch {
                    refusal = error
                    break
                }
            }
            #expect(refusal?.status == 503, "round \(round): \(String(describing: refusal))")
            #expect(refusal?.message.contains("vbatchd's state directory is full") == true, "\(String(describing: refusal))")
            #expect(refusal?.message.contains("submission not recorded") == true, "\(String(describing: refusal))")
            if refusal != nil { refused += 1 }
            let path = try d.writeScript(Self.script, name: "cli.sh")
            var cli: CommandResult?
            for _ in 0..<20 {
                let r = try d.vbatch(["submit", path, "-q", "two-way", "-v", "VBATCH_SIM_RUNTIME=0.2"])
                if r.status == 0 {
                    acknowledged += r.stdout.split(whereSeparator: \.isWhitespace).compactMap { Int64($0) }
                    continue
                }
                cli = r
                break
            }
            #expect(cli?.stderr.contains("vbatch: error: vbatchd's state directory is full") == true, "\(String(describing: cli))")
            #expect(cli?.stderr.contains("submission not recorded") == true)
            #expect(cli?.stdout.isEmpty == true, "no id printed")
            #expect(cli?.status == 1)
            if cli != nil { refusedCLI += 1 }

            // The runners end while the disk is full: the API shows their end, not yet recorded.
            let left = runtime + 1.5 - Date().timeIntervalSince(runnersStarted)
            if left > 0 { usleep(UInt32(left * 1_000_000)) }
            for id in runners {
                let job = try d.client.job(id).job
                #expect(job.state == .completed, "runner \(id) while full: \(job.state) \(job.reason ?? "")")
                if job.reason?.contains("not yet recorded") == true { endsKept += 1 }
            }
            #expect(try d.client.whoami().user == "root", "the daemon still answers")

            // Space is back: the kept ends are recorded, once; the jobs acknowledged meanwhile run.
            fs.free()
            let recorded = try d.wait(timeout: 30) {
                try acknowledged.allSatisfy {
                    let job = try d.client.job($0).job
                    return job.state.isTerminal && job.reason?.contains("not yet recorded") != true
                }
            }
            #expect(recorded, "round \(round): every job ended and recorded once space was back; daemon log:\n\(d.daemonLog.suffix(3000))")

            // kill -9; the store is whole; a restart finds everything.
            d.kill9()
            let integrity = try Self.integrityCheck(d)
            #expect(integrity == "ok", "integrity_check: \(integrity)")
            if integrity == "ok" { integrityOK += 1 }
            try d.start()
        }

        // Every acknowledged job is there, ended once, and ran once.
        var lost = 0, duplicated = 0
        for id in acknowledged {
            guard let detail = try? d.client.job(id) else {
                lost += 1
                continue
            }
            let ends = detail.history.filter { $0.state.isTerminal }.count
            let runs = detail.history.filter { $0.state == .running }.count
            if ends != 1 || runs != 1 || detail.job.state != .completed { duplicated += 1 }
            #expect(ends == 1 && runs == 1 && detail.job.state == .completed,
                    "job \(id): \(detail.job.state), history \(detail.history.map { "\($0.state.rawValue): \($0.reason)" })")
        }
        let listed = try d.client.jobs(all: true).map(\.id)
        #expect(Set(listed).count == listed.count, "no job listed twice")
        #expect(lost == 0, "acknowledged jobs lost: \(lost)")
        #expect(d.daemonLog.components(separatedBy: "the job store cannot record job transitions").count - 1 <= rounds,
                "a refused write is logged once per episode, not per retry")

        record.checks = ["acknowledged": acknowledged.count, "lost": lost, "duplicated": duplicated,
                         "integrity_ok": integrityOK, "refused_client": refused, "refused_cli": refusedCLI,
                         "ends_kept_while_full": endsKept]
        record.result = lost == 0 && duplicated == 0 && integrityOK == rounds && refused == rounds && refusedCLI == rounds
            ? "pass" : "fail"
        record.durationSeconds = (Date().timeIntervalSince(began) * 10).rounded() / 10
        try record.append()
    }

    /// vbatchd killed and started again while its state directory is full: it serves, refuses
    /// submissions with the clear error, and runs the waiting jobs once space is back.
    @Test func restartWhileFull() throws {
        let (d, fs) = try Self.daemonOnSmallFilesystem()
        defer { d.stop(); fs.unmount() }
        try d.start()
        var request = SubmitRequest(name: "waiting", queue: "two-way", script: Self.script, variables: ["VBATCH_SIM_RUNTIME": "0.2"],
                                    count: 3)
        request.held = true
        let ids = try d.client.submit(request).ids
        try fs.fill()
        d.kill9()
        try d.start()
        do {
            _ = try d.client.submit(SubmitRequest(name: "refused", queue: "two-way", script: Self.script))
            // The WAL may have had room for one; the next must be refused.
            _ = try d.client.submit(SubmitRequest(name: "refused", queue: "two-way", script: Self.script))
            Issue.record("submissions accepted on a full disk after a restart")
        } catch {
            #expect(error.status == 503 && error.message.contains("vbatchd's state directory is full"), "\(error)")
        }
        #expect(try d.client.jobs(all: true).filter { ids.contains($0.id) }.allSatisfy { $0.state == .held })
        fs.free()
        for id in ids { _ = try d.client.release(id) }
        try d.waitEnded(ids)
        #expect(try ids.allSatisfy { try d.client.job($0).job.state == .completed })
        d.stop()
        let integrity = try Self.integrityCheck(d)
        #expect(integrity == "ok", "integrity_check: \(integrity)")
    }

    /// Stopped while a job's end is kept in memory (the disk full): the daemon says which
    /// jobs lose it; after the start they are what the store says, and run again.
    @Test func stopWhileFullNamesTheJobsWhoseEndIsLost() throws {
        let (d, fs) = try Self.daemonOnSmallFilesystem()
        defer { d.stop(); fs.unmount() }
        try d.start()
        let id = try d.client.submit(SubmitRequest(name: "runner", queue: "two-way", script: Self.script,
                                                   variables: ["VBATCH_SIM_RUNTIME": "1.5"])).ids[0]
        try d.waitRunning([id])
        try fs.fill()
        // Use up what the WAL had left.
        for n in 0..<200 {
            if (try? d.client.submit(SubmitRequest(name: "slack\(n)", queue: "two-way", script: Self.script))) == nil { break }
        }
        #expect(try d.wait(timeout: 10) { try d.client.job(id).job.reason?.contains("not yet recorded") == true })
        d.stop()
        #expect(d.daemonLog.contains("the job store could not record (jobs \(id))"), "\(d.daemonLog.suffix(2000))")
        fs.free()
        try d.start()
        try d.waitEnded([id])
        #expect(try d.client.job(id).job.state == .completed)
    }

    /// Cancelling, holding or releasing a waiting job while the disk is full is refused and
    /// changes nothing: the job stays as the store has it and can be cancelled, released and
    /// run once space is back.
    @Test func waitingJobChangesAreRefusedWhileFull() throws {
        let (d, fs) = try Self.daemonOnSmallFilesystem()
        defer { d.stop(); fs.unmount() }
        try d.start()
        var held = SubmitRequest(name: "held", queue: "two-way", script: Self.script, variables: ["VBATCH_SIM_RUNTIME": "0.2"], count: 2)
        held.held = true
        let ids = try d.client.submit(held).ids
        var queued = SubmitRequest(name: "queued", queue: "two-way", script: Self.script, variables: ["VBATCH_SIM_RUNTIME": "0.2"])
        queued.held = true
        let other = try d.client.submit(queued).ids[0]
        _ = try d.client.release(other)
        try d.waitEnded([other])
        try fs.fill()
        // Use up what the WAL had left, so the next writes need space.
        var slack: [Int64] = []
        for n in 0..<200 {
            guard let r = try? d.client.submit(SubmitRequest(name: "slack\(n)", queue: "two-way", script: Self.script)) else { break }
            slack += r.ids
        }

        do {
            _ = try d.client.cancel(ids[0])
            Issue.record("a cancellation was accepted while the disk was full")
        } catch {
            #expect(error.status == 503 && error.message.contains("cancellation not recorded"), "\(error)")
        }
        do {
            _ = try d.client.release(ids[1])
            Issue.record("a release was accepted while the disk was full")
        } catch {
            #expect(error.status == 503 && error.message.contains("release not recorded"), "\(error)")
        }
        fs.free()
        // The store says held; so must the scheduler: release runs it, cancel cancels it.
        #expect(try d.client.job(ids[0]).job.state == .held)
        _ = try d.client.cancel(ids[0])
        _ = try d.client.release(ids[1])
        try d.waitEnded(ids + slack)
        #expect(try d.client.job(ids[0]).job.state == .cancelled)
        #expect(try d.client.job(ids[1]).job.state == .completed)
        #expect(try d.client.job(ids[1]).history.filter { $0.state == .running }.count == 1)
    }

    /// A spool on its own small filesystem fills up: a job whose output cannot be stored
    /// fails with that reason; the daemon keeps serving, and once space is back outputs are stored again.
    @Test func spoolFull() throws {
        let (d, fs) = try Self.daemonOnSmallFilesystem(spoolOnly: true)
        defer { d.stop(); fs.unmount() }
        try d.start()
        let output = ["VBATCH_SIM_RUNTIME": "0.2", "VBATCH_SIM_OUTPUT": "4096"]
        let before = try d.client.submit(SubmitRequest(name: "before", queue: "two-way", script: Self.script, variables: output)).ids
        try d.waitEnded(before)
        #expect(try d.client.job(before[0]).job.state == .completed)
        #expect(try d.client.output(before[0]).stdout.utf8.count == 4096)

        try fs.fill()
        let full = try d.client.submit(SubmitRequest(name: "full", queue: "two-way", script: Self.script, variables: output, count: 2)).ids
        try d.waitEnded(full)
        for id in full {
            let job = try d.client.job(id).job
            #expect(job.state == .failed, "job \(id): \(job.state)")
            #expect(job.reason?.contains("exited with code 0, but its output could not be stored in the spool") == true,
                    "\(job.reason ?? "")")
            #expect(job.reason?.contains("No space left on device") == true, "\(job.reason ?? "")")
        }
        // Still serving: a job that leaves nothing in the spool completes.
        let quiet = try d.client.submit(SubmitRequest(name: "quiet", queue: "two-way", script: Self.script,
                                                      variables: ["VBATCH_SIM_RUNTIME": "0.2"])).ids
        try d.waitEnded(quiet)
        #expect(try d.client.job(quiet[0]).job.state == .completed)

        fs.free()
        let after = try d.client.submit(SubmitRequest(name: "after", queue: "two-way", script: Self.script, variables: output)).ids
        try d.waitEnded(after)
        #expect(try d.client.job(after[0]).job.state == .completed)
        #expect(try d.client.output(after[0]).stdout.utf8.count == 4096)
    }

    /// On a real libvirt node: a job whose output the spool cannot take (24 MiB of stdout, a
    /// 16 MiB spool) fails with that reason, after one run; before, the libvirt driver took the
    /// failed download for a lost VM and ran the job again, three times.
    @Test func spoolFullOnLibvirt() throws {
        let (d, fs) = try Self.daemonOnSmallFilesystem(spoolOnly: true, site: DaemonHarness.libvirtSite())
        defer { d.stop(); fs.unmount() }
        try d.start()
        let big = SubmitRequest(name: "big", queue: "one-way", walltime: 600,
                                script: "#!/bin/sh\ndd if=/dev/zero bs=1048576 count=24 2>/dev/null\n")
        let id = try d.client.submit(big).ids[0]
        try d.waitEnded([id], timeout: 240)
        let detail = try d.client.job(id)
        #expect(detail.job.state == .failed && (detail.job.reason ?? "").contains("could not be stored in the spool"),
                "\(detail.job.state): \(detail.history.map(\.reason))")
        #expect(JobHistoryCheck.runs(detail.history) == 1, "\(detail.history.map(\.reason))")
        // The daemon goes on: a small job's output is stored.
        let small = try d.client.submit(SubmitRequest(name: "small", queue: "one-way", walltime: 600,
                                                      script: "#!/bin/sh\necho fits\n")).ids[0]
        try d.waitEnded([small], timeout: 240)
        #expect(try d.client.output(small).stdout == "fits\n")
    }
}
