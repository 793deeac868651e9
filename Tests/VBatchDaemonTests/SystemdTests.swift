import Foundation
import Testing
import VBatchClient
import VBatchService

/// systemd integration: the shipped units pass `systemd-analyze verify`, and vbatchd and the
/// relay speak the `Type=notify` protocol on a `NOTIFY_SOCKET` the test listens on.
@Suite("systemd units and notifications", .serialized)
struct SystemdTests {
    /// A datagram socket standing in for systemd's notification socket.
    final class NotifySocket {
        let path: String
        private let fd: Int32

        /// `abstract`: bound in the abstract namespace; `path` is then `@name`.
        init(abstract: Bool = false) throws {
            let name = "vbatch-notify-\(getpid())-\(UUID().uuidString.prefix(8))"
            path = abstract ? "@" + name : NSTemporaryDirectory() + name + ".sock"
            fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw HarnessError("socket: \(errno)") }
            var address = sockaddr_un()
            address.sun_family = sa_family_t(AF_UNIX)
            var bytes = Array(path.utf8)
            if abstract { bytes[0] = 0 }
            withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
            let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
            let bound = withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
            }
            guard bound == 0 else { throw HarnessError("bind \(path): \(errno)") }
        }

        deinit {
            close(fd)
            if !path.hasPrefix("@") { unlink(path) }
        }

        /// The next notification, or nil after `timeout` seconds.
        func receive(timeout: Double) -> String? {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&poller, 1, Int32(timeout * 1000)) == 1 else { return nil }
            var buffer = [UInt8](repeating: 0, count: 4096)
            let n = recv(fd, &buffer, buffer.count, 0)
            return n > 0 ? String(decoding: buffer[..<n], as: UTF8.self) : nil
        }

        /// Notifications until one holds `line` (that one included); nil if none does in time.
        func receive(until line: String, timeout: Double, onEach: (String) -> Void = { _ in }) -> [String]? {
            var seen: [String] = []
            let deadline = Date().addingTimeInterval(timeout)
            while case let left = deadline.timeIntervalSinceNow, left > 0, let message = receive(timeout: left) {
                seen.append(message)
                onEach(message)
                if message.split(separator: "\n").contains(Substring(line)) { return seen }
            }
            return nil
        }
    }

    // MARK: the notifier itself

    @Test(arguments: [false, true])
    func notifierReachesPathAndAbstractSockets(abstract: Bool) throws {
        let socket = try NotifySocket(abstract: abstract)
        let notifier = SystemdNotifier(socketPath: socket.path)
        #expect(notifier.send(["STATUS=two\nlines", "X=1"]))
        #expect(socket.receive(timeout: 5) == "STATUS=two lines\nX=1")
        notifier.reloading()
        let reloading = try #require(socket.receive(timeout: 5)).split(separator: "\n")
        #expect(reloading.first == "RELOADING=1")
        let usec = try #require(reloading.last.flatMap { $0.hasPrefix("MONOTONIC_USEC=") ? UInt64($0.dropFirst(15)) : nil })
        #expect(usec > 0 && usec <= SystemdNotifier.monotonicMicroseconds())
    }

    @Test func watchdogIntervalFromTheEnvironment() {
        #expect(SystemdNotifier(socketPath: "/x", watchdogUSec: "10000000", pid: 7).watchdogInterval == .seconds(5))
        #expect(SystemdNotifier(socketPath: "/x", watchdogUSec: "10000000", watchdogPID: "7", pid: 7).watchdogInterval == .seconds(5))
        // Meant for another process (a parent shell), or not asked for: no pings.
        #expect(SystemdNotifier(socketPath: "/x", watchdogUSec: "10000000", watchdogPID: "8", pid: 7).watchdogInterval == nil)
        #expect(SystemdNotifier(socketPath: "/x", pid: 7).watchdogInterval == nil)
        #expect(SystemdNotifier(socketPath: "/x", watchdogUSec: "0", pid: 7).watchdogInterval == nil)
    }

    // MARK: vbatchd

    @Test func vbatchdNotifiesReadyStatusReloadWatchdogAndStop() throws {
        let notify = try NotifySocket()
        let d = try DaemonHarness()
        try d.start(environment: ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"], waitUntilServing: false)
        let pid = try #require(d.process?.processIdentifier)

        // READY=1 comes once the socket answers: at that moment a request already succeeds.
        var answeredAtReady = false
        let start = try #require(notify.receive(until: "READY=1", timeout: 60) { message in
            if message.contains("READY=1") { answeredAtReady = (try? d.client.whoami()) != nil }
        }, "no READY=1; log:\n\(d.daemonLog)")
        #expect(answeredAtReady)
        let ready = try #require(start.last)
        #expect(ready.contains("STATUS=serving 2 nodes ("), "\(ready)")
        #expect(ready.contains("0 jobs running, 0 waiting"), "\(ready)")
        #expect(!start.dropLast().contains { $0.contains("READY=1") })

        // The watchdog (WATCHDOG_USEC = 1 s): pings every half second.
        let pings = try #require(notify.receive(until: "WATCHDOG=1", timeout: 5))
        #expect(!pings.isEmpty)

        // A reload: RELOADING=1 with MONOTONIC_USEC, then READY=1 once serving again.
        let reload = try d.vbatch(["reload"])
        #expect(reload.status == 0, "\(reload.stderr)")
        var order: [String] = []
        let reloading = try #require(notify.receive(until: "READY=1", timeout: 30) { message in
            for key in ["RELOADING=1", "READY=1"] where message.contains(key) { order.append(key) }
        })
        #expect(order == ["RELOADING=1", "READY=1"])
        let announce = try #require(reloading.first { $0.contains("RELOADING=1") })
        #expect(announce.contains("MONOTONIC_USEC=") && announce.contains("STATUS=reloading the configuration (asked by root)"))
        #expect(try d.client.whoami().user == "root")

        // SIGTERM: STOPPING=1, then the process ends.
        kill(pid, SIGTERM)
        let stopping = try #require(notify.receive(until: "STOPPING=1", timeout: 30), "no STOPPING=1; log:\n\(d.daemonLog)")
        #expect(!stopping.contains { $0.contains("READY=1") })
        d.process?.waitUntilExit()
        #expect(d.process?.terminationStatus == 0)
    }

    @Test func noNotifySocketNoNotificationsAndLogfmtLogs() throws {
        // Without $NOTIFY_SOCKET (started by hand or by the old setup scripts) nothing is sent, and nothing fails.
        let d = try DaemonHarness()
        try d.start(environment: ["WATCHDOG_USEC": "1000000"], arguments: ["--log-level", "info", "--log-format", "logfmt"])
        #expect(try d.client.whoami().user == "root")
        // --log-format logfmt: every line of its log is `time=… level=… label=vbatchd msg=…`.
        let lines = d.daemonLog.split(separator: "\n")
        #expect(lines.contains { $0.contains("msg=\"vbatchd listening on \(d.socket)\"") }, "\(d.daemonLog)")
        for line in lines {
            #expect(line.wholeMatch(of: /time=\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z level=[a-z]+ label=vbatchd msg=.*/) != nil, "\(line)")
        }
    }

    // MARK: the relay

    @Test func relayNotifiesReadyWatchdogAndStop() throws {
        let root = NSTemporaryDirectory() + "vbatch-relay-notify-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        // A throwaway certificate: the relay reads its identity at start and connects to vbatchd only for requests.
        let made = try DaemonHarness.run("/usr/bin/openssl", [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1",
            "-subj", "/CN=ce1", "-keyout", root + "/key.pem", "-out", root + "/cert.pem",
        ], environment: [:], stdin: nil)
        try #require(made.status == 0, "\(made.stderr)")
        let notify = try NotifySocket()
        let socket = root + "/relay.sock"
        let relay = Process()
        relay.executableURL = URL(fileURLWithPath: DaemonHarness.binaries + "/vbatch-relay")
        relay.arguments = ["--server", "127.0.0.1:9", "--ca", root + "/cert.pem", "--certificate", root + "/cert.pem",
                           "--key", root + "/key.pem", "--socket", socket, "--log-format", "json"]
        relay.environment = ProcessInfo.processInfo.environment.merging(
            ["NOTIFY_SOCKET": notify.path, "WATCHDOG_USEC": "1000000"]) { $1 }
        let log = Pipe()
        relay.standardError = log
        try relay.run()
        defer { if relay.isRunning { relay.terminate() } }

        var boundAtReady = false
        let ready = try #require(notify.receive(until: "READY=1", timeout: 30) { message in
            if message.contains("READY=1") { boundAtReady = FileManager.default.fileExists(atPath: socket) }
        })
        #expect(boundAtReady)
        #expect(ready.last?.contains("STATUS=relaying \(socket) to 127.0.0.1:9") == true)
        #expect(notify.receive(until: "WATCHDOG=1", timeout: 5) != nil)
        relay.terminate()
        #expect(notify.receive(until: "STOPPING=1", timeout: 30) != nil)
        relay.waitUntilExit()
        // --log-format json: every line of its log is one JSON object.
        let lines = String(decoding: log.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).split(separator: "\n")
        #expect(!lines.isEmpty)
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?["label"] as? String == "vbatch-relay" && object?["msg"] != nil, "\(line)")
        }
    }

    // MARK: the unit files

    /// `systemd-analyze verify` on the shipped units, with their programs pointed at this build
    /// (the only change) and their `Documentation=man:` pages looked up in manuals made by
    /// scripts/make-manuals.sh from this build.
    @Test func unitsVerify() throws {
        let work = NSTemporaryDirectory() + "vbatch-units-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: work) }
        let manuals = try ManualsTests.shared.get()
        var units: [String] = []
        for name in ["vbatchd.service", "vbatch-relay.service"] {
            let shipped = try String(contentsOfFile: DaemonHarness.repository + "/scripts/systemd/" + name, encoding: .utf8)
            #expect(shipped.contains("ExecStart=/usr/local/bin/") || shipped.contains("exec /usr/local/bin/"))
            let unit = shipped.replacingOccurrences(of: "/usr/local/bin/", with: DaemonHarness.binaries + "/")
            try unit.write(toFile: work + "/" + name, atomically: true, encoding: .utf8)
            units.append(work + "/" + name)
        }
        let verify = try DaemonHarness.run("/usr/bin/systemd-analyze", ["verify"] + units,
                                           environment: ["MANPATH": manuals + "/share/man"], stdin: nil)
        #expect(verify.status == 0, "\(verify.stdout)\(verify.stderr)")
        #expect(verify.stderr.isEmpty, "\(verify.stderr)")
        // The relay's ExecStart runs it through `sh -c 'exec …'` (for an optional --connections): check that command too.
        let relayUnit = try String(contentsOfFile: units[1], encoding: .utf8)
        #expect(relayUnit.contains("exec " + DaemonHarness.binaries + "/vbatch-relay --server"))
        #expect(FileManager.default.isExecutableFile(atPath: DaemonHarness.binaries + "/vbatch-relay"))
    }
}
