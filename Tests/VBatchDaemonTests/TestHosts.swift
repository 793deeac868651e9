import Foundation

/// The worker nodes `scripts/test-hosts.sh up` made: libvirtd hosts in network and mount
/// namespaces on this machine, reached over `qemu+tls://` with the test PKI, which see none
/// of the daemon's files (its state lives under /tmp, hidden from them like the repository).
struct TestHosts {
    struct Host {
        var name: String
        var address: String
        var uri: String { "qemu+tls://\(address)/system" }
    }

    let hosts: [Host]
    /// The test PKI: `client/` is the daemon's identity, `rogue/` and `rogue-client/` are not trusted.
    let pki: String
    /// Addresses that never answer (TCP dropped).
    let dead: [String]
    let control: String
    /// The CE host (`up --ce`): no libvirtd, its own accounts (`vbce-atlas001`, `vbce-atlas002`
    /// in group `vbce-atlas`, `vbce-oper` in `vbce-ops`), sees none of the daemon's files.
    let ce: Host?
    /// The bridge address on this machine, where a daemon's TLS API listens for the CE host.
    let apiAddress: String

    static let stateDirectory = "/var/lib/vbatch-test-hosts"

    /// Reads what `test-hosts.sh up` wrote; fails with what to run when the hosts are not up.
    static func load(atLeast count: Int = 3) throws -> TestHosts {
        guard let text = try? String(contentsOfFile: stateDirectory + "/env", encoding: .utf8) else {
            throw HarnessError("the test hosts are not up: run scripts/test-hosts.sh up 3 --dead 197 (scripts/test.sh does)")
        }
        var values: [String: String] = [:]
        for line in text.split(separator: "\n") {
            guard let eq = line.firstIndex(of: "=") else { continue }
            values[String(line[..<eq])] = String(line[line.index(after: eq)...]).trimmingCharacters(in: CharacterSet(charactersIn: "\""))
        }
        let hosts = (values["VBATCH_TEST_HOSTS"] ?? "").split(separator: " ").compactMap { pair -> Host? in
            let parts = pair.split(separator: "=")
            return parts.count == 2 ? Host(name: String(parts[0]), address: String(parts[1])) : nil
        }
        guard hosts.count >= count, let pki = values["VBATCH_TEST_PKI"], let control = values["VBATCH_TEST_HOSTS_CTL"] else {
            throw HarnessError("need \(count) test hosts, \(stateDirectory)/env lists \(hosts.count): run scripts/test-hosts.sh up \(count)")
        }
        let ce = (values["VBATCH_TEST_CE"] ?? "").split(separator: "=").map(String.init)
        return TestHosts(hosts: hosts, pki: pki, dead: (values["VBATCH_TEST_DEAD"] ?? "").split(separator: " ").map(String.init),
                         control: control, ce: ce.count == 2 ? Host(name: ce[0], address: ce[1]) : nil,
                         apiAddress: values["VBATCH_TEST_API_ADDR"] ?? "10.77.0.1")
    }

    /// A site file: the first `count` hosts as nodes (2 CPUs, 2 GiB each), the site's TLS
    /// identity from the test PKI, `extra` lines in `[site]` and `nodes` tables after them.
    func site(count: Int = 3, placement: String = "spread", extra: String = "", nodes: String = "") -> String {
        var text = """
            [site]
            name = "remote-test"
            operators = ["root"]
            placement = "\(placement)"
            walltime_grace = "10s"
            tls_ca = "\(pki)/client/cacert.pem"
            tls_certificate = "\(pki)/client/clientcert.pem"
            tls_key = "\(pki)/client/clientkey.pem"
            \(extra)

            [vo.cms]
            share = 1
            users = ["cms001"]

            """
        for host in hosts.prefix(count) {
            text += "\n[node.\(host.name)]\nuri = \"\(host.uri)\"\ncpus = \"0-1\"\nmemory = \"2gb\"\n"
        }
        return text + "\n" + nodes
    }

    /// `test-hosts.sh ARGS…`.
    @discardableResult
    func script(_ arguments: [String]) throws -> CommandResult {
        try DaemonHarness.run(control, arguments, environment: [:], stdin: nil)
    }

