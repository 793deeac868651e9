import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore
import VBatchStore

/// The BLAH backend scripts (scripts/blah/vbatch_*.sh) run with the arguments blahpd passes,
/// against a real daemon on simulated nodes.
@Suite("BLAH scripts", .serialized)
struct BLAHTests {
    /// Runs the scripts as blahpd would, with vbatch found through VBATCH_BIN.
    struct Blah {
        let d: DaemonHarness
        var spool: String
        /// More of the environment blahpd would run the scripts in.
        var extraEnvironment: [String: String] = [:]

        init(_ d: DaemonHarness) {
            self.d = d
            spool = d.root + "/blah-spool"
        }

        var environment: [String: String] {
            [
                "VBATCH_BIN": DaemonHarness.binaries + "/vbatch", "VBATCH_SOCKET": d.socket, "VBATCH_BLAH_SPOOL": spool,
                "VBATCH_BLAH_NO_CONFIG": "1", "PBS_DEFAULT": "vbatch.test", "TMPDIR": d.root,
            ].merging(extraEnvironment) { $1 }
        }

        func run(_ script: String, _ arguments: [String], in directory: String? = nil) throws -> CommandResult {
            let path = DaemonHarness.repository + "/scripts/blah/" + script
            if let directory {
                return try DaemonHarness.run("/bin/sh", ["-c", "cd \"$0\" && exec \"$@\"", directory, path] + arguments,
                                             environment: environment, stdin: nil)
            }
            return try DaemonHarness.run(path, arguments, environment: environment, stdin: nil)
        }

        /// Submits through vbatch_submit.sh; returns the BLAH job id (vbatch/DATE/N) and N.
        func submit(_ arguments: [String]) throws -> (blahID: String, id: Int64) {
            let r = try run("vbatch_submit.sh", arguments)
            guard r.status == 0, let m = r.stdout.wholeMatch(of: /BLAHP_JOBID_PREFIX(vbatch\/\d{8}\/(\d+))\n/), let id = Int64(m.2) else {
                throw HarnessError("vbatch_submit.sh \(arguments) failed (\(r.status)): \(r.stdout) \(r.stderr)")
            }
            return (String(m.1), id)
        }

        func status(_ ids: [String]) throws -> [String] {
            let r = try run("vbatch_status.sh", ["-w"] + ids)
            #expect(r.status == 0)
            return r.stdout.split(separator: "\n").map(String.init)
        }

        func status(_ id: String) throws -> String { try status([id]).first ?? "" }
    }

    static func state(_ d: DaemonHarness, _ id: Int64) throws -> JobState { try d.client.job(id).job.state }

