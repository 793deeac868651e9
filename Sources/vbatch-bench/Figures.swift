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
/// short-lived commands such as `vbatch status`.
func spawnAndWait(_ path: String, _ arguments: [String], environment: [String: String]) -> Int32 {
    var actions = posix_spawn_file_actions_t()
    posix_spawn_file_actions_init(&actions)
    defer { posix_spawn_file_actions_destroy(&actions) }
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0)
    let argv = ([path] + arguments).map { strdup($0) } + [nil]
    let envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
    defer {
        argv.forEach { free($0) }
        envp.forEach { free($0) }
    }
    var pid: pid_t = 0
    guard posix_spawn(&pid, path, &actions, nil, argv, envp) == 0 else { return -1 }
    var status: Int32 = 0
    waitpid(pid, &status, 0)
    return (status >> 8) & 0xFF
}
