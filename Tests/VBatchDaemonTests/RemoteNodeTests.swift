import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// Worker nodes that are other machines: three libvirtd hosts in namespaces
/// (`scripts/test-hosts.sh`), reached over `qemu+tls://` with mutual TLS, sharing no file with
/// the daemon. Everything a job needs or leaves moves through libvirt's storage API.
@Suite("Worker nodes on other machines", .serialized)
final class RemoteNodeTests {
    let hosts: TestHosts

    init() throws {
        hosts = try TestHosts.load()
        try hosts.reset()
    }

    deinit { try? hosts.reset() }

    func harness(site: String, queues: [String: String] = [:]) throws -> DaemonHarness {
        let d = try DaemonHarness(site: site, queues: queues)
        try d.start()
        return d
    }

    // MARK: - Data through the storage API

    @Test("jobs spread over three TLS hosts return output and exit codes; each fresh host gets the image once")
    func spreadOverHosts() throws {
        try hosts.reset(images: true)
        let d = try harness(site: hosts.site())
        try d.waitNodes(["wn1", "wn2", "wn3"], link: "up")
        // The hosts see none of the daemon's files: not its state directory, not the repository.
        for host in hosts.hosts.map(\.name) {
            #expect(try hosts.exec(host, "test -e \(d.stateDirectory) || test -e \(DaemonHarness.repository)/Package.swift").status != 0)
        }
        // Six jobs at once, two per host: both of a host's jobs need its image at the same time.
        let ids = try d.submitJobs("""
            #!/bin/sh
            echo "job $VBATCH_JOB_ID"
            echo "err $VBATCH_JOB_ID" >&2
            echo "file of $VBATCH_JOB_ID" > "$VBATCH_OUTPUT/result.txt"
            exit $((VBATCH_JOB_ID % 3))
            """, ["-q", "two-way", "--count", "6"])
        #expect(ids.count == 6)
        try d.waitEnded(ids)
        var perNode: [String: Int] = [:]
        for id in ids {
            let job = try d.client.job(id).job
            #expect(job.state == .completed && job.exitCode == Int(id % 3), "job \(id): \(job.state) \(job.reason ?? "")")
            let output = try d.client.output(id)
            #expect(output.stdout == "job \(id)\n" && output.stderr == "err \(id)\n")
            #expect(output.files == ["output/result.txt"])
            perNode[job.node ?? "?", default: 0] += 1
        }
        #expect(perNode == ["wn1": 2, "wn2": 2, "wn3": 2])
        for node in try d.client.nodes() {
            // Kernel and initrd, uploaded once each although two jobs wanted them at once.
            #expect(node.cache?.uploads == 2, "\(node.name): \(String(describing: node.cache))")
            #expect(node.cache?.images == ["testguest kernel", "testguest initrd"].sorted() || node.cache?.images.count == 2)
        }
        let table = try d.vbatch(["nodes"]).stdout
        #expect(table.contains("testguest"), "vbatch nodes shows the cache: \(table)")
        let pbsnodes = try PBSCommands(d).run("pbsnodes", ["-a"]).stdout
        #expect(pbsnodes.contains("vbatch_image_cache = 14mb of 20gb: testguest initrd, testguest kernel")
            || pbsnodes.contains("vbatch_image_cache = 14mb of 20gb: testguest kernel, testguest initrd"), "\(pbsnodes)")
        // Every volume of the jobs is gone from the hosts; the cached images stay.
        for host in hosts.hosts.map(\.name) {
            #expect(try hosts.volumes(host, pool: "vbatch-jobs").isEmpty)
            #expect(try hosts.volumes(host, pool: "vbatch-images").count == 2)
            #expect(try hosts.domains(host).isEmpty)
        }
    }

    @Test("operators push an image to chosen nodes ahead of jobs; a second push sends nothing")
    func imagePush() throws {
        try hosts.reset(images: true)
        let d = try harness(site: hosts.site(count: 2))
        try d.waitNodes(["wn1", "wn2"], link: "up")
        let push = try d.vbatch(["image", "push", "testguest", "--node", "wn1"])
        #expect(push.status == 0, "\(push.stderr)")
        #expect(push.stdout.contains("wn1") && push.stdout.contains("cached") && !push.stdout.contains("wn2"), "\(push.stdout)")
        #expect(try hosts.volumes("wn1", pool: "vbatch-images").count == 2)
        #expect(try hosts.volumes("wn2", pool: "vbatch-images").isEmpty)
        let again = try d.vbatch(["image", "push", "testguest"])
        #expect(again.status == 0 && again.stdout.contains("already cached"), "\(again.stdout)")
        #expect(try hosts.volumes("wn2", pool: "vbatch-images").count == 2, "without --node: every node that may run it")
        let unknown = try d.vbatch(["image", "push", "testguest", "--node", "wn9"])
        #expect(unknown.status != 0 && unknown.stderr.contains("node wn9 does not exist"))
        let missing = try d.vbatch(["image", "push", "nosuchimage"])
        #expect(missing.status != 0 && missing.stderr.contains("not in the catalogue"))
        let uploads = try d.client.nodes().map { $0.cache?.uploads ?? -1 }
        #expect(uploads == [2, 2])
        let ids = try d.submitJobs("#!/bin/sh\ntrue\n", ["-q", "two-way", "--count", "2"])
        try d.waitEnded(ids)
        #expect(try d.client.nodes().map { $0.cache?.uploads ?? -1 } == [2, 2], "the jobs found their image on the nodes")
    }

    @Test("a disk image runs from a qcow2 overlay created on the host over the cached base")
    func diskImageWithOverlay() throws {
        let d = try DaemonHarness.withDiskGuest(site: hosts.site(count: 1))
        try d.start()
        try d.waitNodes(["wn1"], link: "up")
        let id = try d.submitJobs("""
            #!/bin/sh
            head -c 24 /dev/vda; echo
            echo changed > /dev/vda
            sleep 6
            """, ["-q", "disk"])[0]
        try d.waitRunning([id])
        // The overlay lives on the host, backed by the cached base (named by its sha256).
        let info = try hosts.exec("wn1", "qemu-img info -U /var/lib/vbatch/jobs/job-\(id).qcow2").stdout
        #expect(info.contains("backing file: /var/lib/vbatch/images/") && info.contains("backing file format: qcow2"), "\(info)")
        try d.waitEnded([id])
        #expect(try d.client.job(id).job.exitCode == 0)
        #expect(try d.client.output(id).stdout == "VBATCH-BASE-IMAGE-MARKER\n")
        // The base image is untouched (the job wrote into its overlay) and the overlay is gone.
        let base = try hosts.exec("wn1", "head -c 24 /var/lib/vbatch/images/$(ls /var/lib/vbatch/images | head -1) | od -c | head -1").stdout
        #expect(!base.isEmpty)
        #expect(try hosts.volumes("wn1", pool: "vbatch-jobs").isEmpty)
    }

    @Test("a pooled VM on a remote host takes a job through a hot-plugged job disk")
    func pooledVMOnRemoteHost() throws {
        let d = try harness(site: hosts.site(count: 1, nodes: """
            [pool.testguest]
            environment = "testguest"
            size = 1
            memory = "256mb"
            """))
        let idle = try d.wait(timeout: 120) { try d.client.nodes().first?.pools.first?.idle == 1 }
        #expect(idle, "the pool did not fill: \(d.daemonLog.suffix(2000))")
        #expect(try hosts.domains("wn1").contains { $0.hasPrefix("vbatch-pool-") })
        let id = try d.submitJobs("#!/bin/sh\necho pooled $VBATCH_JOB_ID\nexit 4\n", ["-q", "two-way"])[0]
        try d.waitEnded([id])
        let detail = try d.client.job(id)
        #expect(detail.history.contains { $0.reason.contains("in pooled VM") })
        let output = try d.client.output(id).stdout
        #expect(detail.job.exitCode == 4 && output == "pooled \(id)\n")
        // The pool refills; stopping the daemon leaves that idle VM for the next one.
        #expect(try d.wait(timeout: 120) { try d.client.nodes().first?.pools.first?.idle == 1 })
    }

    @Test("a host whose certificate the daemon does not trust, and one that does not trust the daemon, are refused with the reason")
    func wrongCertificatesAreRefused() throws {
        let wn1 = hosts.hosts[0], wn2 = hosts.hosts[1]
        let d = try harness(site: hosts.site(count: 1, nodes: """
            [node.untrusting]
            uri = "qemu+tls://\(wn2.address)/system?pkipath=\(hosts.pki)/rogue-client"
            cpus = "0-1"
            memory = "2gb"

            [node.forged]
            uri = "qemu+tls://\(wn1.address)/system?pkipath=\(hosts.pki)/rogue"
            cpus = "0-1"
            memory = "2gb"
            """))
        try d.waitNodes(["wn1"], link: "up")
        try d.waitNodes(["untrusting", "forged"], link: "unreachable")
        let nodes = try d.client.nodes()
        let untrusting = nodes.first { $0.name == "untrusting" }?.note ?? ""
        let forged = nodes.first { $0.name == "forged" }?.note ?? ""
        #expect(untrusting.contains("TLS"), "\(untrusting)")
        #expect(forged.contains("certificate"), "\(forged)")
        // No job goes to a node not known to be up.
        let ids = try d.submitJobs("#!/bin/sh\ntrue\n", ["-q", "two-way", "--count", "2"])
        try d.waitEnded(ids)
        #expect(try ids.allSatisfy { try d.client.job($0).job.node == "wn1" })
        let table = try d.vbatch(["nodes"]).stdout
        #expect(table.contains("unreachable"), "\(table)")
        let down = try PBSCommands(d).run("pbsnodes", ["-l", "-n"]).stdout
        #expect(down.contains("untrusting") && down.contains("down") && !down.contains("wn1"), "\(down)")
    }
}
