import Foundation
import Testing
import VBatchAPI

/// `vbatch submit`, `vbatch status` and `vbatch --version` read their plain command lines
/// without ArgumentParser (Sources/vbatch/Support/PlainArguments.swift). The debug binary these
/// tests run parses every plain command line with ArgumentParser as well and traps if the two
/// readings differ, so each case here checks both the request sent and that agreement.
@Suite("plain per-job command lines", .enabled(if: CLI.binary != nil, "vbatch binary not built"))
struct PlainCommandLineTests {
    static let script: String = {
        let path = NSTemporaryDirectory() + "vbatch-plain-\(getpid()).sh"
        try? "#!/bin/sh\necho plain\n".write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }()

    /// Runs `vbatch submit ARGUMENTS --socket S` against a server that accepts it; returns the request it sent.
    func submitted(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> SubmitRequest {
        let server = try CannedServer(responses: [Canned.fixed("201 Created", #"{"ids":[7],"queue":"grid"}"#)])
        let r = try CLI.run(["submit", "--socket", server.path] + arguments, environment: environment, stdin: stdin)
        #expect(r.stderr == "", "\(arguments)")
        #expect(r.status == 0, "\(arguments)")
        #expect(r.stdout == "7\n", "\(arguments)")
        let request = try #require(server.requests().first)
        let end = try #require((0..<max(0, request.count - 3)).first { Array(request[$0..<$0 + 4]) == Array("\r\n\r\n".utf8) })
        return try JSONDecoder().decode(SubmitRequest.self, from: Data(request[(end + 4)...]))
    }

    @Test func everyPlainFormReadsAsArgumentParserReadsIt() throws {
        let s = Self.script
        let name = URL(fileURLWithPath: s).lastPathComponent
        var r = try submitted([s, "-q", "grid"])
        #expect(r == SubmitRequest(name: name, queue: "grid", script: "#!/bin/sh\necho plain\n"))

        r = try submitted(["-q", "grid", s, "-l", "walltime=2h", "-l", "cores=2,mem=2gb", "-N", "analysis", "--hold"])
        #expect(r.queue == "grid" && r.walltime == 7200 && r.cores == 2 && r.memoryMB == 2048 && r.name == "analysis" && r.held)

        r = try submitted(["--queue=grid", "--resources=walltime=90m", "--name=x", "--count", "3", "--env", "el9", s])
        #expect(r.queue == "grid" && r.walltime == 5400 && r.name == "x" && r.count == 3 && r.environment == "el9")

        r = try submitted([s, "-q", "grid", "-v", "A=1", "--variable=B=two=2", "-v", "HOME", "--", "--not-an-option", "-q", ""],
                          environment: ["HOME": "/home/alice"])
        #expect(r.variables == ["A": "1", "B": "two=2", "HOME": "/home/alice"])
        #expect(r.arguments == ["--not-an-option", "-q", ""])

        // `-` reads the script from standard input; `--name=` may carry a value that starts with `-`.
        r = try submitted(["-", "-q", "grid", "--name=-dash"], stdin: "#!/bin/sh\necho stdin\n")
        #expect(r.script == "#!/bin/sh\necho stdin\n" && r.name == "-dash")
    }

    /// Command lines the plain reader leaves to ArgumentParser keep ArgumentParser's errors.
    @Test func anythingElseGoesToArgumentParser() throws {
        let s = Self.script
        let dead = "/tmp/vbatch-plain-dead-\(getpid()).sock"
        let cases: [([String], String)] = [
            (["submit", s, "-q", "-grid"], "Missing value for '-q <QUEUE>'"),
            (["submit", s, "-q", "grid", "--queue", "other", "--colour"], "Unknown option '--colour'"),
            (["submit", s, "extra", "-q", "grid"], "Unexpected argument 'extra'"),
            (["submit", s, "-q", "grid", "--count", "two"], "The value 'two' is invalid for '--count <N>'"),
            (["submit", s, "-q", "grid", "--count", "0"], "--count must be from 1 to"),
            (["submit", s, "-q", "", "--socket", dead], "-q QUEUE must not be empty"),
            (["status", "--all", "--all"], "cannot connect to vbatchd"),
            (["status", "--everything"], "Unknown option '--everything'"),
        ]
        for (arguments, message) in cases {
            let r = try CLI.run(arguments + (arguments.contains("--socket") ? [] : ["--socket", dead]))
            #expect(r.status != 0 && r.status < 128, "\(arguments): \(r.status)")
            #expect(r.stderr.hasPrefix("vbatch: error: "), "\(arguments): \(r.stderr)")
            #expect(!r.stderr.contains("Fatal error"), "\(arguments): \(r.stderr)")
            #expect(r.stderr.contains(message), "\(arguments): \(r.stderr)")
        }
        #expect(try CLI.run(["submit", "--help"]).stdout.contains("USAGE: vbatch submit"))
    }

    @Test func statusAndVersion() throws {
        let server = try CannedServer(responses: [Canned.fixed("200 OK", "[]"), Canned.fixed("200 OK", "[]")])
        let json = try CLI.run(["status", "--json", "--all", "--socket", server.path])
        #expect(json.status == 0 && json.stdout == "[]\n" && json.stderr == "")
        let table = try CLI.run(["status", "--socket=\(server.path)"])
        #expect(table.status == 0 && table.stdout.hasPrefix("ID") && table.stderr == "")
        let paths = server.requests().map { String(decoding: $0.prefix(while: { $0 != 13 }), as: UTF8.self) }
        #expect(paths == ["GET /v1/jobs?all=1 HTTP/1.1", "GET /v1/jobs HTTP/1.1"])
        let version = try CLI.run(["--version"])
        #expect(version.status == 0 && version.stdout == "0.1.0\n")
    }
}
