import Foundation
import Testing

/// scripts/make-manuals.sh: manual pages that render without a warning, and shell
/// completions that load and complete, made from this build's command definitions.
@Suite("Manual pages and completions", .serialized)
struct ManualsTests {
    /// Runs scripts/make-manuals.sh on this build into `directory`; its `share/man` is a MANPATH.
    /// Returns `directory`.
    static func makeManuals(into directory: String) throws -> String {
        // The binaries are SCRATCH/<triple>/debug: generate-manual is built in the same scratch path.
        let scratch = URL(fileURLWithPath: DaemonHarness.binaries).deletingLastPathComponent().deletingLastPathComponent().path
        let r = try DaemonHarness.run(DaemonHarness.repository + "/scripts/make-manuals.sh",
                                      ["--bin", DaemonHarness.binaries, "--scratch-path", scratch, "--out", directory],
                                      environment: [:], stdin: nil)
        guard r.status == 0 else { throw HarnessError("make-manuals.sh failed (\(r.status)): \(r.stdout)\(r.stderr)") }
        return directory
    }

    /// One run of the script for the process (the systemd units' test reads the pages too).
    static let shared = Result { try makeManuals(into: NSTemporaryDirectory() + "vbatch-manuals-\(getpid())") }

    let out: String

    init() throws { out = try Self.shared.get() }

    @Test(arguments: ["vbatch", "vbatchd", "vbatch-relay"])
    func pageRendersWithoutWarnings(program: String) throws {
        let page = out + "/share/man/man1/\(program).1"
        // -ww: every warning; -z: no output, so what comes back is only diagnostics.
        let groff = try DaemonHarness.run("/usr/bin/groff", ["-mandoc", "-Tutf8", "-ww", "-z", page],
                                          environment: ["LC_ALL": "C.UTF-8"], stdin: nil)
        #expect(groff.status == 0 && groff.stderr.isEmpty && groff.stdout.isEmpty, "\(groff)")
        let man = try DaemonHarness.run("/usr/bin/man", ["--warnings", "-l", page],
                                        environment: ["LC_ALL": "C.UTF-8", "MANWIDTH": "100", "MAN_KEEP_FORMATTING": ""], stdin: nil)
        #expect(man.status == 0 && man.stderr.isEmpty, "\(man.stderr)")
        let text = man.stdout.replacingOccurrences(of: "\u{08}.", with: "", options: .regularExpression)
        #expect(text.contains("NAME") && text.contains("\(program) —"), "\(text.prefix(400))")
        // From the command definitions: options of this build.
        let expected = ["vbatch": ["submit", "config", "--origin"], "vbatchd": ["--log-format", "--check"],
                        "vbatch-relay": ["--server", "--log-format"]][program]!
        for word in expected { #expect(text.contains(word), "\(program)(1) lacks \(word)") }
    }

    @Test func bashCompletionLoadsAndCompletes() throws {
        let completions = out + "/share/bash-completion/completions"
        func complete(_ program: String, _ words: [String]) throws -> [String] {
            let line = words.joined(separator: " ")
            let script = """
                set -e  # the script loads without an error
                source '\(completions)/\(program)'
                COMP_WORDS=(\(words.map { "'\($0)'" }.joined(separator: " "))); COMP_CWORD=\(words.count - 1)
                COMP_LINE='\(line)'; COMP_POINT=\(line.utf8.count)
                set +e  # a completion function's status means nothing to bash (its last compgen may find nothing)
                _\(program) '\(program)' '\(words.last!)' '\(words[words.count - 2])'
                printf '%s\\n' "${COMPREPLY[@]}"
                """
            let r = try DaemonHarness.run("/bin/bash", ["--norc", "-c", script], environment: [:], stdin: nil)
            #expect(r.status == 0 && r.stderr.isEmpty, "\(r.stderr)")
            return r.stdout.split(separator: "\n").map(String.init)
        }
        #expect(try complete("vbatch", ["vbatch", "su"]) == ["submit", "suspend"])
        #expect(try complete("vbatch", ["vbatch", "config", "s"]) == ["show"])
        #expect(try complete("vbatchd", ["vbatchd", "--log-f"]) == ["--log-format"])
        #expect(!FileManager.default.fileExists(atPath: completions + "/vbatch-relay"))
        #expect(FileManager.default.fileExists(atPath: out + "/share/zsh/site-functions/_vbatch"))
        #expect(FileManager.default.fileExists(atPath: out + "/share/fish/vendor_completions.d/vbatch.fish"))
    }
}
