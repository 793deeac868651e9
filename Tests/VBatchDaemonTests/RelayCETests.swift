import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchStore

/// A CE on its own host: the test host `ce1` (its own network, accounts and files; none of
/// the daemon's) set up with scripts/setup-ce.sh, running `vbatch relay` to a vbatchd on the
/// bridge address, whose jobs run in real VMs on worker node wn1. The shipped BLAH scripts
/// and PBS commands run there unchanged, as the CE's pool accounts; tshark on the bridge
/// shows that no job script crosses it in clear.
@Suite("CE on its own host, through the relay", .serialized)
final class RelayCETests {
    let hosts: TestHosts
    let ce: TestHosts.Host

    init() throws {
        hosts = try TestHosts.load(atLeast: 1)
        guard let ce = hosts.ce else {
            throw HarnessError("no CE test host: run scripts/test-hosts.sh up 3 --dead 197 --ce (scripts/test.sh does)")
        }
        self.ce = ce
        try hosts.reset()
    }

    deinit {
        _ = try? hosts.exec(ce.name, "/opt/vbatch/src/scripts/setup-ce.sh --stop")
        try? hosts.reset()
    }

    /// A command on the CE host as `user` (group `vbce-atlas`), in a clean environment as a CE's
    /// job manager would have it; the relay's socket is the default one there.
    func asUser(_ user: String, _ command: String) throws -> CommandResult {
        try hosts.script(["exec", ce.name, "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "HOME=/tmp", "LANG=C",
                          "VBATCH_BIN=/usr/local/bin/vbatch", "VBATCH_BLAH_SPOOL=/tmp/blah-spool",
                          "setpriv", "--reuid=\(user)", "--regid=vbce-atlas", "--init-groups",
                          "sh", "-c", "cd /tmp/ce-job && " + command])
    }

    static let blah = "/usr/local/libexec/vbatch/blah"

    /// BLAH's status line of one job.
    func blahStatus(_ user: String, _ blahID: String) throws -> String {
        try asUser(user, "\(Self.blah)/vbatch_status.sh -w \(blahID)").stdout
    }

