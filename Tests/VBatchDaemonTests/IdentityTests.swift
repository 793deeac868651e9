import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// Ownership, VO membership and operator rights end to end, with real local Unix users the
/// suite creates itself: the real CLI runs as each user (through `setpriv`, with no
/// supplementary groups), and vbatchd takes who they are from the socket's peer credentials,
/// the account database and the site file. The users are kept (other runs may use them).
@Suite("Identity and authorization with real Unix users", .serialized)
struct IdentityTests {
    /// In VO atlas through her Unix group `vbtest-atlas`.
    static let alice = "vbtest-alice"
    /// In VO cms by name (`users = [...]` of the site file).
    static let bob = "vbtest-bob"
    /// An operator through the Unix group `vbtest-ops` (`operator_groups`), in no VO.
    static let oper = "vbtest-oper"
    /// The primary group of all three.
    static let primaryGroup = "vbtest-users"

    static let site = """
        [site]
        name = "identity-test"
        operators = ["root"]
        operator_groups = ["vbtest-ops"]

        [vo.cms]
        share = 50
        users = ["vbtest-bob"]

        [vo.atlas]
        share = 50
        groups = ["vbtest-atlas"]

        [node.wn1]
        uri = "sim://"
        slots = 4
        memory = "16gb"

        [node.wn2]
        uri = "sim://"
        slots = 4
        memory = "16gb"

        """

    static let queues = [
        // Jobs wait here and never start: hold, release and cancel meet a queued job.
        "parked.toml": """
            [queue.parked]
            type = "execution"
            description = "Accepts jobs but starts none"
            environments = ["testguest"]
            walltime_max = "1h"
            started = false
            """,
        "cms-only.toml": """
            [queue.cms-only]
            type = "execution"
            description = "Members of CMS only"
            environments = ["testguest"]
            walltime_max = "1h"
            vos = ["cms"]
            """,
        // Open to every VO, but its second environment is granted to CMS only.
        "cms-env.toml": """
            [queue.cms-env]
            type = "execution"
            description = "Any VO; the cmsguest environment for CMS only"
            environments = ["testguest", "cmsguest"]
            walltime_max = "1h"
            """,
    ]

    /// The test guest again under another name, granted to CMS only.
    static let cmsImage = """
        [image.cmsguest]
        description = "The test guest, for CMS only"
        boot = "kernel"
        kernel = "testguest/out/vmlinuz"
        initrd = "testguest/out/initrd.img"
        cmdline = "console=ttyS0 quiet panic=-1 cryptomgr.notests"
        memory = "256mb"
        vos = ["cms"]
        """

    static let script = "#!/bin/sh\necho hello from $USER\n"

    /// Created once per test process; `init` rethrows a failure for every test.
    static let accounts = Result<Void, Error> {
        for group in [primaryGroup, "vbtest-atlas", "vbtest-ops"] { try ensureGroup(group) }
        try ensureUser(alice, supplementary: ["vbtest-atlas"])
        try ensureUser(bob, supplementary: [])
        try ensureUser(oper, supplementary: ["vbtest-ops"])
    }

    init() throws {
        try Self.accounts.get()
    }

    // MARK: - Accounts

    static func command(_ path: String, _ arguments: [String]) throws -> CommandResult {
        try DaemonHarness.run(path, arguments, environment: [:], stdin: nil)
    }

    /// `groupadd -f` succeeds if the group exists; retried while another run holds the lock.
    static func ensureGroup(_ name: String) throws {
        var last = ""
        for attempt in 0..<30 {
            if attempt > 0 { usleep(200_000) }
            let r = try command("/usr/sbin/groupadd", ["-f", name])
            if r.status == 0 { return }
            last = r.stderr
        }
        throw HarnessError("groupadd \(name) failed: \(last)")
    }

    /// Creates the user (no home, primary group `vbtest-users`) unless it exists, and adds the
    /// supplementary groups it lacks. Safe to re-run and to race with another run.
    static func ensureUser(_ name: String, supplementary: [String]) throws {
        var last = ""
        for attempt in 0..<30 {
            if attempt > 0 { usleep(200_000) }
            let id = try command("/usr/bin/id", ["-nG", name])
            guard id.status == 0 else {
                var arguments = ["-M", "-N", "-g", primaryGroup, "-s", "/usr/sbin/nologin", "-c", "vbatch test user"]
                if !supplementary.isEmpty { arguments += ["-G", supplementary.joined(separator: ",")] }
                let r = try command("/usr/sbin/useradd", arguments + [name])
                // 9: created meanwhile by another run; anything else (a lock) is retried.
                if r.status != 0 && r.status != 9 { last = "useradd: " + r.stderr }
                continue
            }
            let groups = Set(id.stdout.split(whereSeparator: \.isWhitespace).map(String.init))
            let missing = supplementary.filter { !groups.contains($0) }
            if missing.isEmpty { return }
            let r = try command("/usr/sbin/usermod", ["-a", "-G", missing.joined(separator: ","), name])
            if r.status != 0 { last = "usermod: " + r.stderr }
        }
        throw HarnessError("cannot set up user \(name): \(last)")
    }

