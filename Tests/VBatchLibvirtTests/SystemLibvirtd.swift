import Foundation
import Testing

/// Tests against the machine's libvirtd (`qemu:///system`). Serialized: some of them stop,
/// freeze or restart libvirtd, which every other test of this kind depends on.
@Suite("qemu:///system", .serialized, .timeLimit(.minutes(2)))
struct SystemLibvirtd {}

/// Controls the machine's libvirtd for tests.
enum Libvirtd {
    static let binary = "/usr/sbin/libvirtd"

    /// PID of the running (not zombie) libvirtd of this machine, if any: test worker nodes
    /// (scripts/test-hosts.sh) run libvirtds of their own in other network namespaces.
    static func pid() -> pid_t? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        let ownNetwork = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/ns/net")
        for entry in entries {
            guard let pid = pid_t(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(entry)/stat", encoding: .utf8),
                  let open = stat.firstIndex(of: "("), let close = stat.lastIndex(of: ")") else { continue }
            let name = stat[stat.index(after: open)..<close]
            let state = stat[stat.index(after: close)...].split(separator: " ").first
            if name == "libvirtd" && state != "Z"
                && (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/\(entry)/ns/net")) == ownNetwork {
                return pid
            }
        }
        return nil
    }

    /// Starts `libvirtd -d` unless it runs, and waits until its socket exists.
    static func ensureRunning() {
        if let pid = pid() {
            kill(pid, SIGCONT)
            return
        }
        // Not Foundation's Process: its waitUntilExit waits for a descriptor the daemonised
        // libvirtd inherits and keeps open, so it never returns.
        if let failure = spawnAndWait(binary, ["-d"]) {
            Issue.record("cannot start libvirtd: \(failure)")
        }
        for _ in 0..<100 where pid() == nil || !FileManager.default.fileExists(atPath: "/var/run/libvirt/libvirt-sock") {
            usleep(100_000)
        }
    }

    /// Sends SIGTERM and waits up to 30 s for libvirtd to exit.
    static func stop() throws {
        guard let pid = pid() else { return }
        kill(pid, SIGTERM)
        for _ in 0..<300 {
            if self.pid() == nil { return }
            usleep(100_000)
        }
        throw LibvirtdControlError(message: "libvirtd \(pid) did not exit within 30 s")
    }
}

/// Runs `path` with `arguments` (no other descriptors than stdio inherited) and waits for it;
/// nil on exit status 0, else what went wrong.
func spawnAndWait(_ path: String, _ arguments: [String]) -> String? {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    let open = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")) ?? []
    for fd in open.compactMap({ Int32($0) }) where fd > 2 && fcntl(fd, F_GETFD) >= 0 {
        posix_spawn_file_actions_addclose(&actions, fd)
    }
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    defer { argv.forEach { free($0) } }
    // Test threads block most signals and a child inherits that mask: a libvirtd started with
    // SIGTERM blocked would never stop again. Start it with nothing blocked.
    var attributes = posix_spawnattr_t()
    posix_spawnattr_init(&attributes)
    defer { posix_spawnattr_destroy(&attributes) }
    var noSignals = sigset_t()
    sigemptyset(&noSignals)
    posix_spawnattr_setsigmask(&attributes, &noSignals)
    posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK))
    var pid: pid_t = 0
    let spawned = posix_spawn(&pid, path, &actions, &attributes, argv, environ)
    guard spawned == 0 else { return "posix_spawn: \(String(cString: strerror(spawned)))" }
    var status: Int32 = 0
    while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
    return status == 0 ? nil : "exit status \(status)"
}

struct LibvirtdControlError: Error, CustomStringConvertible {
    let message: String
    var description: String { message }
}