    @Test func submitBuildsASelfContainedJobAndPrintsTheBlahID() throws {
        let d = try DaemonHarness()
        try d.start()
        let blah = Blah(d)
        let iwd = d.root + "/iwd"
        let files = FileManager.default
        try files.createDirectory(atPath: iwd, withIntermediateDirectories: true)
        try """
            #!/bin/sh
            echo "args:$#:$1:$2"
            echo "stdin:$(cat)"
            echo "proxy:$(cat "$X509_USER_PROXY")"
            echo "input:$(cat input.dat)"
            echo "env:$GREETING:$HOSTILE"
            mkdir -p sub && echo produced > sub/result.dat
            exit 5
            """.write(toFile: iwd + "/pilot.sh", atomically: true, encoding: .utf8)
        try "proxy-bytes\n".write(toFile: iwd + "/x509up_u1000", atomically: true, encoding: .utf8)
        try "from stdin\n".write(toFile: iwd + "/in.txt", atomically: true, encoding: .utf8)
        try "input-bytes\n".write(toFile: iwd + "/input.dat", atomically: true, encoding: .utf8)
        try "input.dat\n".write(toFile: iwd + "/inputs", atomically: true, encoding: .utf8)
        try "sub/result.dat\n".write(toFile: iwd + "/outputs", atomically: true, encoding: .utf8)
        try "back/result.dat\n".write(toFile: iwd + "/remaps", atomically: true, encoding: .utf8)
        try "Walltime=1200\n".write(toFile: iwd + "/ce-req", atomically: true, encoding: .utf8)
        let witness = d.root + "/expanded-on-the-CE"

        // As blahpd runs it: proxy first, then the options from the job ad, arguments last.
        let (blahID, id) = try blah.submit([
            "-x", iwd + "/x509up_u1000", "-u", "/DC=ch/DC=cern/CN=Some Body", "-c", "pilot.sh", "-T", d.root,
            "-I", iwd + "/inputs", "-O", iwd + "/outputs", "-R", iwd + "/remaps", "-C", iwd + "/ce-req",
            "-i", "in.txt", "-o", "job.out", "-e", "job.err", "-w", iwd, "-q", "one-way", "-n", "2", "-j", "1234.0",
            "-t", "1800", "-m", "512",
            "-V", "\"VBATCH_SIM_RUNTIME=600\" \"GREETING=hello, world\" \"HOSTILE=$(touch \(witness))'\\\"\" \"bad-name=1\"",
            "--", "\"first arg\" second",
        ])
        #expect(blahID.hasPrefix("vbatch/") && blahID.hasSuffix("/\(id)"))
        let job = try d.client.job(id).job
        #expect(job.queue == "one-way" && job.walltime == 1800 && job.memoryMB == 512 && job.cores == 2)
        #expect(job.name == "blah_1234.0")
        #expect(!files.fileExists(atPath: witness), "a value was expanded on the CE")

        let payload = try #require(try JobStore(path: d.stateDirectory + "/vbatch.sqlite").script(id))
        #expect(payload.variables["VBATCH_SIM_RUNTIME"] == "600")
        #expect(payload.variables["GREETING"] == "hello, world")
        #expect(payload.variables["HOSTILE"] == "$(touch \(witness))'\"")
        #expect(payload.variables["bad-name"] == nil)
        #expect(payload.variables["VBATCH_GRID_SUBJECT"] == "/DC=ch/DC=cern/CN=Some Body")
        #expect(payload.script.hasPrefix("#!/bin/sh\n"))
        #expect(!payload.script.contains(iwd), "the job script must not depend on CE paths")

        // What vbatch_status.sh will copy back when the job ends.
        let record = try String(contentsOfFile: blah.spool + "/\(id)", encoding: .utf8)
        #expect(record == "stdout \(iwd)/job.out\nstderr \(iwd)/job.err\nfile 0 \(iwd)/back/result.dat\n")

        // The job script runs as the VM would run it: its own directory, $VBATCH_OUTPUT, /bin/sh.
        let vm = d.root + "/vm"
        try files.createDirectory(atPath: vm + "/work", withIntermediateDirectories: true)
        try files.createDirectory(atPath: vm + "/output", withIntermediateDirectories: true)
        try payload.script.write(toFile: vm + "/run", atomically: true, encoding: .utf8)
        let ran = try DaemonHarness.run("/bin/sh", ["-c", "cd \"$0\" && exec /bin/sh ../run", vm + "/work"],
                                        environment: ["VBATCH_OUTPUT": vm + "/output", "GREETING": "hello, world", "HOSTILE": "x"],
                                        stdin: nil)
        #expect(ran.status == 5, "\(ran.stderr)")
        #expect(ran.stdout == "args:2:first arg:second\nstdin:from stdin\nproxy:proxy-bytes\ninput:input-bytes\nenv:hello, world:x\n")
        #expect(try String(contentsOfFile: vm + "/output/blah/0", encoding: .utf8) == "produced\n")
        let proxyMode = try files.attributesOfItem(atPath: vm + "/work/x509up_u1000")[.posixPermissions] as? Int
        #expect(proxyMode == 0o600)

        // The grid identity reaches accounting (APEL's GlobalUserName).
        _ = try d.client.cancel(id)
        #expect(try d.wait(timeout: 10) { try d.client.job(id).job.state == .cancelled })
        let accounted = try d.client.accounting(since: nil, until: nil, all: true).records.first { $0.jobID == id }
        #expect(accounted?.gridSubject == "/DC=ch/DC=cern/CN=Some Body")

        // -d prints the script instead of submitting it.
        let dry = try blah.run("vbatch_submit.sh", ["-d", "-c", "/bin/true", "-s", "no", "-q", "one-way"])
        #expect(dry.status == 255 && dry.stdout.isEmpty && dry.stderr.contains("'/bin/true'"))
    }