    static func uid(_ user: String) throws -> Int {
        let r = try command("/usr/bin/id", ["-u", user])
        guard r.status == 0, let uid = Int(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("id -u \(user) failed: \(r.stderr)")
        }
        return uid
    }

    // MARK: - Helpers

    /// A daemon on the test site, with the CMS-only image in its catalogue.
    func daemon() throws -> DaemonHarness {
        let d = try DaemonHarness(site: Self.site, queues: Self.queues)
        try Self.cmsImage.write(toFile: d.configDirectory + "/images/cmsguest.toml", atomically: true, encoding: .utf8)
        try d.start()
        return d
    }

    /// The CLI as `user`, with primary group `vbtest-users`.
    func vbatch(_ d: DaemonHarness, as user: String, _ arguments: [String]) throws -> CommandResult {
        try d.vbatch(as: user, group: Self.primaryGroup, arguments)
    }

    /// Submits a script (readable by everyone) as `user`; the result of the CLI.
    func trySubmit(_ d: DaemonHarness, as user: String, _ args: [String]) throws -> CommandResult {
        let path = try d.writeScript(Self.script, name: "\(user)-\(UUID().uuidString.prefix(8)).sh")
        chmod(path, 0o644)
        return try vbatch(d, as: user, ["submit", path] + args)
    }

    func submit(_ d: DaemonHarness, as user: String, _ args: [String]) throws -> Int64 {
        let r = try trySubmit(d, as: user, args)
        guard r.status == 0, let id = Int64(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("submit as \(user) failed (\(r.status)): \(r.stderr)")
        }
        return id
    }

    /// Runs a command as `user` that must succeed, and decodes its JSON.
    func json<T: Decodable>(_ type: T.Type, _ d: DaemonHarness, as user: String, _ arguments: [String]) throws -> T {
        let r = try vbatch(d, as: user, arguments)
        guard r.status == 0 else { throw HarnessError("vbatch \(arguments.joined(separator: " ")) as \(user) failed: \(r.stderr)") }
        return try JSONDecoder().decode(T.self, from: Data(r.stdout.utf8))
    }

    /// The job ids of a `status` or `history` table (first column, header skipped).
    func ids(inTable text: String) -> [Int64] {
        text.split(separator: "\n").dropFirst().compactMap { line in
            line.split(separator: " ").first.flatMap { Int64($0) }
        }
    }

    func state(_ d: DaemonHarness, _ id: Int64) throws -> JobState { try d.client.job(id).job.state }

    /// The last transition's reason, as root sees it.
    func lastReason(_ d: DaemonHarness, _ id: Int64) throws -> String? { try d.client.job(id).history.last?.reason }

    // MARK: - Tests

