import Foundation

/// What the benchmark must undo if it is interrupted (SIGINT, SIGTERM, SIGHUP): the daemons,
/// the private Slurm, the test hosts and the VMs on this machine's libvirtd that it started.
/// Each registers how to stop itself while it lives and withdraws that once stopped; on a
/// signal the registered stops run, newest first, and the benchmark exits with 128 + the
/// signal's number. Without this, `kill` of the benchmark alone would leave them running.
enum Interruption {
    /// A registered stop, withdrawn with `withdraw()` once the normal path has stopped it.
    struct Registration {
        fileprivate let id: Int
        func withdraw() { Interruption.withdraw(id) }
    }

    private static let lock = NSLock()
    // Guarded by `lock`. The stops capture the benchmark's own (non-Sendable) controllers; they
    // run either on the normal path or, after a signal, on the signal thread while the main
    // path is abandoned.
    nonisolated(unsafe) private static var stops: [(id: Int, label: String, stop: () -> Void)] = []
    nonisolated(unsafe) private static var nextID = 0

    /// Registers `stop` (described by `label` in the message printed when it runs).
    static func register(_ label: String, _ stop: @escaping () -> Void) -> Registration {
        lock.lock()
        defer { lock.unlock() }
        nextID += 1
        stops.append((nextID, label, stop))
        return Registration(id: nextID)
    }

    private static func withdraw(_ id: Int) {
        lock.lock()
        stops.removeAll { $0.id == id }
        lock.unlock()
    }

    /// Catches SIGINT, SIGTERM and SIGHUP from now on. Called once, at start.
    ///
    /// A plain handler writes the signal's number to a pipe and a thread reads it and runs the
    /// stops. The signals are neither ignored nor blocked, since children inherit both across
    /// exec: a handler is reset to the default in them, so the programs the benchmark runs
    /// (its `/bin/sh` loops too) still stop on Ctrl-C.
    static func install() {
        var fds: [Int32] = [-1, -1]
        guard pipe(&fds) == 0 else { return }
        _ = fcntl(fds[0], F_SETFD, FD_CLOEXEC)
        _ = fcntl(fds[1], F_SETFD, FD_CLOEXEC)
        signalPipe = fds[1]
        let reader = fds[0]
        Thread.detachNewThread {
            var number: UInt8 = 0
            var got = read(reader, &number, 1)
            while got < 0 && errno == EINTR { got = read(reader, &number, 1) }
            if got == 1 { stopEverything(signal: Int32(number)) }
        }
        for number in [SIGINT, SIGTERM, SIGHUP] {
            var action = sigaction()
            action.__sigaction_handler.sa_handler = { number in
                var byte = UInt8(truncatingIfNeeded: number)
                _ = write(signalPipe, &byte, 1)
            }
            sigemptyset(&action.sa_mask)
            sigaction(number, &action, nil)
        }
    }

    private static func stopEverything(signal number: Int32) {
        lock.lock()
        let pending = stops.reversed()
        stops.removeAll()
        lock.unlock()
        FileHandle.standardError.write(Data("vbatch-bench: interrupted (signal \(number)); stopping what it started\n".utf8))
        for entry in pending {
            FileHandle.standardError.write(Data("vbatch-bench: stopping \(entry.label)\n".utf8))
            entry.stop()
        }
        exit(128 + number)
    }
}

/// The pipe's write end, for the signal handler (which can capture nothing).
nonisolated(unsafe) private var signalPipe: Int32 = -1