    @Test func qsubGetsItsSettingsAndTheSessionButOnlyTheJobVariablesReachTheJob() throws {
        let d = try DaemonHarness()
        try d.start()
        var blah = Blah(d)
        blah.extraEnvironment = ["VBATCH_PBS_DEFAULT_QUEUE": "two-way", "HOME": "/home/griduser", "LOGNAME": "griduser",
                                 "PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8"]
        let job = try blah.submit(["-c", "/bin/true", "-s", "no", "-V", "\"GREETING=hello\""])
        let info = try d.client.job(job.id).job
        #expect(info.submitQueue == "two-way" && info.queue == "two-way", "the documented default queue: \(info.submitQueue)")
        let variables = try #require(try JobStore(path: d.stateDirectory + "/vbatch.sqlite").script(job.id)).variables
        #expect(variables["GREETING"] == "hello")
        #expect(variables["PBS_O_HOME"] == "/home/griduser" && variables["PBS_O_LOGNAME"] == "griduser")
        #expect(variables["PBS_O_PATH"] == "/usr/local/bin:/usr/bin:/bin" && variables["PBS_O_LANG"] == "C.UTF-8")
        for name in ["HOME", "PATH", "LANG", "LOGNAME", "VBATCH_PBS_DEFAULT_QUEUE", "VBATCH_SOCKET", "PBS_DEFAULT"] {
            #expect(variables[name] == nil, "\(name) is the CE's, not the job's")
        }
    }

    @Test func aSiteWideSpoolDirectoryServesEveryAccount() throws {
        let d = try DaemonHarness(nodes: 1, slots: 4)
        try d.start()
        var blah = Blah(d)
        // Owned by another account, mode 1777, as a site-wide vbatch_spooldir is.
        let shared = d.root + "/site-spool"
        try FileManager.default.createDirectory(atPath: shared, withIntermediateDirectories: true)
        #expect(chown(shared, 65534, 65534) == 0 && chmod(shared, 0o1777) == 0)
        blah.spool = shared
        let iwd = d.root + "/iwd"
        try FileManager.default.createDirectory(atPath: iwd, withIntermediateDirectories: true)
        let job = try blah.submit(["-c", "/bin/true", "-s", "no", "-q", "one-way", "-w", iwd, "-o", "job.out", "-e", "job.err",
                                   "-V", "\"VBATCH_SIM_RUNTIME=1\""])
        let mine = shared + "/" + (getpwuid(getuid()).map { String(cString: $0.pointee.pw_name) } ?? "root")
        #expect(FileManager.default.fileExists(atPath: mine + "/\(job.id)"), "the record is in the account's own subdirectory")
        #expect(try d.wait { try Self.state(d, job.id) == .completed })
        #expect(try blah.status(job.blahID).hasPrefix("0[BatchJobId=\"\(job.id)\"; JobStatus=4;"))
        #expect(FileManager.default.fileExists(atPath: iwd + "/job.out"), "the streams came back")
        #expect(!FileManager.default.fileExists(atPath: mine + "/\(job.id)"))
    }