    @Test func eachUserSeesOnlyTheirOwnJobs() throws {
        let d = try daemon()
        let held = [Self.alice: try submit(d, as: Self.alice, ["-q", "two-way", "--hold"]),
                    Self.bob: try submit(d, as: Self.bob, ["-q", "two-way", "--hold"])]
        let done = [Self.alice: try submit(d, as: Self.alice, ["-q", "two-way", "-v", "VBATCH_SIM_RUNTIME=0.2"]),
                    Self.bob: try submit(d, as: Self.bob, ["-q", "two-way", "-v", "VBATCH_SIM_RUNTIME=0.2"])]
        #expect(try d.wait { try done.values.allSatisfy { try state(d, $0) == .completed } })

        for (user, other) in [(Self.alice, Self.bob), (Self.bob, Self.alice)] {
            // Listings hold the user's own jobs only.
            let active = try json([JobInfo].self, d, as: user, ["status", "--json"])
            #expect(active.map(\.id) == [held[user]!], "\(user): status --json")
            #expect(active.allSatisfy { $0.owner == user })
            let table = try vbatch(d, as: user, ["status"])
            #expect(table.status == 0)
            #expect(ids(inTable: table.stdout) == [held[user]!], "\(user): status")
            #expect(table.stdout.contains(user) && !table.stdout.contains(other))
            let finished = try json([JobInfo].self, d, as: user, ["history", "--json"])
            #expect(finished.map(\.id) == [done[user]!], "\(user): history --json")
            let history = try vbatch(d, as: user, ["history"])
            #expect(history.status == 0)
            #expect(ids(inTable: history.stdout) == [done[user]!], "\(user): history")
            #expect(!history.stdout.contains(other))

            // Their own jobs in full.
            let show = try vbatch(d, as: user, ["show", String(held[user]!)])
            #expect(show.status == 0 && show.stdout.contains("owner:") && show.stdout.contains(user), "\(show.stderr)")
            let output = try json(JobOutput.self, d, as: user, ["output", "--json", String(done[user]!)])
            #expect(output.id == done[user]! && output.exitCode == 0)
            #expect(try vbatch(d, as: user, ["output", String(done[user]!)]).status == 0)

            // Nothing of the other user's jobs, whatever their state.
            let attempts: [[String]] = [
                ["show", String(held[other]!)], ["show", "--json", String(done[other]!)],
                ["output", String(done[other]!)], ["output", "--json", String(done[other]!)],
                ["output", "--file", "stdout", String(done[other]!)],
                ["hold", String(held[other]!)], ["release", String(held[other]!)], ["cancel", String(held[other]!)],
            ]
            for arguments in attempts {
                let r = try vbatch(d, as: user, arguments)
                let command = "\(user): vbatch \(arguments.joined(separator: " "))"
                #expect(r.status != 0, "\(command) must fail")
                #expect(r.stderr.contains("belongs to another user"), "\(command): \(r.stderr)")
                #expect(r.stdout.isEmpty, "\(command) printed \(r.stdout)")
            }
            // Nor everyone's listings.
            for arguments in [["status", "--all"], ["status", "--all", "--json"], ["history", "--all"]] {
                let r = try vbatch(d, as: user, arguments)
                #expect(r.status != 0, "\(user): \(arguments) must fail")
                #expect(r.stderr.contains("only operators may list every user's jobs"), "\(r.stderr)")
            }
        }
        // The other's attempts changed nothing.
        #expect(try held.values.allSatisfy { try state(d, $0) == .held })
    }

    @Test func usersControlTheirOwnJobs() throws {
        let d = try daemon()
        let alices = try submit(d, as: Self.alice, ["-q", "parked"])
        let bobs = try submit(d, as: Self.bob, ["-q", "parked"])
        #expect(try state(d, alices) == .queued && state(d, bobs) == .queued)
        for (user, id) in [(Self.alice, alices), (Self.bob, bobs)] {
            let hold = try vbatch(d, as: user, ["hold", String(id)])
            #expect(hold.status == 0, "\(hold.stderr)")
            #expect(try state(d, id) == .held)
            #expect(try lastReason(d, id) == "held by \(user)")
            let release = try vbatch(d, as: user, ["release", String(id)])
            #expect(release.status == 0, "\(release.stderr)")
            #expect(try state(d, id) == .queued)
            #expect(try lastReason(d, id) == "released by \(user)")
        }
        // Alice cancels hers; Bob's is untouched and still his to cancel.
        #expect(try vbatch(d, as: Self.alice, ["cancel", String(alices)]).status == 0)
        #expect(try state(d, alices) == .cancelled)
        #expect(try lastReason(d, alices) == "cancelled by \(Self.alice)")
        #expect(try state(d, bobs) == .queued)
        #expect(try vbatch(d, as: Self.alice, ["cancel", String(bobs)]).stderr.contains("belongs to another user"))
        #expect(try vbatch(d, as: Self.bob, ["cancel", String(bobs)]).status == 0)
        #expect(try state(d, bobs) == .cancelled)
        // A finished job now appears in its owner's history only.
        #expect(try json([JobInfo].self, d, as: Self.alice, ["history", "--json"]).map(\.id) == [alices])
        #expect(try json([JobInfo].self, d, as: Self.bob, ["history", "--json"]).map(\.id) == [bobs])
    }

