import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore
import VBatchStore

/// The PBS-compatible commands (links to the built `vbatch`) against a real daemon on
/// simulated nodes, and their `qstat -f` output read by re-implementations of the parsers
/// grid CEs use on Torque's.
@Suite("PBS commands", .serialized)
struct PBSTests {
    static let server = "vbatch.test"

    /// A queue wide enough for long `exec_host` values.
    static let wideQueue = """
        [queue.wide]
        type = "execution"
        environments = ["testguest"]
        walltime_max = "10h"
        walltime_default = "1h"
        max_cores = 16
        """

    /// A queue whose jobs may take a whole 4-slot node.
    static let wholeQueue = """
        [queue.whole]
        type = "execution"
        environments = ["testguest"]
        walltime_max = "10h"
        walltime_default = "1h"
        max_cores = 4
        """

    // MARK: - qsub

    @Test func qsubPrintsTorqueIDAndReadsDirectives() throws {
        let d = try DaemonHarness()
        try d.start()
        let pbs = try PBSCommands(d)
        let script = try d.writeScript("""
            #!/bin/sh
            # a comment before the directives
            #PBS -N dirname
            #PBS -l walltime=00:20:00,nodes=1:ppn=2
            #PBS -l mem=512mb
            #PBS -o out.log -j oe

            echo hello
            #PBS -N ignored-after-the-first-command
            """, name: "dir.sh")
        let r = try pbs.run("qsub", ["-q", "one-way", "-v", "A=1,B='x,y',C", script], environment: ["C": "from env"])
        #expect(r.status == 0, "\(r.stderr)")
        let id = try #require(PBSCommands.jobNumber(r.stdout))
        #expect(r.stdout == "\(id).\(Self.server)\n")
        let job = try d.client.job(id).job
        #expect(job.name == "dirname")
        #expect(job.walltime == 1200 && job.cores == 2 && job.memoryMB == 512 && job.queue == "one-way")

        let payload = try #require(try pbs.payload(id))
        #expect(payload.variables["A"] == "1" && payload.variables["B"] == "x,y" && payload.variables["C"] == "from env")
        let cwd = FileManager.default.currentDirectoryPath
        #expect(payload.variables["VBATCH_PBS_OUTPUT"] == "\(Self.server):\(cwd)/out.log")
        #expect(payload.variables["VBATCH_PBS_JOIN"] == "oe")
        #expect(payload.variables["PBS_O_WORKDIR"] == cwd && payload.variables["PBS_O_INITDIR"] == nil)
        #expect(payload.variables["PBS_O_QUEUE"] == "one-way" && payload.variables["PBS_JOBNAME"] == "dirname")
        #expect(payload.variables["PBS_ENVIRONMENT"] == "PBS_BATCH")

        // The command line wins over the directives.
        let over = try pbs.run("qsub", ["-q", "one-way", "-N", "other", "-l", "walltime=300", "-e", "/tmp/e.log", "-d", d.root, script])
        let overID = try #require(PBSCommands.jobNumber(over.stdout))
        let overJob = try d.client.job(overID).job
        #expect(overJob.name == "other" && overJob.walltime == 300 && overJob.cores == 2)
        let overVariables = try #require(try pbs.payload(overID)?.variables)
        #expect(overVariables["VBATCH_PBS_ERROR"] == "\(Self.server):/tmp/e.log" && overVariables["PBS_O_INITDIR"] == d.root)

        // Standard input, no queue (the site's one routing queue), held, -V, an interpreter line added.
        let stdin = try pbs.run("qsub", ["-h", "-V", "-l", "ncpus=1"], stdin: "echo from stdin\n", environment: ["EXPORTED": "yes"])
        #expect(stdin.status == 0, "\(stdin.stderr)")
        let stdinID = try #require(PBSCommands.jobNumber(stdin.stdout))
        let stdinJob = try d.client.job(stdinID).job
        #expect(stdinJob.name == "STDIN" && stdinJob.submitQueue == "grid" && stdinJob.state == .held)
        let stdinPayload = try #require(try pbs.payload(stdinID))
        #expect(stdinPayload.script == "#!/bin/sh\necho from stdin\n")
        #expect(stdinPayload.variables["EXPORTED"] == "yes" && stdinPayload.variables["HOME"] == nil)

        // -z: no id printed.
        let quiet = try pbs.run("qsub", ["-z", "-q", "one-way", script])
        #expect(quiet.status == 0 && quiet.stdout.isEmpty)
    }

    /// A job script as ARC's PBS backend writes it (shared session directory), piped to
    /// `qsub -r n -S /bin/sh -m n`.
    @Test func qsubTakesArcStyleScripts() throws {
        let d = try DaemonHarness()
        try d.start()
        let pbs = try PBSCommands(d)
        let session = d.root + "/session/abc123"
        let script = """
            # PBS batch job script built by grid-manager
            #PBS -e '\(session).comment'
            #PBS -j eo

            #PBS -q one-way
            #PBS -N 'arcjob_1'
            #PBS -l nodes=1:ppn=2:gridnode
            #PBS -l cput=120:0
            #PBS -l walltime=120:0
            #PBS -l pvmem=512mb
            #PBS -l pmem=512mb

            # Overide umask of execution node (sometime values are really strange)
            umask 077
            RUNTIME_JOB_DIR=\(session)
            #PBS -q ignored-after-the-first-command
            """
        let r = try pbs.run("qsub", ["-r", "n", "-S", "/bin/sh", "-m", "n"], stdin: script)
        #expect(r.status == 0, "\(r.stderr)")
        #expect(r.stdout.wholeMatch(of: /\d+\.vbatch\.test\n/) != nil)
        let id = try #require(PBSCommands.jobNumber(r.stdout))
        let job = try d.client.job(id).job
        #expect(job.queue == "one-way" && job.name == "arcjob_1" && job.walltime == 7200 && job.cores == 2 && job.memoryMB == 1024)
        let payload = try #require(try pbs.payload(id))
        #expect(payload.script.hasPrefix("#!/bin/sh\n# PBS batch job script built by grid-manager\n"))
        #expect(payload.variables["VBATCH_PBS_ERROR"] == "\(PBSTests.server):\(session).comment")
        #expect(payload.variables["VBATCH_PBS_JOIN"] == "eo")
    }

    @Test func qsubRefusesWhatAVMJobCannotHonour() throws {
        let d = try DaemonHarness()
        try d.start()
        let pbs = try PBSCommands(d)
        let script = try d.writeScript("#!/bin/sh\necho hi\n")
        let cases: [([String], Int32, String)] = [
            (["-q", "one-way", "-l", "nodes=2:ppn=1"], 1, "a vbatch job is one VM on one node"),
            (["-q", "one-way", "-l", "gpus=1"], 1, "Unknown resource type"),
            (["-q", "one-way", "-W", "depend=afterok:12"], 2, "-W depend is not supported"),
            (["-q", "one-way", "-W", "stagein=a@b:c"], 2, "-W stagein is not supported"),
            (["-I", "-q", "one-way"], 2, "interactive jobs (-I) are not supported"),
            (["-t", "1-10", "-q", "one-way"], 2, "job arrays (-t) are not supported"),
            (["-N", "bad name", "-q", "one-way"], 1, "illegal -N value"),
            (["-q", "grid", "-l", "walltime=300:00:00"], 1, "qsub: submit error ("),
            (["-q", "one-way", "-Y"], 2, "invalid option"),
        ]
        for (args, status, message) in cases {
            let r = try pbs.run("qsub", args + [script])
            #expect(r.status == status, "qsub \(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.contains(message), "qsub \(args): \(r.stderr)")
            #expect(r.stdout.isEmpty)
        }
        #expect(try d.client.jobs(all: true).isEmpty)
    }