    @Test func submitFailuresExitNonZeroWithTheReason() throws {
        let d = try DaemonHarness()
        try d.start()
        let blah = Blah(d)
        let cases: [([String], String)] = [
            (["-c", "/bin/true", "-s", "no", "-q", "grid", "-t", "99999999"], "Error from qsub"),
            (["-c", "/no/such/pilot", "-q", "grid"], "Input sandbox file doesn't exist: /no/such/pilot"),
            (["-c", "/bin/true", "-s", "no", "-q", "grid", "-h", "2"], "a vbatch job is one VM on one node"),
            (["-c", "/bin/true", "-s", "no", "-q", "nosuchqueue"], "Error from qsub"),
            (["-q", "grid"], "Usage"),
        ]
        for (args, message) in cases {
            let r = try blah.run("vbatch_submit.sh", args)
            #expect(r.status != 0, "\(args)")
            #expect(!r.stdout.contains("BLAHP_JOBID_PREFIX"), "\(args)")
            #expect(r.stderr.contains(message), "\(args): \(r.stderr)")
        }
        #expect(try d.client.jobs(all: true).isEmpty)
    }

    @Test func statusReportsEveryStateInBlahClassads() throws {
        let d = try DaemonHarness(nodes: 1, slots: 4)
        try d.start()
        let blah = Blah(d)
        let iwd = d.root
        func submit(_ name: String, _ env: String, _ extra: [String] = []) throws -> (blahID: String, id: Int64) {
            try blah.submit(["-c", "/bin/true", "-s", "no", "-q", "one-way", "-w", iwd, "-o", "\(name).out",
                             "-e", "\(name).err", "-V", env] + extra)
        }
        let completed = try submit("completed", "\"VBATCH_SIM_RUNTIME=0.2\" \"VBATCH_SIM_EXIT=3\"")
        #expect(try d.wait { try Self.state(d, completed.id) == .completed })
        let killed = try submit("killed", "\"VBATCH_SIM_RUNTIME=600\"", ["-t", "1"])
        #expect(try d.wait { try Self.state(d, killed.id) == .failed })
        let running = try submit("running", "\"VBATCH_SIM_RUNTIME=6000\"")
        #expect(try d.wait { try Self.state(d, running.id) == .running })
        let idle = try submit("idle", "\"A=1\"") // one-way: one job per node
        let held = try submit("held", "\"B=2\"")
        let removed = try submit("removed", "\"C=3\"")

        // Hold with the JobStatus blahpd passes; cancel as blahpd does.
        let holdRun = try blah.run("vbatch_hold.sh", [String(held.blahID.dropFirst(7)), "1"])
        #expect(holdRun.status == 0, "\(holdRun.stderr)")
        #expect(try blah.run("vbatch_cancel.sh", [String(removed.blahID.dropFirst(7))]).stdout == " 0 No\\ error\n")

        let node = "wn1"
        #expect(try blah.status(idle.blahID) == "0[BatchJobId=\"\(idle.id)\"; JobStatus=1;]")
        #expect(try blah.status(running.blahID) == "0[BatchJobId=\"\(running.id)\"; JobStatus=2; WorkerNode=\"\(node)\";]")
        #expect(try blah.status(held.blahID) == "0[BatchJobId=\"\(held.id)\"; JobStatus=5;]")
        #expect(try blah.status(removed.blahID) == "0[BatchJobId=\"\(removed.id)\"; JobStatus=3; ExitReason=\"cancelled by root\";]")
        #expect(try blah.status(completed.blahID)
            == "0[BatchJobId=\"\(completed.id)\"; JobStatus=4; WorkerNode=\"\(node)\"; ExitCode=3;]")
        #expect(try blah.status(killed.blahID)
            == "0[BatchJobId=\"\(killed.id)\"; JobStatus=3; ExitReason=\"killed: walltime of 1s exceeded\";]")
        #expect(try blah.status("vbatch/20260101/99999") == "1ERROR: Unknown Job Id 99999")

        // Several jobs in one call: one line each, in order; every line a classad blahpd can parse.
        let lines = try blah.status([idle.blahID, "bogus/id/x", completed.blahID])
        #expect(lines.count == 3)
        #expect(lines[0].hasPrefix("0[BatchJobId=\"\(idle.id)\"") && lines[1].hasPrefix("1") && lines[2].contains("ExitCode=3;"))
        for line in try blah.status([idle.blahID, running.blahID, held.blahID, removed.blahID, completed.blahID, killed.blahID]) {
            #expect(Self.isClassad(line), "\(line)")
        }

        // The completed jobs' streams came back to their -o/-e paths (empty: simulated jobs write
        // nothing) and their records are gone.
        for job in [completed, killed, removed] {
            #expect(!FileManager.default.fileExists(atPath: blah.spool + "/\(job.id)"))
        }
        for name in ["completed", "killed", "removed"] {
            #expect(FileManager.default.fileExists(atPath: iwd + "/\(name).out") && FileManager.default.fileExists(atPath: iwd + "/\(name).err"))
        }
        #expect(FileManager.default.fileExists(atPath: blah.spool + "/\(running.id)"))

        // Resume the held job; it is idle again.
        let resume = try blah.run("vbatch_resume.sh", [String(held.blahID.dropFirst(7))])
        #expect(resume.status == 0, "\(resume.stderr)")
        #expect(try blah.status(held.blahID) == "0[BatchJobId=\"\(held.id)\"; JobStatus=1;]")
        // A running job: suspended (qsig) it is still running to BLAH (it keeps its slots);
        // held, its VM is saved and BLAH sees it held; resumed, it is restored and runs again.
        let pbs = try PBSCommands(d)
        #expect(try pbs.run("qsig", ["-s", "suspend", "\(running.id)"]).status == 0)
        #expect(try blah.status(running.blahID).hasPrefix("0[BatchJobId=\"\(running.id)\"; JobStatus=2;"))
        #expect(try pbs.run("qsig", ["-s", "resume", "\(running.id)"]).status == 0)
        let holdRunning = try blah.run("vbatch_hold.sh", [String(running.blahID.dropFirst(7)), "2"])
        #expect(holdRunning.status == 0, "\(holdRunning.stderr)")
        #expect(try Self.state(d, running.id) == .saved)
        #expect(try blah.status(running.blahID) == "0[BatchJobId=\"\(running.id)\"; JobStatus=5;]")
        #expect(try blah.run("vbatch_resume.sh", [String(running.blahID.dropFirst(7))]).status == 0)
        #expect(try d.wait { try Self.state(d, running.id) == .running })
        #expect(try blah.status(running.blahID).hasPrefix("0[BatchJobId=\"\(running.id)\"; JobStatus=2;"))

        // The daemon gone: an error line, still exit 0.
        d.stop()
        let down = try blah.run("vbatch_status.sh", [running.blahID])
        #expect(down.status == 0 && down.stdout.hasPrefix("1ERROR: "))
    }

    @Test func statusCopiesOutputBackBeforeReportingTheEnd() throws {
        let d = try DaemonHarness(nodes: 1, slots: 4)
        try d.start()
        let blah = Blah(d)
        let iwd = d.root + "/iwd"
        try FileManager.default.createDirectory(atPath: iwd, withIntermediateDirectories: true)
        try "result.dat\nmissing.dat\n".write(toFile: iwd + "/outputs", atomically: true, encoding: .utf8)
        let job = try blah.submit(["-c", "/bin/true", "-s", "no", "-q", "one-way", "-w", iwd, "-o", "job.out", "-e", "job.err",
                                   "-O", iwd + "/outputs", "-V", "\"VBATCH_SIM_RUNTIME=1\""])
        #expect(try d.wait { try Self.state(d, job.id) == .completed })
        // Stand in for the VM's output disk: what the guest agent would have left in the spool.
        let spool = d.stateDirectory + "/spool/\(job.id)"
        try FileManager.default.createDirectory(atPath: spool + "/output/blah", withIntermediateDirectories: true)
        try "the output\n".write(toFile: spool + "/stdout", atomically: true, encoding: .utf8)
        try "the errors\n".write(toFile: spool + "/stderr", atomically: true, encoding: .utf8)
        try "the result\n".write(toFile: spool + "/output/blah/0", atomically: true, encoding: .utf8)

        #expect(try blah.status(job.blahID) == "0[BatchJobId=\"\(job.id)\"; JobStatus=4; WorkerNode=\"wn1\"; ExitCode=0;]")
        #expect(try String(contentsOfFile: iwd + "/job.out", encoding: .utf8) == "the output\n")
        #expect(try String(contentsOfFile: iwd + "/job.err", encoding: .utf8) == "the errors\n")
        #expect(try String(contentsOfFile: iwd + "/result.dat", encoding: .utf8) == "the result\n")
        #expect(!FileManager.default.fileExists(atPath: iwd + "/missing.dat"))
        #expect(!FileManager.default.fileExists(atPath: blah.spool + "/\(job.id)"))

        // A destination that cannot be written: the end is not reported until the copy succeeds.
        let blocked = try blah.submit(["-c", "/bin/true", "-s", "no", "-q", "one-way", "-w", iwd, "-o", "/proc/nope/job.out",
                                       "-V", "\"VBATCH_SIM_RUNTIME=0.5\""])
        #expect(try d.wait { try Self.state(d, blocked.id) == .completed })
        let line = try blah.status(blocked.blahID)
        #expect(line.hasPrefix("1ERROR: job \(blocked.id) has ended but copying its output back failed"), "\(line)")
        #expect(FileManager.default.fileExists(atPath: blah.spool + "/\(blocked.id)"))
    }

    @Test func cancelPrintsOneBlahLinePerJob() throws {
        let d = try DaemonHarness(nodes: 1, slots: 4)
        try d.start()
        let blah = Blah(d)
        func submit(_ runtime: String) throws -> (blahID: String, id: Int64) {
            try blah.submit(["-c", "/bin/true", "-s", "no", "-q", "one-way", "-V", "\"VBATCH_SIM_RUNTIME=\(runtime)\""])
        }
        let done = try submit("0.1")
        #expect(try d.wait { try Self.state(d, done.id) == .completed })
        let running = try submit("600")
        #expect(try d.wait { try Self.state(d, running.id) == .running })
        let idle = try submit("600")
        #expect(try d.wait { try Self.state(d, idle.id) == .queued })

        let one = try blah.run("vbatch_cancel.sh", [String(running.blahID.dropFirst(7))])
        #expect(one.status == 0 && one.stdout == " 0 No\\ error\n")
        #expect(try d.wait { try Self.state(d, running.id) == .cancelled })

        // Several: `.index` prefixes; a finished or unknown job counts as cancelled, as in pbs_cancel.sh.
        let several = try blah.run("vbatch_cancel.sh", [String(idle.blahID.dropFirst(7)), String(done.blahID.dropFirst(7)),
                                                        "20260101/99999", "20260101/x"])
        #expect(several.status == 0)
        #expect(several.stdout == ".0 0 No\\ error\n.1 0 No\\ error\n.2 0 No\\ error\n.3 2 malformed\\ job\\ id\\ 20260101/x\n")
        #expect(try d.wait { try Self.state(d, idle.id) == .cancelled })
        #expect(try blah.status(idle.blahID).contains("JobStatus=3;"))
    }

    /// `[Name=value; …]` where values are integers or double-quoted strings with `\"`/`\\` escapes.
    static func isClassad(_ line: String) -> Bool {
        line.wholeMatch(of: /0\[(\s?[A-Za-z]+=(-?\d+|"([^"\\]|\\.)*");)+\]/) != nil
    }
}