    @Test func anOperatorGroupMemberSeesAndControlsEveryJob() throws {
        let d = try daemon()
        let me = try json(WhoAmI.self, d, as: Self.oper, ["whoami", "--json"])
        #expect(me.user == Self.oper && me.isOperator && me.vo == nil)
        let alices = try submit(d, as: Self.alice, ["-q", "parked"])
        let bobs = try submit(d, as: Self.bob, ["-q", "two-way", "-v", "VBATCH_SIM_RUNTIME=600"])
        #expect(try d.wait { try state(d, bobs) == .running })

        // Everyone's jobs with --all; their own (none) without.
        let all = try json([JobInfo].self, d, as: Self.oper, ["status", "--all", "--json"])
        #expect(Set(all.map(\.id)) == [alices, bobs])
        #expect(Dictionary(uniqueKeysWithValues: all.map { ($0.id, $0.owner) }) == [alices: Self.alice, bobs: Self.bob])
        #expect(try json([JobInfo].self, d, as: Self.oper, ["status", "--json"]).isEmpty)
        let table = try vbatch(d, as: Self.oper, ["status", "--all"])
        #expect(Set(ids(inTable: table.stdout)) == [alices, bobs])
        let shown = try json(JobDetail.self, d, as: Self.oper, ["show", "--json", String(alices)])
        #expect(shown.job.owner == Self.alice)

        // Hold, release and cancel another user's waiting job, and cancel a running one.
        #expect(try vbatch(d, as: Self.oper, ["hold", String(alices)]).status == 0)
        #expect(try state(d, alices) == .held)
        #expect(try lastReason(d, alices) == "held by \(Self.oper)")
        #expect(try vbatch(d, as: Self.oper, ["release", String(alices)]).status == 0)
        #expect(try state(d, alices) == .queued)
        #expect(try lastReason(d, alices) == "released by \(Self.oper)")
        #expect(try vbatch(d, as: Self.oper, ["cancel", String(alices)]).status == 0)
        #expect(try state(d, alices) == .cancelled)
        #expect(try lastReason(d, alices) == "cancelled by \(Self.oper)")
        #expect(try vbatch(d, as: Self.oper, ["cancel", String(bobs)]).status == 0)
        #expect(try d.wait { try state(d, bobs) == .cancelled })
        #expect(try lastReason(d, bobs) == "cancelled by \(Self.oper)")

        // Everyone's history, and any job's output.
        let history = try json([JobInfo].self, d, as: Self.oper, ["history", "--all", "--json"])
        #expect(Set(history.map(\.id)) == [alices, bobs])
        #expect(try vbatch(d, as: Self.oper, ["output", String(bobs)]).status == 0)
        // Alice still sees only her job; it is no operator's doing that she could see Bob's.
        #expect(try json([JobInfo].self, d, as: Self.alice, ["history", "--json"]).map(\.id) == [alices])
    }

    @Test func voMembershipComesFromTheSiteFile() throws {
        let d = try daemon()
        // setpriv runs the CLI with --clear-groups: Alice's group reaches the daemon through
        // the account database, not through the process's credentials.
        let alice = try json(WhoAmI.self, d, as: Self.alice, ["whoami", "--json"])
        #expect(alice == WhoAmI(user: Self.alice, uid: try Self.uid(Self.alice), vo: "atlas", isOperator: false, via: "socket"))
        let bob = try json(WhoAmI.self, d, as: Self.bob, ["whoami", "--json"])
        #expect(bob == WhoAmI(user: Self.bob, uid: try Self.uid(Self.bob), vo: "cms", isOperator: false, via: "socket"))
        let oper = try json(WhoAmI.self, d, as: Self.oper, ["whoami", "--json"])
        #expect(oper == WhoAmI(user: Self.oper, uid: try Self.uid(Self.oper), vo: nil, isOperator: true, via: "socket"))
        let text = try vbatch(d, as: Self.alice, ["whoami"])
        #expect(text.status == 0)
        #expect(text.stdout.contains(Self.alice) && text.stdout.contains("atlas"))
        // root is an operator by name, in no VO.
        #expect(try d.client.whoami() == WhoAmI(user: "root", uid: 0, vo: nil, isOperator: true, via: "socket"))
    }