    // MARK: - qstat

    /// One job in each state the CE must tell apart.
    struct Jobs {
        var completed: Int64 = 0
        var running: Int64 = 0
        var queued: Int64 = 0
        var held: Int64 = 0
    }

    func makeJobs(_ d: DaemonHarness, _ pbs: PBSCommands) throws -> Jobs {
        var jobs = Jobs()
        jobs.completed = try pbs.submit(["-q", "one-way", "-N", "done", "-v", "VBATCH_SIM_RUNTIME=0.2,VBATCH_SIM_EXIT=3"])
        #expect(try d.wait { try d.client.job(jobs.completed).job.state == .completed })
        jobs.running = try pbs.submit(["-q", "one-way", "-N", "runner", "-l", "nodes=1:ppn=2,walltime=01:00:00", "-v", "VBATCH_SIM_RUNTIME=600"])
        #expect(try d.wait { try d.client.job(jobs.running).job.state == .running })
        jobs.queued = try pbs.submit(["-q", "one-way", "-N", "waiter"]) // one-way: one job per node
        jobs.held = try pbs.submit(["-q", "one-way", "-h", "-N", "holder"])
        return jobs
    }

    @Test func qstatFullShowsEachStateAsTorqueDoes() throws {
        let d = try DaemonHarness(nodes: 1, slots: 4)
        try d.start()
        let pbs = try PBSCommands(d)
        let jobs = try makeJobs(d, pbs)
        #expect(try d.client.job(jobs.queued).job.state == .queued)

        let all = try pbs.run("qstat", ["-f"])
        #expect(all.status == 0, "\(all.stderr)")
        let blocks = PBSCommands.blocks(all.stdout)
        #expect(blocks.map(\.id) == [jobs.completed, jobs.running, jobs.queued, jobs.held].map { "\($0).\(Self.server)" })
        // Each block: `Job Id:` line, 4-space-indented `name = value` lines, one blank line after.
        #expect(all.stdout.hasSuffix("\n\n"))
        for line in all.stdout.split(separator: "\n", omittingEmptySubsequences: false) where !line.isEmpty {
            #expect(line.hasPrefix("Job Id: ") || line.hasPrefix("    ") || line.hasPrefix("\t"), "\(line)")
        }

        let byID = Dictionary(uniqueKeysWithValues: blocks.map { ($0.id, $0.attributes) })
        let completed = try #require(byID["\(jobs.completed).\(Self.server)"])
        #expect(completed["job_state"] == "C" && completed["exit_status"] == "3")
        let completedCPUs = try #require(try d.client.job(jobs.completed).job.cpus)
        #expect(completed["exec_host"] == completedCPUs.map { "wn1/\($0)" }.joined(separator: "+"))
        #expect(completed["Job_Name"] == "done" && completed["Job_Owner"] == "root@\(Self.server)")
        #expect(completed["comment"] == "exited with code 3")
        #expect(completed["comp_time"] != nil && completed["start_time"] != nil)

        let running = try #require(byID["\(jobs.running).\(Self.server)"])
        #expect(running["job_state"] == "R" && running["exit_status"] == nil)
        let cpus = try #require(try d.client.job(jobs.running).job.cpus)
        #expect(running["exec_host"] == cpus.map { "wn1/\($0)" }.joined(separator: "+"))
        #expect(running["Resource_List.walltime"] == "01:00:00" && running["Resource_List.nodes"] == "1:ppn=2")
        #expect(running["Resource_List.ncpus"] == "2" && running["Resource_List.mem"] == "256mb")
        #expect(running["queue"] == "one-way" && running["server"] == Self.server)
        for key in ["resources_used.walltime", "resources_used.cput"] {
            #expect(running[key].map { $0.wholeMatch(of: /\d\d+:\d\d:\d\d/) != nil } == true, "\(key)")
        }
        for key in ["ctime", "qtime", "mtime", "etime", "start_time"] {
            #expect(running[key].map { $0.wholeMatch(of: /[A-Z][a-z]{2} [A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d \d{4}/) != nil } == true,
                    "\(key) = \(running[key] ?? "-")")
        }

        let queued = try #require(byID["\(jobs.queued).\(Self.server)"])
        #expect(queued["job_state"] == "Q" && queued["exec_host"] == nil && queued["resources_used.walltime"] == nil)
        let held = try #require(byID["\(jobs.held).\(Self.server)"])
        #expect(held["job_state"] == "H" && held["Hold_Types"] == "u")
        // By id, a waiting job's comment says why it waits (as Maui and Moab write it).
        let heldByID = try #require(PBSCommands.blocks(try pbs.run("qstat", ["-f", "-1", "\(jobs.held)"]).stdout).first)
        #expect(heldByID.attributes["comment"] == "Not Running: held: it starts only once released")

        // One job by id, with or without the server suffix, with -1.
        for id in ["\(jobs.running)", "\(jobs.running).\(Self.server)", "\(jobs.running).other.host"] {
            let one = try pbs.run("qstat", ["-f", "-1", id])
            #expect(one.status == 0)
            #expect(PBSCommands.blocks(one.stdout).map(\.id) == ["\(jobs.running).\(Self.server)"])
        }