    /// Runs a shell command inside a host (its namespaces, its private files).
    func exec(_ host: String, _ command: String) throws -> CommandResult {
        try script(["exec", host, "sh", "-c", command])
    }

    /// Names of the domains running on a host.
    func domains(_ host: String) throws -> [String] {
        try exec(host, "virsh -q list --name").stdout.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// Names of the volumes in one of a host's pools.
    func volumes(_ host: String, pool: String) throws -> [String] {
        try exec(host, "virsh -q vol-list \(pool) 2>/dev/null | awk '{print $1}'").stdout.split(separator: "\n").map(String.init)
            .filter { !$0.isEmpty }
    }

    /// Destroys every domain and removes every job volume on every host (and, with
    /// `images`, the image cache too): each test starts from empty nodes.
    func reset(images: Bool = false) throws {
        let pools = images ? "vbatch-jobs vbatch-images" : "vbatch-jobs"
        for host in hosts {
            _ = try exec(host.name, """
                for d in $(virsh -q list --name); do virsh -q destroy "$d" >/dev/null 2>&1; done
                for p in \(pools); do
                  for v in $(virsh -q vol-list "$p" 2>/dev/null | awk '{print $1}'); do virsh -q vol-delete --pool "$p" "$v" >/dev/null; done
                done
                """)
        }
    }

    /// The pid of a host's libvirtd (from its pid file, as seen from this machine).
    func libvirtdPID(_ host: String) throws -> pid_t {
        let path = "\(Self.stateDirectory)/\(host)/run/vbatch-node/libvirtd.pid"
        guard let text = try? String(contentsOfFile: path, encoding: .utf8),
              let pid = pid_t(text.trimmingCharacters(in: .whitespacesAndNewlines)) else {
            throw HarnessError("no libvirtd pid file for \(host) at \(path)")
        }
        return pid
    }

    /// Cuts or restores a host's network link (its veth on the bridge).
    func setLink(_ host: String, up: Bool) throws {
        let r = try DaemonHarness.run("/usr/sbin/ip", ["link", "set", "v\(host)", up ? "up" : "down"], environment: [:], stdin: nil)
        if r.status != 0 { throw HarnessError("ip link set v\(host): \(r.stderr)") }
    }
}

extension DaemonHarness {
    /// A daemon (not started yet) on `site` with a queue `disk` of the catalogue entry
    /// `diskguest`: the test guest's kernel and initrd with a qcow2 disk image of `megabytes`
    /// MiB whose first bytes are the marker `VBATCH-BASE-IMAGE-MARKER`, which a job reads
    /// from /dev/vda (the VM runs from an overlay on it).
    static func withDiskGuest(site: String, megabytes: Int = 1) throws -> DaemonHarness {
        let d = try DaemonHarness(site: site, queues: ["disk.toml": """
            [queue.disk]
            type = "execution"
            environments = ["diskguest"]
            walltime_max = "1h"
            """])
        let raw = d.configDirectory + "/images/disk.raw"
        var bytes = Array("VBATCH-BASE-IMAGE-MARKER\n".utf8)
        bytes += [UInt8](repeating: 0, count: (megabytes << 20) - bytes.count)
        try Data(bytes).write(to: URL(fileURLWithPath: raw))
        let convert = try run("/usr/bin/qemu-img", ["convert", "-f", "raw", "-O", "qcow2", raw, d.configDirectory + "/images/disk.qcow2"],
                              environment: [:], stdin: nil)
        guard convert.status == 0 else { throw HarnessError("qemu-img convert: \(convert.stderr)") }
        try """
            [image.diskguest]
            boot = "kernel"
            kernel = "testguest/out/vmlinuz"
            initrd = "testguest/out/initrd.img"
            cmdline = "console=ttyS0 quiet panic=-1 cryptomgr.notests"
            memory = "256mb"
            disk = "disk.qcow2"
            format = "qcow2"
            """.write(toFile: d.configDirectory + "/images/diskguest.toml", atomically: true, encoding: .utf8)
        return d
    }
}
