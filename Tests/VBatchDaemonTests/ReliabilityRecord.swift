import Foundation

/// One run of a reliability fault test (DESIGN.md's R1–R7), as one JSON line.
///
/// A suite fills one in and calls ``append()``; when `$VBATCH_RELIABILITY_OUT` names a file
/// (as `scripts/reliability.sh` sets it), the line is appended there, otherwise nothing is
/// written. For example:
///
/// ```json
/// {"id":"R4","subject":"state directory full","rounds":10,"result":"pass","durationSeconds":212.4,"checks":{"acknowledged":431,"lost":0}}
/// ```
struct ReliabilityRecord: Codable, Sendable {
    /// The fault's id in DESIGN.md: `R1`, `R4` …
    var id: String
    /// Which case of the fault, in words: "simulated nodes, killed at place", "node fenced" …
    var subject: String = ""
    /// How many times the fault was injected.
    var rounds: Int
    /// What was counted, by name: `acknowledged`, `lost`, `duplicated`, `integrity_ok` …
    var checks: [String: Int] = [:]
    /// `pass` or `fail`: whether every check held.
    var result: String = "fail"
    var durationSeconds: Double = 0
    /// When the run ended (ISO 8601, UTC).
    var date: String = ""

    init(id: String, subject: String = "", rounds: Int, checks: [String: Int] = [:], passed: Bool? = nil,
         durationSeconds: Double = 0) {
        self.id = id
        self.subject = subject
        self.rounds = rounds
        self.checks = checks
        self.result = passed.map { $0 ? "pass" : "fail" } ?? "fail"
        self.durationSeconds = durationSeconds
    }

    /// The number of rounds to run: `$variable` if set to a positive number, else `default`.
    static func rounds(_ variable: String, default rounds: Int) -> Int {
        ProcessInfo.processInfo.environment[variable].flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil } ?? rounds
    }

    /// Appends this record as one line to `$VBATCH_RELIABILITY_OUT`, if that is set.
    func append() throws {
        guard let path = ProcessInfo.processInfo.environment["VBATCH_RELIABILITY_OUT"], !path.isEmpty else { return }
        var record = self
        if record.date.isEmpty { record.date = ISO8601DateFormatter().string(from: Date()) }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        let line = try encoder.encode(record) + Data("\n".utf8)
        if !FileManager.default.fileExists(atPath: path) { _ = FileManager.default.createFile(atPath: path, contents: nil) }
        guard let file = FileHandle(forWritingAtPath: path) else { throw HarnessError("cannot write \(path)") }
        defer { try? file.close() }
        try file.seekToEnd()
        try file.write(contentsOf: line)
    }
}