        // What grid CEs read out of it.
        for parser in TorqueParsers.all {
            let seen = try parser.parse(all.stdout)
            #expect(seen["\(jobs.completed)"] == .init(status: 4, exitCode: 3, workerNode: "wn1"), "\(parser.name)")
            #expect(seen["\(jobs.running)"] == .init(status: 2, exitCode: nil, workerNode: "wn1"), "\(parser.name)")
            #expect(seen["\(jobs.queued)"] == .init(status: 1, exitCode: nil, workerNode: nil), "\(parser.name)")
            #expect(seen["\(jobs.held)"] == .init(status: 5, exitCode: nil, workerNode: nil), "\(parser.name)")
        }
        let awk = try TorqueParsers.awkStatus(try pbs.run("qstat", ["-f", "\(jobs.completed)"]).stdout, job: "\(jobs.completed)", d: d)
        #expect(awk == "[BatchJobId=\"\(jobs.completed)\"; WorkerNode=\"wn1\"; JobStatus=4; ExitCode=3;]")
        let awkRunning = try TorqueParsers.awkStatus(try pbs.run("qstat", ["-f", "\(jobs.running)"]).stdout, job: "\(jobs.running)", d: d)
        #expect(awkRunning == "[BatchJobId=\"\(jobs.running)\"; WorkerNode=\"wn1\"; JobStatus=2;]")
    }

    @Test func qstatTablesAndQueues() throws {
        let d = try DaemonHarness(nodes: 1, slots: 4)
        try d.start()
        let pbs = try PBSCommands(d)
        let jobs = try makeJobs(d, pbs)

        let table = try pbs.run("qstat", [])
        #expect(table.status == 0)
        let lines = table.stdout.split(separator: "\n").map(String.init)
        #expect(lines[0] == "Job ID                    Name             User            Time Use S Queue")
        #expect(lines[1] == "------------------------- ---------------- --------------- -------- - -----")
        #expect(lines.count == 6)
        func row(_ id: Int64) -> [String]? {
            lines.first { $0.hasPrefix("\(id).\(Self.server) ") }?.split(separator: " ").map(String.init)
        }
        #expect(row(jobs.completed)?[1] == "done" && row(jobs.completed)?[4] == "C")
        #expect(row(jobs.running)?[4] == "R" && row(jobs.queued)?[3] == "0" && row(jobs.queued)?[4] == "Q")
        #expect(row(jobs.held)?[4] == "H" && row(jobs.held)?[5] == "one-way")
        // Columns line up under the header, as in Torque.
        for line in lines.dropFirst(2) {
            let c = Array(line)
            #expect(c.count == 85 && c[26] != " " && "QHRC".contains(c[68]) && c[70] != " ", "\(line)")
        }

        // Completed jobs stay listed for keep_completed, and are always found by id.
        let hidden = try pbs.run("qstat", [], environment: ["VBATCH_PBS_KEEP_COMPLETED": "0"])
        #expect(!hidden.stdout.contains("\(jobs.completed).\(Self.server)"))
        #expect(try pbs.run("qstat", ["-c"]).stdout.contains("\(jobs.completed).\(Self.server)") == false)
        #expect(try pbs.run("qstat", ["\(jobs.completed)"], environment: ["VBATCH_PBS_KEEP_COMPLETED": "0"]).stdout
            .contains("\(jobs.completed).\(Self.server)"))

        // The alternative display, filters, queues by name.
        let alt = try pbs.run("qstat", ["-a"])
        #expect(alt.stdout.contains("Job ID                  Username    Queue    Jobname"))
        #expect(alt.stdout.split(separator: "\n").filter { $0.hasPrefix("\(jobs.running).") }.first?.contains(" R ") == true)
        // ARC's scan for jobs still known to the batch system: lines starting with `ID.`.
        let known = alt.stdout.split(separator: "\n").compactMap { $0.firstMatch(of: /^(\d+)\./).map { String($0.1) } }
        #expect(Set(known) == Set([jobs.completed, jobs.running, jobs.queued, jobs.held].map(String.init)))
        #expect(try pbs.run("qstat", ["-u", "nobody"]).stdout.isEmpty)
        #expect(try pbs.run("qstat", ["-u", "root"]).stdout.contains("\(jobs.held).\(Self.server)"))
        let running = try pbs.run("qstat", ["-r", "-n", "-1"])
        #expect(running.stdout.contains("\(jobs.running).") && !running.stdout.contains("\(jobs.queued).\(Self.server)"))
        #expect(running.stdout.contains("   wn1/"))
        #expect(try pbs.run("qstat", ["two-way"]).stdout.isEmpty)
        #expect(try pbs.run("qstat", ["one-way"]).stdout.contains("\(jobs.queued).\(Self.server)"))
        #expect(try pbs.run("qstat", ["-1"]).status == 2)
        #expect(try pbs.run("qstat", ["-f", "-a"]).status == 2)

        // Queues: `qstat -Q` as ARC reads it (two header lines, then the name first), `-f -Q`.
        let q = try pbs.run("qstat", ["-Q"])
        let names = q.stdout.split(separator: "\n").dropFirst(2).compactMap { $0.split(separator: " ").first.map(String.init) }
        #expect(names == ["cms-long", "grid", "one-way", "two-way"])
        let fq = try pbs.run("qstat", ["-f", "-Q", "one-way"])
        let attributes = PBSCommands.attributes(fq.stdout)
        #expect(fq.stdout.hasPrefix("Queue: one-way\n"))
        #expect(attributes["enabled"] == "True" && attributes["started"] == "True")
        #expect(attributes["resources_max.walltime"] == "10:00:00" && attributes["queue_type"] == "Execution")
        // Held jobs count as held, not as waiting (ARC publishes waiting jobs from Queued).
        #expect(attributes["state_count"] == "Transit:0 Queued:1 Held:1 Waiting:0 Running:1 Exiting:0 Complete:0")
        // The largest job in processors, which ARC publishes as the queue's MaxSlotsPerJob.
        #expect(attributes["resources_max.procct"] == "2" && attributes["resources_max.ncpus"] == "2")
        let listQueue = try pbs.run("qmgr", ["-c", "list queue one-way state_count,resources_max.procct"]).stdout
        #expect(listQueue.contains("Held:1") && listQueue.contains("resources_max.procct = 2"), "\(listQueue)")
        let queueRow = try pbs.run("qstat", ["-Q"]).stdout.split(separator: "\n").first { $0.hasPrefix("one-way") }
        #expect(queueRow?.split(separator: " ").map(String.init) == ["one-way", "100", "3", "yes", "yes", "1", "1", "1", "0", "0", "0", "E", "0"],
                "\(queueRow ?? "")")
        let unknown = try pbs.run("qstat", ["-Q", "nosuch"])
        #expect(unknown.status != 0 && unknown.stderr.contains("Unknown queue"))
        #expect(try pbs.run("qstat", ["-q"]).stdout.contains("one-way"))
        #expect(try pbs.run("qstat", ["-B"]).stdout.contains(Self.server))
    }

    @Test func longValuesWrapLikeTorqueUnlessOneLine() throws {
        let d = try DaemonHarness(nodes: 1, slots: 16, queues: ["wide.toml": Self.wideQueue])
        try d.start()
        let pbs = try PBSCommands(d)
        let id = try pbs.submit(["-q", "wide", "-l", "nodes=1:ppn=16", "-v", "VBATCH_SIM_RUNTIME=600"])
        #expect(try d.wait { try d.client.job(id).job.state == .running })
        let wrapped = try pbs.run("qstat", ["-f", "\(id)"]).stdout
        let flat = try pbs.run("qstat", ["-f", "-1", "\(id)"]).stdout
        let expected = (0..<16).map { "wn1/\($0)" }.joined(separator: "+")
        #expect(PBSCommands.attributes(flat)["exec_host"] == expected)
        #expect(flat.split(separator: "\n").contains("    exec_host = \(expected)"))
        // Without -1: lines of at most 78 characters, continuations start with a tab.
        #expect(wrapped.contains("\n\t"))
        for line in wrapped.split(separator: "\n") { #expect(line.count <= 78, "\(line)") }
        #expect(PBSCommands.attributes(wrapped)["exec_host"] == expected)
        // ARC's PBS backend reads continuation lines.
        let arc = try TorqueParsers.arc.parse(wrapped)
        #expect(arc["\(id)"]?.workerNode == "wn1")
        #expect(TorqueParsers.arcUsedCPUs(wrapped, id: "\(id).\(Self.server)") == 16)
    }

    // MARK: - Unknown ids, qdel, qhold, qrls

    @Test func unknownIDsBehaveLikeTorque() throws {
        let d = try DaemonHarness()
        try d.start()
        let pbs = try PBSCommands(d)
        let id = try pbs.submit(["-q", "one-way", "-h"])
        for args in [["99999"], ["-f", "99999"], ["-f", "-1", "99999.\(Self.server)"], ["99999.elsewhere"]] {
            let r = try pbs.run("qstat", args)
            #expect(r.status == 153, "qstat \(args)")
            #expect(r.stdout.isEmpty)
            #expect(r.stderr == "qstat: Unknown Job Id Error 99999.\(Self.server)\n")
        }
        // A known and an unknown id: the known one is shown, the error comes last, exit 153.
        let mixed = try pbs.run("qstat", ["-f", "99999", "\(id)"])
        #expect(mixed.status == 153 && PBSCommands.blocks(mixed.stdout).count == 1)
        #expect(mixed.stderr.hasPrefix("qstat: Unknown Job Id Error 99999."))
        for command in ["qdel", "qhold", "qrls"] {
            let r = try pbs.run(command, ["99999"])
            #expect(r.status == 153)
            #expect(r.stderr == "\(command): Unknown Job Id Error 99999.\(Self.server)\n")
        }
        let bad = try pbs.run("qstat", ["12x"])
        #expect(bad.status == 1 && bad.stderr.contains("illegally formed job identifier: 12x"))
        #expect(try pbs.run("qdel", []).status == 2)
        // The daemon gone: not 153, so no CE mistakes it for a finished job.
        d.stop()
        let down = try pbs.run("qstat", ["\(id)"])
        #expect(down.status != 0 && down.status != 153)
        #expect(down.stderr.contains("qstat: cannot connect to server \(Self.server)"))
    }

    @Test func qdelQholdQrlsChangeStateSilently() throws {
        let d = try DaemonHarness(nodes: 1, slots: 4)
        try d.start()
        let pbs = try PBSCommands(d)
        let running = try pbs.submit(["-q", "one-way", "-v", "VBATCH_SIM_RUNTIME=600"])
        #expect(try d.wait { try d.client.job(running).job.state == .running })
        let queued = try pbs.submit(["-q", "one-way"])

        let hold = try pbs.run("qhold", ["\(queued).\(Self.server)"])
        #expect(hold.status == 0 && hold.stdout.isEmpty && hold.stderr.isEmpty)
        #expect(PBSCommands.attributes(try pbs.run("qstat", ["-f", "\(queued)"]).stdout)["job_state"] == "H")
        #expect(try pbs.run("qhold", ["\(queued)"]).status == 0) // already held
        // qhold of a running job saves its VM, as Torque checkpoints it: H until qrls restores it.
        let holdRunning = try pbs.run("qhold", ["\(running)"])
        #expect(holdRunning.status == 0 && holdRunning.stderr.isEmpty)
        #expect(PBSCommands.attributes(try pbs.run("qstat", ["-f", "\(running)"]).stdout)["job_state"] == "H")
        #expect(try d.client.job(running).job.state == .saved)
        // ARC's scan takes a job `qstat -a` still lists as not finished: saved (H) and suspended (S) are listed.
        #expect(try pbs.run("qstat", ["-a"]).stdout.split(separator: "\n").first { $0.hasPrefix("\(running).") }?.contains(" H ") == true)
        #expect(try pbs.run("qrls", ["\(running)"]).status == 0)
        #expect(try d.wait { try d.client.job(running).job.state == .running })
        // qsig -s suspend|resume pauses and continues it (S while suspended); other signals cannot reach a VM.
        #expect(try pbs.run("qsig", ["-s", "suspend", "\(running).\(Self.server)"]).status == 0)
        #expect(PBSCommands.attributes(try pbs.run("qstat", ["-f", "\(running)"]).stdout)["job_state"] == "S")
        #expect(try pbs.run("qstat", ["-a"]).stdout.split(separator: "\n").first { $0.hasPrefix("\(running).") }?.contains(" S ") == true)
        #expect(try pbs.run("qsig", ["-s", "suspend", "\(running)"]).status == 0) // already suspended
        #expect(try pbs.run("qsig", ["-s", "resume", "\(running)"]).status == 0)
        #expect(PBSCommands.attributes(try pbs.run("qstat", ["-f", "\(running)"]).stdout)["job_state"] == "R")
        let term = try pbs.run("qsig", ["\(running)"])
        #expect(term.status == 2 && term.stderr.contains("only the signals suspend and resume"))
        let resumeQueued = try pbs.run("qsig", ["-s", "resume", "\(queued)"])
        #expect(resumeQueued.status == 170 && resumeQueued.stderr.contains("invalid state for job - HELD"))

        #expect(try pbs.run("qrls", ["\(queued)"]).status == 0)
        #expect(try d.client.job(queued).job.state == .queued)
        #expect(try pbs.run("qrls", ["\(queued)"]).status == 0) // no hold: nothing to do, as in Torque

        let del = try pbs.run("qdel", ["\(running)", "\(queued)"])
        #expect(del.status == 0 && del.stdout.isEmpty && del.stderr.isEmpty)
        #expect(try d.wait { try d.client.job(running).job.state == .cancelled })
        let gone = PBSCommands.attributes(try pbs.run("qstat", ["-f", "\(running)"]).stdout)
        #expect(gone["job_state"] == "C" && gone["exit_status"] == "271")
        let again = try pbs.run("qdel", ["\(running)"])
        #expect(again.status == 170)
        #expect(again.stderr == "qdel: Request invalid for state of job MSG=invalid state for job - COMPLETE \(running).\(Self.server)\n")

        // `vbatch qdel …` works as the link does.
        let viaVbatch = try DaemonHarness.run(DaemonHarness.binaries + "/vbatch", ["qstat", "-f", "\(queued)"],
                                              environment: pbs.environment, stdin: nil)
        #expect(PBSCommands.attributes(viaVbatch.stdout)["job_state"] == "C")
    }

    @Test func otherUsersJobsStayPrivate() throws {
        let d = try DaemonHarness()
        try d.start()
        let pbs = try PBSCommands(d)
        let rootJob = try pbs.submit(["-q", "two-way", "-h"])
        let list = try pbs.run(as: "nobody", "qstat", [])
        #expect(list.status == 0 && list.stdout.isEmpty, "\(list.stderr)")
        let one = try pbs.run(as: "nobody", "qstat", ["\(rootJob)"])
        #expect(one.status == 159 && one.stderr.contains("Unauthorized Request"))
        #expect(try pbs.run(as: "nobody", "qdel", ["\(rootJob)"]).status == 159)
        #expect(try d.client.job(rootJob).job.state == .held)
    }
    // MARK: - pbsnodes and qmgr

    /// Torque's `pbsnodes -a` block of a node as vbatch reports it through its API.
    func expectedBlock(_ node: NodeInfo, state: String, properties: String, jobs: String?, rectime: String) -> String {
        var out = "\(node.name)\n     state = \(state)\n     power_state = Running\n     np = \(node.slots)\n"
        out += "     properties = \(properties)\n     ntype = cluster\n"
        if let jobs { out += "     jobs = \(jobs)\n" }
        let ids = node.jobs.map { "\($0).\(Self.server)" }.joined(separator: " ")
        out += "     status = rectime=\(rectime),jobs=\(ids),state=free,ncpus=\(node.slots),physmem=\(node.memoryMB * 1024)kb,"
            + "availmem=\(node.freeMemoryMB * 1024)kb,totmem=\(node.memoryMB * 1024)kb\n"
        if let note = node.note { out += "     note = \(note)\n" }
        return out + "\n"
    }

    /// The `rectime` pbsnodes printed, checked to be the time of the call.
    static func rectime(_ text: String) throws -> String {
        let value = try #require(text.firstMatch(of: /rectime=(\d+),/).map { String($0.1) })
        #expect(abs(Double(value)! - Date().timeIntervalSince1970) < 60)
        return value
    }

    @Test func pbsnodesShowsNodesAsTorqueDoes() throws {
        let d = try DaemonHarness(nodes: 2, slots: 4, queues: ["whole.toml": Self.wholeQueue])
        try d.start()
        let pbs = try PBSCommands(d)
        let id = try pbs.submit(["-q", "whole", "-l", "nodes=1:ppn=4", "-v", "VBATCH_SIM_RUNTIME=600"])
        #expect(try d.wait { try d.client.job(id).job.state == .running })
        let job = try d.client.job(id).job
        let busyName = try #require(job.node)
        let nodes = try d.client.nodes()
        let busy = try #require(nodes.first { $0.name == busyName })
        let free = try #require(nodes.first { $0.name != busyName })
        let properties = "cms-long,grid,one-way,two-way,whole"
        let slots = try #require(job.cpus).map { "\($0)/\(id).\(Self.server)" }.joined(separator: ", ")
        #expect(slots == "0/\(id).\(Self.server), 1/\(id).\(Self.server), 2/\(id).\(Self.server), 3/\(id).\(Self.server)")

        // -a and no option are the same; nodes in the site file's order.
        for args in [["-a"], []] {
            let r = try pbs.run("pbsnodes", args)
            #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
            let rectime = try Self.rectime(r.stdout)
            let blocks = nodes.map { node in
                node.name == busyName
                    ? expectedBlock(busy, state: "job-exclusive", properties: properties, jobs: slots, rectime: rectime)
                    : expectedBlock(free, state: "free", properties: properties, jobs: nil, rectime: rectime)
            }
            #expect(r.stdout == blocks.joined(), "\(r.stdout)")
        }
        // Named nodes, in the order asked for.
        let one = try pbs.run("pbsnodes", [free.name, busyName])
        #expect(one.stdout.split(separator: "\n").filter { !$0.hasPrefix(" ") } == [Substring(free.name), Substring(busyName)])

        // -x: the same as Torque's XML, on one line.
        let xml = try pbs.run("pbsnodes", ["-x", busyName])
        let xmlTime = try Self.rectime(xml.stdout)
        #expect(xml.stdout == "<Data><Node><name>\(busyName)</name><state>job-exclusive</state><power_state>Running</power_state>"
            + "<np>4</np><properties>\(properties)</properties><ntype>cluster</ntype><jobs>\(slots)</jobs>"
            + "<status>rectime=\(xmlTime),jobs=\(id).\(Self.server),state=free,ncpus=4,physmem=16777216kb,"
            + "availmem=\(busy.freeMemoryMB * 1024)kb,totmem=16777216kb</status></Node></Data>\n")

        // -l: only nodes that are down or offline (none); by state; with the note.
        let none = try pbs.run("pbsnodes", ["-l"])
        #expect(none.status == 0 && none.stdout.isEmpty)
        #expect(try pbs.run("pbsnodes", ["-l", "all"]).stdout == "wn1                  \(busyName == "wn1" ? "job-exclusive" : "free")\n"
            + "wn2                  \(busyName == "wn2" ? "job-exclusive" : "free")\n")
        #expect(try pbs.run("pbsnodes", ["-l", "free"]).stdout == PBSCommands.listLine(free.name, "free"))
        #expect(try pbs.run("pbsnodes", ["-l", "active"]).stdout == PBSCommands.listLine(busyName, "job-exclusive"))

        // A user sees the nodes, and the slots of their own jobs only.
        let asNobody = try pbs.run(as: "nobody", "pbsnodes", ["-a", busyName])
        #expect(asNobody.status == 0 && asNobody.stdout.contains("     jobs = 0/\(id).\(Self.server)\n"), "\(asNobody.stdout)")

        // `vbatch pbsnodes` works as the link does.
        let viaVbatch = try DaemonHarness.run(DaemonHarness.binaries + "/vbatch", ["pbsnodes", "-l", "all"],
                                              environment: pbs.environment, stdin: nil)
        #expect(viaVbatch.status == 0 && viaVbatch.stdout.contains("job-exclusive"))

        // What ARC's information system reads out of it.
        let arc = ARCInfosys(pbsnodes: try pbs.run("pbsnodes", ["-a"]).stdout, qmgr: try pbs.run("qmgr", ["-c", "list server"]).stdout)
        #expect(arc.nodes.count == 2)
        #expect(arc.lrmsType == "torque" && arc.lrmsVersion == "6.1.3")
        #expect(arc.totalCPUs == 8 && arc.cpuDistribution == " 4cpu:2")
        for queue in ["grid", "one-way", "whole"] {
            #expect(arc.queueCPUs(queue) == .init(total: 8, free: 4), "\(queue)")
        }
        let info = arc.nodeInfo()
        #expect(info[busyName] == .init(isFree: false, isAvailable: true, tags: properties.split(separator: ",").map(String.init),
                                        slots: 4, physicalMB: 16384, virtualMB: 16384, logicalCPUs: 4))
        #expect(info[free.name]?.isFree == true && info[free.name]?.isAvailable == true)
    }

    @Test func pbsnodesTakesNodesOfflineAndBack() throws {
        let d = try DaemonHarness(nodes: 2, slots: 4, queues: ["whole.toml": Self.wholeQueue])
        try d.start()
        let pbs = try PBSCommands(d)
        // wn1 full, then wn2 offline: nothing can start.
        let big = try pbs.submit(["-q", "whole", "-l", "nodes=1:ppn=4", "-v", "VBATCH_SIM_RUNTIME=600"])
        #expect(try d.wait { try d.client.job(big).job.state == .running })
        let full = try #require(try d.client.job(big).job.node)
        let other = full == "wn1" ? "wn2" : "wn1"

        let off = try pbs.run("pbsnodes", ["-o", other, "-N", "maintenance"])
        #expect(off.status == 0 && off.stdout.isEmpty && off.stderr.isEmpty, "\(off.stderr)")
        let node = try #require(try d.client.nodes().first { $0.name == other })
        #expect(!node.enabled && node.note == "drained by root: maintenance")
        #expect(try pbs.run("pbsnodes", ["-l"]).stdout == PBSCommands.listLine(other, "offline"))
        #expect(try pbs.run("pbsnodes", ["-l", "-n"]).stdout
            == PBSCommands.listLine(other, "offline", note: "drained by root: maintenance"))
        #expect(try pbs.run("pbsnodes", ["-l", "up"]).stdout == PBSCommands.listLine(full, "job-exclusive"))
        let block = try pbs.run("pbsnodes", [other]).stdout
        #expect(block.contains("\n     state = offline\n") && block.hasSuffix("     note = drained by root: maintenance\n\n"))

        // The drain is real: a new job waits.
        let waiting = try pbs.submit(["-q", "one-way", "-v", "VBATCH_SIM_RUNTIME=600"])
        usleep(500_000)
        #expect(try d.client.job(waiting).job.state == .queued)

        // -N alone changes the note of an offline node; a node in service has none.
        #expect(try pbs.run("pbsnodes", ["-N", "disk <sda> & fan", other]).status == 0)
        #expect(try d.client.nodes().first { $0.name == other }?.note == "drained by root: disk <sda> & fan")
        #expect(try pbs.run("pbsnodes", ["-x", other]).stdout.contains("<note>drained by root: disk &lt;sda&gt; &amp; fan</note>"))
        let noteInService = try pbs.run("pbsnodes", ["-N", "x", full])
        #expect(noteInService.status == 1 && noteInService.stderr.contains("Error setting note attribute for \(full) - "))

        // Another user may not; an unknown node; -r is Torque's but not vbatch's.
        let refused = try pbs.run(as: "nobody", "pbsnodes", ["-c", other])
        #expect(refused.status == 1)
        #expect(refused.stderr == "Error marking node \(other) - Unauthorized Request  MSG=only operators may drain or resume nodes\n")
        #expect(try pbs.run(as: "nobody", "pbsnodes", ["-o", full]).status == 1)
        #expect(try d.client.nodes().first { $0.name == full }?.enabled == true)
        #expect(try d.client.nodes().first { $0.name == other }?.enabled == false)
        let unknown = try pbs.run("pbsnodes", ["-o", "nosuch"])
        #expect(unknown.status == 1 && unknown.stderr == "Error marking node nosuch - Unknown node  MSG=cannot locate specified node\n")
        #expect(try pbs.run("pbsnodes", ["-r", other]).status == 1)

        // ARC's information system no longer counts it.
        let arc = ARCInfosys(pbsnodes: try pbs.run("pbsnodes", []).stdout, qmgr: try pbs.run("qmgr", ["-c", "list server"]).stdout)
        #expect(arc.totalCPUs == 4 && arc.queueCPUs("grid") == .init(total: 4, free: 0))
        #expect(arc.nodeInfo()[other]?.isAvailable == false && arc.nodeInfo()[other]?.isFree == false)

        // -c puts it back, and the waiting job starts there.
        let back = try pbs.run("pbsnodes", ["-c", other])
        #expect(back.status == 0 && back.stderr.isEmpty)
        #expect(try d.wait { try d.client.job(waiting).job.state == .running })
        #expect(try d.client.job(waiting).job.node == other)
        #expect(try pbs.run("pbsnodes", ["-l"]).stdout.isEmpty)
        #expect(try d.client.nodes().first { $0.name == other }?.note == nil)

        // A node offline while its jobs run: both words, as Torque.
        #expect(try pbs.run("pbsnodes", ["-o", full]).status == 0)
        #expect(try pbs.run("pbsnodes", ["-l"]).stdout == PBSCommands.listLine(full, "offline,job-exclusive"))
    }

    @Test func pbsnodesUnknownNodesAndUsage() throws {
        let d = try DaemonHarness()
        try d.start()
        let pbs = try PBSCommands(d)
        for args in [["nosuch"], ["-a", "nosuch"], ["-x", "nosuch"], ["-l", "nosuch"]] {
            let r = try pbs.run("pbsnodes", args)
            #expect(r.status == 1, "pbsnodes \(args)")
            #expect(r.stdout.isEmpty && r.stderr == "pbsnodes: Unknown node  MSG=cannot locate specified node\n", "pbsnodes \(args)")
        }
        // The nodes before the unknown one are shown; -q keeps quiet.
        let mixed = try pbs.run("pbsnodes", ["wn1", "nosuch", "wn2"])
        #expect(mixed.status == 1 && mixed.stdout.hasPrefix("wn1\n") && !mixed.stdout.contains("wn2"))
        let quiet = try pbs.run("pbsnodes", ["-q", "nosuch"])
        #expect(quiet.status == 1 && quiet.stderr.isEmpty)
        for args in [["-n"], ["-o"], ["-Y"], ["-p", "wn1"]] {
            let r = try pbs.run("pbsnodes", args)
            #expect(r.status == 1 && r.stderr.contains("usage:"), "pbsnodes \(args): \(r.stderr)")
        }
        let version = try pbs.run("pbsnodes", ["--version"])
        #expect(version.status == 0 && version.stderr == "version: 6.1.3\n")
        d.stop()
        let down = try pbs.run("pbsnodes", ["-a"])
        #expect(down.status == 1 && down.stderr.hasPrefix("pbsnodes: cannot connect to server \(Self.server)"))
    }

    @Test func qmgrListsTheServerAsTorqueDoes() throws {
        let d = try DaemonHarness(nodes: 1, slots: 4)
        try d.start()
        let pbs = try PBSCommands(d)
        _ = try makeJobs(d, pbs)

        let list = try pbs.run("qmgr", ["-c", "list server"])
        #expect(list.status == 0 && list.stderr.isEmpty, "\(list.stderr)")
        #expect(list.stdout == """
            Server \(Self.server)
            \tserver_state = Active
            \tscheduling = True
            \ttotal_jobs = 4
            \tstate_count = Transit:0 Queued:1 Held:1 Waiting:0 Running:1 Exiting:0 Complete:1
            \tdefault_queue = grid
            \tkeep_completed = 300
            \tpbs_version = 6.1.3


            """)
        // Abbreviated, one attribute; qstat -B agrees.
        #expect(try pbs.run("qmgr", ["-c", "l s pbs_version"]).stdout == "Server \(Self.server)\n\tpbs_version = 6.1.3\n\n")
        let table = try pbs.run("qstat", ["-B"]).stdout.split(separator: "\n")
        #expect(table.last?.split(separator: " ") == ["\(Self.server)", "0", "4", "1", "1", "1", "0", "0", "0", "1", "Active"])
        let serverFull = try pbs.run("qstat", ["-B", "-f", "-1"]).stdout
        #expect(serverFull.hasPrefix("Server: \(Self.server)\n") && serverFull.contains("\n    pbs_version = 6.1.3\n"))
        #expect(serverFull.contains("\n    state_count = Transit:0 Queued:1 Held:1 Waiting:0 Running:1 Exiting:0 Complete:1\n"))
        // A user may not list others' jobs: the queues' counts, held jobs apart.
        let nobody = try pbs.run(as: "nobody", "qmgr", ["-c", "list server total_jobs,state_count"])
        #expect(nobody.stdout == "Server \(Self.server)\n\ttotal_jobs = 3\n"
            + "\tstate_count = Transit:0 Queued:1 Held:1 Waiting:0 Running:1 Exiting:0 Complete:0\n\n", "\(nobody.stdout)")

        // Queues and nodes.
        let queue = try pbs.run("qmgr", ["-c", "list queue one-way"])
        #expect(queue.stdout.hasPrefix("Queue one-way\n\tqueue_type = Execution\n") && queue.stdout.contains("\tstarted = True\n\n"))
        #expect(try pbs.run("qmgr", ["-c", "list queue grid route_destinations"]).stdout
            == "Queue grid\n\troute_destinations = one-way,two-way,cms-long\n\n")
        #expect(try pbs.run("qmgr", ["-c", "list node wn1 state,np"]).stdout == "Node wn1\n\tstate = free\n\tnp = 4\n\n")
        let print = try pbs.run("qmgr", ["-c", "print server"])
        #expect(print.status == 0)
        #expect(print.stdout.hasPrefix("#\n# Create queues and set their attributes.\n#\n#\n# Create and define queue cms-long\n#\ncreate queue cms-long\n"))
        #expect(print.stdout.contains("set queue grid route_destinations = one-way\nset queue grid route_destinations += two-way\n"))
        #expect(print.stdout.hasSuffix("#\n# Set server attributes.\n#\nset server scheduling = True\nset server default_queue = grid\nset server keep_completed = 300\n"))
        #expect(!print.stdout.contains("state_count") && !print.stdout.contains("vbatch_"))

        // What it refuses, and how.
        let cases: [([String], Int32, String)] = [
            (["-c", "set server scheduling = False"], 2, "qmgr: vbatch does not support set: "),
            (["-c", "create queue extra"], 2, "qmgr: vbatch does not support create: "),
            (["-c", "list queue nosuch"], 2, "qmgr obj=nosuch svr=\(Self.server): Unknown queue MSG=cannot locate queue\n"),
            (["-c", "list node nosuch"], 2, "qmgr obj=nosuch svr=\(Self.server): Unknown node  MSG=cannot locate specified node\n"),
            (["-c", "frob server"], 1, "qmgr: Illegal operation: frob\nTry 'help' if you are having trouble.\n"),
            (["-c", "list"], 1, "qmgr: No object type given\n"),
            (["-c", "list job"], 1, "qmgr: Illegal object type: job.\n"),
            ([], 1, "runs one command given with -c"),
        ]
        for (args, status, message) in cases {
            let r = try pbs.run("qmgr", args)
            #expect(r.status == status, "qmgr \(args): \(r.status) \(r.stderr)")
            #expect(r.stderr.hasPrefix(message) || r.stderr.contains(message), "qmgr \(args): \(r.stderr)")
        }
        #expect(try pbs.run("qmgr", ["-z", "-c", "set server scheduling = False"]).stderr.isEmpty)
        #expect(try pbs.run("qmgr", ["-c", "quit"]).status == 0)

        d.stop()
        let down = try pbs.run("qmgr", ["-c", "list server"])
        #expect(down.status == 3 && down.stderr.hasPrefix("qmgr: cannot connect to server \(Self.server)"))
    }

}

// MARK: - Helpers

/// The PBS commands as links to the built `vbatch` in the harness's directory.
struct PBSCommands {
    let d: DaemonHarness
    let bin: String

    init(_ d: DaemonHarness) throws {
        self.d = d
        bin = d.root + "/pbsbin"
        let files = FileManager.default
        try files.createDirectory(atPath: bin, withIntermediateDirectories: true)
        try files.setAttributes([.posixPermissions: 0o755], ofItemAtPath: bin)
        for command in ["qsub", "qstat", "qdel", "qhold", "qrls", "qsig", "pbsnodes", "qmgr"] where !files.fileExists(atPath: bin + "/" + command) {
            try files.createSymbolicLink(atPath: bin + "/" + command, withDestinationPath: DaemonHarness.binaries + "/vbatch")
        }
    }

    var environment: [String: String] {
        ["VBATCH_SOCKET": d.socket, "PBS_DEFAULT": PBSTests.server, "VBATCH_PBS_KEEP_COMPLETED": "300"]
    }

    func run(_ command: String, _ arguments: [String], stdin: String? = nil, environment extra: [String: String] = [:]) throws -> CommandResult {
        try DaemonHarness.run(bin + "/" + command, arguments, environment: environment.merging(extra) { $1 }, stdin: stdin)
    }

    /// Runs a command as another Unix user.
    func run(as user: String, _ command: String, _ arguments: [String]) throws -> CommandResult {
        try DaemonHarness.run("/usr/bin/setpriv", ["--reuid=\(user)", "--regid=nogroup", "--clear-groups", bin + "/" + command] + arguments,
                              environment: environment, stdin: nil)
    }

    /// Submits `#!/bin/sh` `true` with qsub options; returns the job number.
    func submit(_ options: [String]) throws -> Int64 {
        let r = try run("qsub", options, stdin: "#!/bin/sh\ntrue\n")
        guard r.status == 0, let id = Self.jobNumber(r.stdout) else { throw HarnessError("qsub \(options) failed (\(r.status)): \(r.stderr)") }
        return id
    }

    /// A `pbsnodes -l` line: the name in 20 columns and the state; with `-n` and a note, the
    /// state in 26 columns and the note (Torque's `%-20.20s %-26.26s %s`).
    static func listLine(_ name: String, _ state: String, note: String? = nil) -> String {
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        guard let note else { return pad(name, 20) + " " + state + "\n" }
        return pad(name, 20) + " " + pad(state, 26) + " " + note + "\n"
    }

    static func jobNumber(_ text: String) -> Int64? {
        text.firstMatch(of: /^(\d+)\./).flatMap { Int64($0.1) }
    }

    /// The job's payload as the daemon stored it (script, arguments, variables).
    func payload(_ id: Int64) throws -> (script: String, arguments: [String], variables: [String: String])? {
        try JobStore(path: d.stateDirectory + "/vbatch.sqlite").script(id)
    }

    struct Block {
        var id: String
        var attributes: [String: String]
    }

    /// `qstat -f` output as blocks, continuation lines joined.
    static func blocks(_ text: String) -> [Block] {
        var blocks: [Block] = []
        var last: String?
        for line in text.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) {
            if line.hasPrefix("Job Id: ") {
                blocks.append(Block(id: String(line.dropFirst(8)), attributes: [:]))
                last = nil
            } else if line.hasPrefix("\t"), let key = last, !blocks.isEmpty {
                blocks[blocks.count - 1].attributes[key, default: ""] += line.dropFirst()
            } else if line.hasPrefix("    "), let eq = line.range(of: " = "), !blocks.isEmpty {
                let key = String(line[line.index(line.startIndex, offsetBy: 4)..<eq.lowerBound])
                blocks[blocks.count - 1].attributes[key] = String(line[eq.upperBound...])
                last = key
            }
        }
        return blocks
    }

    /// The attributes of the first `Job Id:` or `Queue:` block.
    static func attributes(_ text: String) -> [String: String] {
        let normalized = text.hasPrefix("Queue: ") ? "Job Id: " + text.dropFirst(7) : text
        return blocks(normalized).first?.attributes ?? [:]
    }
}

/// Re-implementations of how grid middleware reads Torque's `qstat -f`, to check that
/// vbatch's output gives them the state, exit status and worker node:
/// - HTCondor's BLAH `pbs_status.py` (regular expressions on stripped lines),
/// - BLAH's `BUpdaterPBS` (substring search, tokens split at `:`, `=` and `/`),
/// - ARC's `PBS.pm` `jobs_info` (`name = value` lines, tab continuations, `+`-separated hosts),
/// - BLAH's `pbs_status.sh` (awk, run by the system's awk: ``awkStatus``).
struct TorqueParsers: Sendable {
    struct Seen: Equatable, Sendable {
        /// BLAH's JobStatus: 1 idle, 2 running, 3 removed, 4 completed, 5 held.
        var status: Int
        var exitCode: Int?
        var workerNode: String?
    }

    let name: String
    let parse: @Sendable (String) throws -> [String: Seen]

    static let all = [pbsStatusPy, bupdater, arc]

    /// BLAH's PBS status mapping of a Torque state letter.
    static func blahStatus(_ state: String, exit: Int?) -> Int {
        if exit == 271 { return 3 }
        switch state {
        case "Q", "W", "S", "T": return 1
        case "R", "E": return 2
        case "C", "F": return 4
        case "H": return 5
        default: return 0
        }
    }

    /// Anchored at the start of each stripped line, as Python's `re.match`.
    static let pbsStatusPy = TorqueParsers(name: "pbs_status.py") { text in
        let mapping = ["Q": 1, "R": 2, "E": 2, "F": 4, "C": 4, "H": 5]
        var result: [String: Seen] = [:]
        var current: String?
        var seen = Seen(status: 0)
        func flush() { if let id = current { result[id] = seen } }
        for raw in text.split(separator: "\n") {
            let line = raw.trimmingCharacters(in: .whitespaces)
            if let m = line.prefixMatch(of: /\s*Job Id:\s([0-9]+)([\w\-\/.]*)/) {
                flush()
                current = String(m.1)
                seen = Seen(status: 0)
                continue
            }
            guard current != nil else { continue }
            if let m = line.prefixMatch(of: /\s*exec_host = ([\w\-\/.]+)/) {
                seen.workerNode = String(m.1.split(separator: "/").first ?? "")
            } else if let m = line.prefixMatch(of: /\s*job_state = ([QREFCH])/) {
                seen.status = mapping[String(m.1)] ?? 0
            } else if let m = line.prefixMatch(of: /\s*[Ee]xit_status = (-?[0-9]+)/) {
                seen.exitCode = Int(m.1)
            }
        }
        flush()
        return result
    }

    /// Substring search per line, as the C updater does.
    static let bupdater = TorqueParsers(name: "BUpdaterPBS") { text in
        var result: [String: Seen] = [:]
        var current: String?
        var seen = Seen(status: 0)
        func flush() { if let id = current { result[id.split(separator: ".").first.map(String.init) ?? id] = seen } }
        for line in text.split(separator: "\n").map(String.init) {
            if line.contains("Job Id: ") {
                flush()
                let token = line.split(separator: ":", maxSplits: 1).dropFirst().first ?? ""
                current = token.replacingOccurrences(of: " ", with: "")
                seen = Seen(status: 0)
            } else if line.contains("job_state = ") {
                let value = (line.split(separator: "=").dropFirst().first ?? "").replacingOccurrences(of: " ", with: "")
                switch value {
                case "Q", "W": seen.status = 1; seen.workerNode = nil
                case "R": seen.status = 2
                case "C": seen.status = 4
                case "H": seen.status = 5; seen.workerNode = nil
                default: break
                }
            } else if line.contains("exit_status = ") {
                let code = Int((line.split(separator: "=").dropFirst().first ?? "").replacingOccurrences(of: " ", with: "")) ?? 0
                if code == 271 { seen.status = 3 } else { seen.exitCode = code }
            } else if line.contains("exec_host = ") {
                let value = line.split(separator: "=", maxSplits: 1).dropFirst().first ?? ""
                seen.workerNode = (value.split(separator: "/").first ?? "").replacingOccurrences(of: " ", with: "")
            }
        }
        flush()
        return result
    }

    /// Paragraph per job; tab-started lines continue the previous value; `name = value`.
    static let arc = TorqueParsers(name: "ARC PBS.pm") { text in
        var result: [String: Seen] = [:]
        for (id, attributes) in arcJobs(text) {
            let state = attributes["job_state"] ?? ""
            let hosts = (attributes["exec_host"] ?? "").split(separator: "+").compactMap { spec -> String? in
                spec.firstMatch(of: /^([^\/:]+)\/\d+(?:\*(\d+))?$/).map { String($0.1) }
            }
            let exit = attributes["exit_status"].flatMap { Int($0) }
            // ARC keeps no status for C (the job has finished) and reads the exit code elsewhere.
            let status = blahStatus(state, exit: exit)
            result[String(id.split(separator: ".").first ?? "")] = Seen(
                status: status, exitCode: status == 4 ? exit : nil, workerNode: hosts.first)
        }
        return result
    }

    static func arcJobs(_ text: String) -> [(String, [String: String])] {
        var jobs: [(String, [String: String])] = []
        var key: String?
        for line in text.split(separator: "\n").map(String.init) {
            if let m = line.wholeMatch(of: /^Job Id:\s+(\d+.*)$/) {
                jobs.append((String(m.1), [:]))
                key = nil
                continue
            }
            guard !jobs.isEmpty else { continue }
            if let m = line.wholeMatch(of: /^\t(.+)$/), let k = key {
                jobs[jobs.count - 1].1[k, default: ""] += m.1
            } else if let m = line.wholeMatch(of: /^\s*(\S+) = (.*)$/) {
                key = String(m.1)
                jobs[jobs.count - 1].1[String(m.1)] = String(m.2)
            }
        }
        return jobs
    }

    /// ARC's count of the CPUs a running job uses: one per `/` in exec_host.
    static func arcUsedCPUs(_ text: String, id: String) -> Int? {
        arcJobs(text).first { $0.0 == id }.map { $0.1["exec_host"]?.filter { $0 == "/" }.count ?? 0 }
    }

    /// pbs_status.sh's way: awk over `qstat -f ID`, one classad per job.
    static func awkStatus(_ text: String, job: String, d: DaemonHarness) throws -> String {
        let program = #"""
            /Job Id:/ {
                id = substr($0, index($0, ":") + 2)
                dot = index(id, "."); if (dot > 0) id = substr(id, 1, dot - 1)
                printf "[BatchJobId=\"%s\";", id
            }
            /exec_host =/ { host = substr($0, index($0, "=") + 2); host = substr(host, 1, index(host, "/") - 1) }
            /job_state =/ { state = substr($0, index($0, "=") + 1) }
            /exit_status =/ { code = substr($0, index($0, "=") + 1) }
            END {
                status = 0
                if (state ~ "Q") status = 1
                if (state ~ "R" || state ~ "E") status = 2
                if (state ~ "C") status = 4
                if (state ~ "H") status = 5
                if (code ~ "271") status = 3
                if (status == 2 || status == 4) printf " WorkerNode=\"%s\";", host
                printf " JobStatus=%d;", status
                if (status == 4) { gsub(/ /, "", code); printf " ExitCode=%s;", (code == "" ? "0" : code) }
                printf "]"
            }
            """#
        let r = try DaemonHarness.run("/usr/bin/awk", [program], environment: [:], stdin: text)
        guard r.status == 0 else { throw HarnessError("awk failed: \(r.stderr)") }
        _ = job
        return r.stdout
    }
}

/// A re-implementation of what ARC's information system (`PBS.pm`: `read_pbsnodes`,
/// `cluster_info`, `queue_info`, `nodes_info`) reads out of `pbsnodes -a` and
/// `qmgr -c "list server"`, to check that vbatch's output gives it the nodes, their CPUs
/// and states, and a Torque it supports.
struct ARCInfosys {
    /// Node name -> attribute -> value, as `read_pbsnodes` builds it.
    let nodes: [String: [String: String]]
    let lrmsType: String?
    let lrmsVersion: String?

    init(pbsnodes: String, qmgr: String) {
        // A line starting with a word character or `-` names a node (up to the first other
        // character); `name = value` lines, split at ` = `, blanks removed from the name.
        var nodes: [String: [String: String]] = [:]
        var node: String?
        var key = "", value = ""
        for line in pbsnodes.split(separator: "\n", omittingEmptySubsequences: false).map(String.init) where !line.isEmpty {
            if let m = line.prefixMatch(of: /[\w\-]+/) {
                node = String(m.0)
                continue
            }
            if line.contains(" = ") {
                let parts = line.components(separatedBy: " = ")
                key = parts[0].filter { !$0.isWhitespace }
                value = parts[1]
            }
            if let node { nodes[node, default: [:]][key] = value }
        }
        self.nodes = nodes
        // `pbs_version = NAME_1.2` names the flavour; a bare version is Torque.
        if let m = qmgr.firstMatch(of: /pbs_version = \b(\D+)_(\d\S+)\b/) {
            lrmsType = String(m.1)
            lrmsVersion = String(m.2)
        } else {
            lrmsType = "torque"
            lrmsVersion = qmgr.firstMatch(of: /pbs_version = \b(\d\S+)\b/).map { String($0.1) }
        }
    }

    /// `totalcpus`: `np` of every node neither down nor offline.
    var totalCPUs: Int {
        nodes.values.filter { !isOut($0) }.reduce(0) { $0 + (Int($1["np"] ?? "") ?? 0) }
    }

    /// `cpudistribution`: ` Ncpu:COUNT` per node size.
    var cpuDistribution: String {
        var counts: [Int: Int] = [:]
        for node in nodes.values where !isOut(node) { counts[Int(node["np"] ?? "") ?? 0, default: 0] += 1 }
        return counts.keys.sorted().map { " \($0)cpu:\(counts[$0]!)" }.joined()
    }

    func isOut(_ node: [String: String]) -> Bool {
        let state = node["state"] ?? ""
        return state.contains("down") || state.contains("offline")
    }

    struct QueueCPUs: Equatable {
        var total: Int
        var free: Int
    }

    /// `queue_info`: the CPUs of the nodes without properties or whose properties name the
    /// queue, not down or offline; free: those of nodes whose state says `free`.
    func queueCPUs(_ queue: String) -> QueueCPUs {
        var result = QueueCPUs(total: 0, free: 0)
        for node in nodes.values {
            if let properties = node["properties"], !properties.contains(queue) { continue }
            if isOut(node) { continue }
            let cpus = Int(node["np"] ?? "") ?? 0
            result.total += cpus
            if (node["state"] ?? "").contains("free") { result.free += cpus }
        }
        return result
    }

    struct Node: Equatable {
        var isFree: Bool
        var isAvailable: Bool
        var tags: [String]
        var slots: Int?
        var physicalMB: Int?
        var virtualMB: Int?
        var logicalCPUs: Int?
    }

    /// `nodes_info`: state words, properties as tags, `np`, and from `status` the memory
    /// (`physmem`, `totmem` in kb) and `ncpus`.
    func nodeInfo() -> [String: Node] {
        var result: [String: Node] = [:]
        for (name, node) in nodes {
            let state = node["state"] ?? ""
            var info = Node(isFree: state.contains("free"),
                            isAvailable: !(state.contains("down") || state.contains("offline") || state.contains("unknown")),
                            tags: (node["properties"] ?? "").split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) },
                            slots: node["np"].flatMap { Int($0) })
            for token in (node["status"] ?? "").split(separator: ",") {
                let pair = token.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                guard pair.count == 2 else { continue }
                let kb = pair[1].firstMatch(of: /^(\d+)kb/).flatMap { Int($0.1) }.map { $0 / 1024 }
                switch pair[0] {
                case "totmem": info.virtualMB = kb
                case "physmem": info.physicalMB = kb
                case "ncpus": info.logicalCPUs = Int(pair[1])
                default: break
                }
            }
            result[name] = info
        }
        return result
    }
}
