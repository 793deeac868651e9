import Foundation
import Testing

/// R6: the fuzz corpora in Tests/fuzz, run through `vbatch-fuzz` without the fuzzer (every
/// seed and every input that once crashed a parser, once each), and, from the test command
/// only, a short run of scripts/fuzz.sh.
@Suite("Fuzz corpora", .serialized)
struct FuzzCorpusTests {
    static let targets = ["config", "http", "ustar", "swf", "pbs", "recipe"]
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent()

    /// `vbatch-fuzz` next to this test bundle, else in the package's `.build/debug`.
    static let binary: String? = {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
            for _ in 0..<3 {
                candidates.append(dir.appendingPathComponent("vbatch-fuzz").path)
                dir = dir.deletingLastPathComponent()
            }
        }
        candidates.append(root.appendingPathComponent(".build/debug/vbatch-fuzz").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    static func run(_ executable: String, _ arguments: [String], environment: [String: String] = [:])
        throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        process.currentDirectoryURL = root
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe()
        process.standardOutput = out
        process.standardError = out
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    @Test("every corpus input runs through its target without a crash", arguments: targets)
    func corpus(_ target: String) throws {
        let binary = try #require(Self.binary, "vbatch-fuzz not built (swift build --build-tests builds it)")
        let dir = Self.root.appendingPathComponent("Tests/fuzz/\(target)").path
        let files = try FileManager.default.contentsOfDirectory(atPath: dir).filter { !$0.hasPrefix(".") }
        #expect(!files.isEmpty, "Tests/fuzz/\(target) holds seeds")
        let r = try Self.run(binary, [target, dir])
        #expect(r.status == 0, "vbatch-fuzz \(target) stopped: \(r.output.suffix(2000))")
        #expect(r.output.contains("\(target): ran \(files.count) inputs"), "\(r.output.suffix(500))")
    }

    @Test("the corpora stay small")
    func corporaSize() throws {
        var total = 0
        let base = Self.root.appendingPathComponent("Tests/fuzz").path
        let walker = try #require(FileManager.default.enumerator(atPath: base))
        for case let path as String in walker {
            let attributes = try FileManager.default.attributesOfItem(atPath: base + "/" + path)
            if attributes[.type] as? FileAttributeType == .typeRegular { total += (attributes[.size] as? Int) ?? 0 }
        }
        #expect(total < 1 << 20, "Tests/fuzz holds \(total) bytes")
    }

    /// scripts/fuzz.sh for 10 s a target (its instrumented build made beforehand by
    /// scripts/test.sh): runs only from the test command, which sets VBATCH_TEST_FUZZ=1.
    @Test("a short fuzzing run of every target finds no crash",
          .enabled(if: ProcessInfo.processInfo.environment["VBATCH_TEST_FUZZ"] == "1"), .timeLimit(.minutes(10)))
    func shortRun() throws {
        let r = try Self.run("/bin/bash", [Self.root.appendingPathComponent("scripts/fuzz.sh").path, "--seconds", "10"])
        #expect(r.status == 0, "\(r.output.suffix(3000))")
        for target in Self.targets {
            let line = r.output.split(separator: "\n").first { $0.hasPrefix("FUZZ target=\(target) ") }
            let fields = Dictionary((line ?? "").split(separator: " ").dropFirst().compactMap { field -> (String, String)? in
                let pair = field.split(separator: "=", maxSplits: 1)
                return pair.count == 2 ? (String(pair[0]), String(pair[1])) : nil
            }) { $1 }
            #expect(fields["crashes"] == "0", "\(target): \(line ?? "no summary line")")
            #expect((Int(fields["execs"] ?? "") ?? 0) > 100, "\(target) ran: \(line ?? "no summary line")")
        }
    }
}