    @Test("BLAH and PBS commands on the CE host submit, query, hold, release and cancel as the CE's own users; TLS only on the wire")
    func ceHostThroughTheRelay() throws {
        let port = try APIAccessTests.freePort(on: hosts.apiAddress)
        let pki = hosts.pki
        let site = hosts.site(count: 1, extra: "") + """

            [vo.atlas]
            share = 1
            groups = ["vbce-atlas"]

            [api]
            listen = "\(hosts.apiAddress):\(port)"
            certificate = "\(pki)/hosts/\(hosts.apiAddress)/servercert.pem"
            key = "\(pki)/hosts/\(hosts.apiAddress)/serverkey.pem"
            ca = "\(pki)/ca/cacert.pem"
            relays = ["ce1"]
            """
        let d = try DaemonHarness(site: site)
        try d.start()

        // The CE host: binaries copied in (it cannot see this build), then setup-ce.sh as an operator would run it.
        let installed = try hosts.script(["ce-install", ce.name, DaemonHarness.binaries])
        #expect(installed.status == 0, "\(installed.stderr)")
        let setup = try hosts.exec(ce.name, """
            /opt/vbatch/src/scripts/setup-ce.sh --server \(hosts.apiAddress):\(port) \
              --ca /opt/vbatch/pki/clients/ce1/cacert.pem --certificate /opt/vbatch/pki/clients/ce1/clientcert.pem \
              --key /opt/vbatch/pki/clients/ce1/clientkey.pem --vbatch /opt/vbatch/bin/vbatch --start \
            && mkdir -p /tmp/ce-job /tmp/blah-spool && chmod 1777 /tmp/ce-job /tmp/blah-spool
            """)
        try #require(setup.status == 0, "setup-ce.sh: \(setup.stdout) \(setup.stderr)")
        // The CE host sees none of the daemon's files.
        #expect(try hosts.exec(ce.name, "test -e '\(d.stateDirectory)' || test -e '\(d.socket)'").status != 0)

        // Capture the bridge while the CE works.
        let capture = d.root + "/bridge.pcap"
        let tshark = try Capture(file: capture, port: port)

        // BLAH as vbce-atlas001: a pilot that runs to its end in a VM; its output comes back to the CE host.
        let marker = "CE-SECRET-\(UUID().uuidString.prefix(8))"
        let pilot = try asUser("vbce-atlas001", """
            printf '#!/bin/sh\\necho "pilot says $PILOT_SECRET"\\nsleep 8\\n' > pilot.sh && chmod 755 pilot.sh && \
            \(Self.blah)/vbatch_submit.sh -c pilot.sh -q one-way -n 2 -w /tmp/ce-job -o pilot.out -e pilot.err \
              -V '"PILOT_SECRET=\(marker)"'
            """)
        let pilotID = try #require(pilot.stdout.firstMatch(of: /BLAHP_JOBID_PREFIX(vbatch\/\d{8}\/(\d+))/), "\(pilot)")
        let pilotJob = try #require(Int64(pilotID.output.2))
        let owner = try d.client.job(pilotJob).job
        #expect(owner.owner == "vbce-atlas001" && owner.vo == "atlas", "the CE host's mapped user owns the job")
        #expect(try d.wait(timeout: 180) { try d.client.job(pilotJob).job.state == .running })

        // While the pilot fills wn1: a second BLAH job waits; hold, release and cancel it.
        let second = try asUser("vbce-atlas001", "\(Self.blah)/vbatch_submit.sh -c /bin/true -s no -q one-way -w /tmp/ce-job")
        let secondID = String(try #require(second.stdout.firstMatch(of: /BLAHP_JOBID_PREFIX(vbatch\/\d{8}\/\d+)/), "\(second)").output.1)
        #expect(try blahStatus("vbce-atlas001", secondID).contains("JobStatus=1;"))
        #expect(try asUser("vbce-atlas001", "\(Self.blah)/vbatch_hold.sh \(secondID)").status == 0)
        #expect(try blahStatus("vbce-atlas001", secondID).contains("JobStatus=5;"))
        #expect(try asUser("vbce-atlas001", "\(Self.blah)/vbatch_resume.sh \(secondID)").status == 0)
        #expect(try blahStatus("vbce-atlas001", secondID).contains("JobStatus=1;"))
        // Another CE account may not touch it; its owner may.
        // (blahpd reads the result line: "0 No\ error", or the status and the message.)
        let foreign = try asUser("vbce-atlas002", "\(Self.blah)/vbatch_cancel.sh \(secondID)")
        #expect(!foreign.stdout.hasPrefix(" 0 ") && foreign.stdout.contains("Unauthorized"), "\(foreign)")
        #expect(try asUser("vbce-atlas001", "\(Self.blah)/vbatch_cancel.sh \(secondID)").stdout.hasPrefix(" 0 No"))
        #expect(try blahStatus("vbce-atlas001", secondID).contains("JobStatus=3;"))

        // qsub, qstat, qhold, qrls, qdel as vbce-atlas002, the way ARC runs them.
        let qsub = try asUser("vbce-atlas002", """
            printf '#!/bin/sh\\necho "\(marker) in a qsub script"\\n' > q.sh && qsub -h -q one-way -N relayed q.sh
            """)
        try #require(qsub.status == 0, "\(qsub)")
        let pbsID = qsub.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        let number = try #require(Int64(pbsID.prefix { $0.isNumber }))
        #expect(try d.client.job(number).job.owner == "vbce-atlas002")
        let variables = try JobStore(path: d.stateDirectory + "/vbatch.sqlite").script(number)?.variables ?? [:]
        #expect(variables["PBS_O_LOGNAME"] == "vbce-atlas002" && variables["PBS_O_HOST"] == "ce1", "\(variables)")
        #expect(try asUser("vbce-atlas002", "qstat \(pbsID)").stdout.contains(" H "))
        #expect(try asUser("vbce-atlas002", "qrls \(pbsID) && qhold \(pbsID) && qdel \(pbsID)").status == 0)
        #expect(try d.wait(timeout: 20) { try d.client.job(number).job.state == .cancelled })
        let whoami = try asUser("vbce-atlas002", "vbatch whoami")
        #expect(whoami.stdout.contains("vbce-atlas002") && whoami.stdout.contains("relay ce1"), "\(whoami)")
        // What ARC's information provider reads, through the relay too.
        let info = try asUser("vbce-atlas002", "qstat -Q -f one-way && pbsnodes -a && qmgr -c 'list queue one-way'")
        #expect(info.status == 0 && info.stdout.contains("resources_max.procct") && info.stdout.contains("state = "), "\(info)")
        // A CE user who sends the relay's headers (or a token) himself is still himself.
        let spoofed = try asUser("vbce-atlas002", "curl -sS --unix-socket /run/vbatch/vbatchd.sock "
            + "-H 'X-VBatch-User: vbce-atlas001' -H 'X-VBatch-UID: 5101' -H 'X-VBatch-Groups: vbce-ops' "
            + "-H 'Authorization: Bearer vbt_1_x' http://ce1/v1/whoami")
        let who = try JSONDecoder().decode(WhoAmI.self, from: Data(spoofed.stdout.utf8))
        #expect(who.user == "vbce-atlas002" && who.uid == 5102 && who.via == "relay ce1", "\(spoofed)")

        // The pilot ends; vbatch_status.sh reports it done and its streams are back on the CE host.
        #expect(try d.wait(timeout: 180) { try d.client.job(pilotJob).job.state == .completed })
        #expect(try blahStatus("vbce-atlas001", String(pilotID.output.1)).contains("JobStatus=4;"))
        let out = try hosts.exec(ce.name, "cat /tmp/ce-job/pilot.out")
        #expect(out.stdout.contains("pilot says \(marker)"), "\(out)")

        // On the wire: TLS on the API port, and neither the job scripts nor the output in clear.
        let bytes = try tshark.stop()
        #expect(bytes.count > 0)
        #expect(tshark.tlsHandshakes() > 0, "the capture saw the relay's TLS sessions")
        #expect(bytes.range(of: Data(marker.utf8)) == nil, "\(marker) crossed the bridge in clear")
        #expect(bytes.range(of: Data("#!/bin/sh".utf8)) == nil, "a job script crossed the bridge in clear")
    }
}

/// tshark on the test bridge, filtered to the API port, written to a file.
final class Capture {
    let file: String
    let port: Int
    private let process = Process()