    @Test func queuesAndEnvironmentsOfAnotherVOAreRefused() throws {
        let d = try daemon()
        // A queue for CMS only.
        let refused = try trySubmit(d, as: Self.alice, ["-q", "cms-only", "--hold"])
        #expect(refused.status != 0 && refused.stdout.isEmpty)
        #expect(refused.stderr.contains("queue cms-only rejected the job: VO atlas may not use it (allowed: cms)"), "\(refused.stderr)")
        let outsider = try trySubmit(d, as: Self.oper, ["-q", "cms-only", "--hold"])
        #expect(outsider.status != 0)
        #expect(outsider.stderr.contains("users outside a VO may not use it (allowed: cms)"), "\(outsider.stderr)")
        let bobs = try submit(d, as: Self.bob, ["-q", "cms-only", "--hold"])
        #expect(try d.client.job(bobs).job.queue == "cms-only")

        // Through the grid routing queue, a long job routes to cms-long for Bob only.
        let long = try trySubmit(d, as: Self.alice, ["-q", "grid", "-l", "walltime=30h", "--hold"])
        #expect(long.status != 0)
        #expect(long.stderr.contains("cms-long: VO atlas may not use it (allowed: cms)"), "\(long.stderr)")
        let routed = try submit(d, as: Self.bob, ["-q", "grid", "-l", "walltime=30h", "--hold"])
        #expect(try d.client.job(routed).job.queue == "cms-long")

        // An environment granted to CMS only, in a queue open to all.
        let image = try trySubmit(d, as: Self.alice, ["-q", "cms-env", "--env", "cmsguest", "--hold"])
        #expect(image.status != 0 && image.stdout.isEmpty)
        #expect(image.stderr.contains("queue cms-env rejected the job: environment cmsguest is not granted to VO atlas"), "\(image.stderr)")
        let plain = try submit(d, as: Self.alice, ["-q", "cms-env", "--hold"])
        #expect(try d.client.job(plain).job.environment == "testguest")
        let cms = try submit(d, as: Self.bob, ["-q", "cms-env", "--env", "cmsguest", "-v", "VBATCH_SIM_RUNTIME=0.2"])
        #expect(try d.client.job(cms).job.environment == "cmsguest")
        #expect(try d.wait { try state(d, cms) == .completed })
        #expect(try d.client.job(cms).job.exitCode == 0)
        // Refusals recorded nothing.
        #expect(Set(try d.client.jobs(all: true).map(\.id)) == [bobs, routed, plain])
    }

    /// The job store holds every user's scripts and variables: no way around the API to them.
    @Test func theJobStoreIsReadableByTheDaemonOnly() throws {
        let d = try daemon()
        let secret = "bobs-token-\(UUID().uuidString)"
        let id = try submit(d, as: Self.bob, ["-q", "two-way", "--hold", "-v", "TOKEN=\(secret)"])
        #expect(try state(d, id) == .held)
        let store = d.stateDirectory + "/vbatch.sqlite"
        for file in [store, store + "-wal", store + "-shm"] {
            let mode = try FileManager.default.attributesOfItem(atPath: file)[.posixPermissions] as? Int
            #expect(mode == 0o600, "\(file) has mode \(String(mode ?? 0, radix: 8))")
            let read = try DaemonHarness.run("/usr/bin/setpriv", ["--reuid=\(Self.alice)", "--regid=\(Self.primaryGroup)",
                                                                  "--clear-groups", "/usr/bin/cat", file],
                                             environment: [:], stdin: nil)
            // Not the bytes themselves in a failure: they are a binary database.
            let leaked = read.stdout.contains(secret)
            #expect(read.status != 0 && read.stderr.contains("Permission denied"), "\(Self.alice) read \(file)")
            #expect(!leaked, "\(Self.alice) read Bob's variable in \(file)")
        }
    }

    @Test func jobsAreRecordedUnderTheSubmittingUser() throws {
        let d = try daemon()
        let expected: [(user: String, vo: String?)] = [(Self.alice, "atlas"), (Self.bob, "cms"), (Self.oper, nil)]
        var ids: [Int64: (user: String, vo: String?)] = [:]
        for who in expected { ids[try submit(d, as: who.user, ["-q", "two-way", "--hold"])] = who }
        for (id, who) in ids {
            // As the owner sees it, through the CLI …
            let detail = try json(JobDetail.self, d, as: who.user, ["show", "--json", String(id)])
            #expect(detail.job.owner == who.user && detail.job.vo == who.vo)
            let text = try vbatch(d, as: who.user, ["show", String(id)])
            #expect(text.stdout.contains("owner:") && text.stdout.contains(who.user))
            // … and as root sees it, through the client library.
            let job = try d.client.job(id).job
            #expect(job.owner == who.user && job.vo == who.vo)
            #expect(job.state == .held)
        }
        let owners = Dictionary(uniqueKeysWithValues: try d.client.jobs(all: true).map { ($0.id, $0.owner) })
        #expect(owners == ids.mapValues { $0.user })
    }
}
