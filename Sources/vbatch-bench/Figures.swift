import Foundation

/// One figure of DESIGN.md's targets table.
struct Figure {
    var key: String
    var value: Double
    var unit: String
    var target: Double
    /// true when smaller is better (times, memory).
    var lowerIsBetter: Bool
    var note: String = ""
    /// Further numbers printed inside the figure's JSON object (e.g. P4's two medians).
    var extra: [(String, Double)] = []
    /// Further strings printed inside the figure's JSON object (e.g. which trace P7 replayed).
    var extraText: [(String, String)] = []

    var met: Bool { lowerIsBetter ? value <= target : value >= target }
}

enum Stats {
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

/// Monotonic seconds.
func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = monotonic()
    try body()
    return monotonic() - start
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("vbatch-bench: \(message)\n".utf8))
}

/// Runs a program with posix_spawn (stdout to /dev/null) and waits; returns its exit status.
/// Foundation's `Process` adds milliseconds of its own, which would swamp the figures of
/// short-lived commands such as `vbatch status`. `quietErrors` sends stderr to /dev/null too.
func spawnAndWait(_ path: String, _ arguments: [String], environment: [String: String], quietErrors: Bool = false) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    if quietErrors { posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0) }
    guard let pid = spawn(path, arguments, environment, &actions) else { return -1 }
    return waitForExit(pid)
}

/// Runs a program with posix_spawn and returns its exit status and standard output. For
/// short commands while long-running children (started with `Process`) live: Foundation's
/// `Process` can then wait for the wrong child and never return.
func spawnCapturing(_ path: String, _ arguments: [String], environment: [String: String]) throws -> (status: Int32, output: String) {
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw BenchError("pipe failed") }
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_adddup2(&actions, fds[1], 1)
    posix_spawn_file_actions_addclose(&actions, fds[0])
    posix_spawn_file_actions_addclose(&actions, fds[1])
    let pid = spawn(path, arguments, environment, &actions)
    close(fds[1])
    defer { close(fds[0]) }
    guard let pid else { throw BenchError("cannot run \(path)") }
    var output: [UInt8] = []
    var buffer = [UInt8](repeating: 0, count: 65_536)
    while true {
        let n = read(fds[0], &buffer, buffer.count)
        if n <= 0 { break }
        output += buffer[0..<n]
    }
    return (waitForExit(pid), String(decoding: output, as: UTF8.self))
}

/// posix_spawn of `path` with exactly `environment`; nil if it could not start.
private func spawn(_ path: String, _ arguments: [String], _ environment: [String: String],
                   _ actions: inout posix_spawn_file_actions_t) -> pid_t? {
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    return posix_spawn(&pid, path, &actions, nil, argv, envp) == 0 ? pid : nil
}

/// The exit status of child `pid`, once it has exited.
private func waitForExit(_ pid: pid_t) -> Int32 {
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return (status >> 8) & 0xFF
}