    init(file: String, port: Int) throws {
        self.file = file
        self.port = port
        let log = file + ".log"
        FileManager.default.createFile(atPath: log, contents: nil)
        // Through perl, which clears the signal mask this test's thread hands down (Foundation's
        // Process keeps it, and worker threads block every signal): tshark must see SIGTERM.
        process.executableURL = URL(fileURLWithPath: "/usr/bin/perl")
        process.arguments = ["-MPOSIX", "-e", "sigprocmask(SIG_SETMASK, POSIX::SigSet->new); exec @ARGV or die",
                             "/usr/bin/tshark", "-i", "vbr0", "-f", "tcp port \(port)", "-w", file, "-q"]
        process.standardOutput = FileHandle(forWritingAtPath: log)
        process.standardError = FileHandle(forWritingAtPath: log)
        try process.run()
        // dumpcap says "Capturing on 'vbr0'" once it is.
        let deadline = Date().addingTimeInterval(20)
        while Date() < deadline {
            if let text = try? String(contentsOfFile: log, encoding: .utf8), text.contains("Capturing on") { return }
            Thread.sleep(forTimeInterval: 0.1)
        }
        process.terminate()
        throw HarnessError("tshark did not start capturing: \((try? String(contentsOfFile: log, encoding: .utf8)) ?? "")")
    }

    /// Stops the capture and returns the capture file's bytes (packets as they crossed the bridge).
    func stop() throws -> Data {
        Thread.sleep(forTimeInterval: 1)  // the last packets reach the file
        process.terminate()
        process.waitUntilExit()
        return try Data(contentsOf: URL(fileURLWithPath: file))
    }

    /// TLS ClientHello messages in the capture.
    func tlsHandshakes() -> Int {
        let r = try? DaemonHarness.run("/usr/bin/tshark", ["-r", file, "-d", "tcp.port==\(port),tls",
                                                          "-Y", "tls.handshake.type == 1", "-T", "fields", "-e", "frame.number"],
                                       environment: [:], stdin: nil)
        return r?.stdout.split(separator: "\n").count ?? 0
    }
}
