#if canImport(Glibc)
import Glibc
#endif

/// systemd's readiness protocol (`Type=notify`, sd_notify(3)) without libsystemd: each
/// notification is one datagram of `KEY=VALUE` lines to the socket named by
/// `$NOTIFY_SOCKET` (a path, or `@name` for an abstract socket).
public struct SystemdNotifier: Sendable {
    /// The socket address as `$NOTIFY_SOCKET` gave it.
    public let socketPath: String
    /// How often to send `WATCHDOG=1`: half of `$WATCHDOG_USEC`, when systemd watches this
    /// process (`$WATCHDOG_PID` unset or our pid); nil otherwise.
    public let watchdogInterval: Duration?

    /// The notifier systemd asked for through the environment, or nil when not started
    /// with `Type=notify` (no `$NOTIFY_SOCKET`).
    public static func fromEnvironment() -> SystemdNotifier? {
        func variable(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        guard let socket = variable("NOTIFY_SOCKET"), socket.hasPrefix("/") || socket.hasPrefix("@") else { return nil }
        return SystemdNotifier(socketPath: socket, watchdogUSec: variable("WATCHDOG_USEC"),
                               watchdogPID: variable("WATCHDOG_PID"), pid: Int(getpid()))
    }

    /// `watchdogUSec` and `watchdogPID` are the environment's `WATCHDOG_USEC` and `WATCHDOG_PID`.
    public init(socketPath: String, watchdogUSec: String? = nil, watchdogPID: String? = nil, pid: Int = Int(getpid())) {
        self.socketPath = socketPath
        if let text = watchdogUSec, let usec = Int(text), usec > 0, watchdogPID.map({ Int($0) == pid }) ?? true {
            watchdogInterval = .microseconds(usec / 2)
        } else {
            watchdogInterval = nil
        }
    }

    /// `READY=1`: startup (or a reload) is complete; with a `STATUS=` line if given.
    public func ready(status: String? = nil) { send(["READY=1"] + (status.map { ["STATUS=" + $0] } ?? [])) }

    /// `RELOADING=1` with `MONOTONIC_USEC=` (systemd wants both); `READY=1` follows once done.
    public func reloading(status: String? = nil) {
        send(["RELOADING=1", "MONOTONIC_USEC=\(Self.monotonicMicroseconds())"] + (status.map { ["STATUS=" + $0] } ?? []))
    }

    /// `STOPPING=1`: shutting down.
    public func stopping(status: String? = nil) { send(["STOPPING=1"] + (status.map { ["STATUS=" + $0] } ?? [])) }

    /// `STATUS=…`: one line for `systemctl status`.
    public func status(_ text: String) { send(["STATUS=" + text]) }

    /// `WATCHDOG=1`: still alive.
    public func watchdog() { send(["WATCHDOG=1"]) }

    /// Sends one notification (lines joined by newlines). Errors are ignored, as sd_notify's
    /// callers do: systemd not listening must not stop the service.
    /// - Returns: whether the datagram was sent.
    @discardableResult
    public func send(_ lines: [String]) -> Bool {
        let message = Array(lines.map { $0.replacingNewlines() }.joined(separator: "\n").utf8)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        var path = Array(socketPath.utf8)
        if path.first == UInt8(ascii: "@") { path[0] = 0 }  // abstract namespace
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !path.isEmpty, path.count < capacity else { return false }
        withUnsafeMutableBytes(of: &address.sun_path) { buffer in
            buffer.copyBytes(from: path)
        }
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + path.count + (path[0] == 0 ? 0 : 1))
        let fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        let sent = message.withUnsafeBytes { bytes in
            withUnsafePointer(to: &address) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, bytes.baseAddress, bytes.count, Int32(MSG_NOSIGNAL), $0, length)
                }
            }
        }
        return sent == message.count
    }

    /// Sends `WATCHDOG=1` every ``watchdogInterval`` for as long as `alive` returns true in
    /// time: a probe that hangs (a wedged actor) stops the pings, and systemd restarts the
    /// service. Returns at once when systemd does not watch this process, else when cancelled.
    public func runWatchdog(alive: @Sendable () async -> Bool) async {
        guard let interval = watchdogInterval else { return }
        while !Task.isCancelled {
            if await alive() { watchdog() }
            try? await Task.sleep(for: interval)
        }
    }

    /// `CLOCK_MONOTONIC` in microseconds, as `MONOTONIC_USEC=` wants it.
    public static func monotonicMicroseconds() -> UInt64 {
        var spec = timespec()
        clock_gettime(CLOCK_MONOTONIC, &spec)
        return UInt64(spec.tv_sec) * 1_000_000 + UInt64(spec.tv_nsec) / 1_000
    }
}

private extension String {
    /// A value never spans lines: a newline would start another `KEY=VALUE` assignment.
    func replacingNewlines() -> String {
        String(String.UnicodeScalarView(unicodeScalars.map { $0 == "\n" || $0 == "\r" ? " " : $0 }))
    }
}
