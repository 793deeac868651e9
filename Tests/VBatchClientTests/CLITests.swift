import Foundation
import Testing

/// Runs the built `vbatch` binary. Skipped when it has not been built.
@Suite("vbatch command line", .enabled(if: CLI.binary != nil, "vbatch binary not built"))
struct CLITests {
    @Test func deadSocketIsOneLineAndNonZero() throws {
        let socket = "/tmp/vbatch-test-dead-\(getpid()).sock"
        for arguments in [["whoami", "--socket", socket], ["status", "--all", "--json", "--socket", socket]] {
            let r = try CLI.run(arguments)
            #expect(r.status == 1)
            #expect(r.stdout.isEmpty)
            #expect(r.stderr == "vbatch: error: cannot connect to vbatchd at \(socket): No such file or directory "
                                + "(is vbatchd running? set --socket or VBATCH_SOCKET)\n")
        }
    }

    @Test func socketFromEnvironment() throws {
        let r = try CLI.run(["queues"], environment: ["VBATCH_SOCKET": "/tmp/vbatch-test-env-\(getpid()).sock"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("vbatch: error: cannot connect to vbatchd at /tmp/vbatch-test-env-"))
    }

    @Test func usageErrorsAreNonZero() throws {
        let r = try CLI.run(["submit", "/dev/null", "-q", "grid", "-l", "walltime=2x"])
        #expect(r.status != 0)
        #expect(r.stderr.contains("-l: bad walltime '2x'"))
        #expect(try CLI.run(["cancel", "abc"]).status != 0)
        #expect(try CLI.run(["submit", "/nonexistent/job.sh", "-q", "grid"]).status != 0)
    }

    @Test func submitAndStatusAgainstACannedServer() throws {
        let job = #"{"id":42,"name":"job.sh","owner":"alice","submitQueue":"grid","queue":"grid-short","environment":"el9","cores":2,"memoryMB":2048,"walltime":7200,"state":"queued","submitTime":0,"reason":"waiting\nfor slots"}"#
        let server = try CannedServer(responses: [
            Canned.fixed("201 Created", #"{"ids":[7,8],"queue":"grid-short"}"#),
            Canned.chunked("200 OK", "[\(job)]", chunks: 4),
        ])
        let submit = try CLI.run(["submit", "-", "-q", "grid", "-l", "walltime=2h,cores=2", "--count", "2", "--socket", server.path],
                                 stdin: "#!/bin/sh\necho hi\n")
        #expect(submit.stderr == "")
        #expect(submit.status == 0)
        #expect(submit.stdout == "7\n8\n")
        let status = try CLI.run(["status", "--socket", server.path])
        #expect(status.status == 0)
        let lines = status.stdout.split(separator: "\n")
        #expect(lines.count == 2)
        #expect(lines[0].hasPrefix("ID  NAME"))
        #expect(lines[1].contains("42  job.sh  alice  grid-short  el9  queued"))
        #expect(lines[1].hasSuffix("waiting?for slots"))
        let body = String(decoding: server.requests()[0], as: UTF8.self)
        #expect(body.contains(#""name":"STDIN""#))
        #expect(body.contains(#""count":2"#))
    }

    @Test func cancelReportsEachFailureOnItsOwnLine() throws {
        let job = #"{"id":42,"name":"j","owner":"alice","submitQueue":"grid","queue":"grid","environment":"el9","cores":1,"memoryMB":512,"walltime":60,"state":"cancelled","submitTime":0}"#
        let server = try CannedServer(responses: [
            Canned.fixed("200 OK", job), Canned.fixed("404 Not Found", #"{"error":"no job 43"}"#),
        ])
        let r = try CLI.run(["cancel", "42", "43.ce.example.org", "--socket", server.path])
        #expect(r.status == 1)
        #expect(r.stdout == "42 cancelled\n")
        #expect(r.stderr == "vbatch: error: job 43: no job 43\n")
        let lines = server.requests().map { String(String(decoding: $0, as: UTF8.self).split(separator: "\r\n")[0]) }
        #expect(lines == ["DELETE /v1/jobs/42 HTTP/1.1", "DELETE /v1/jobs/43 HTTP/1.1"])
    }
}

enum CLI {
    /// `vbatch` next to this test bundle, else in the package's `.build/debug`.
    static let binary: String? = {
        var candidates: [String] = []
        if let exe = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var dir = URL(fileURLWithPath: exe).deletingLastPathComponent()
            // Swift Testing may run from inside PackageTests.xctest/… or next to it.
            for _ in 0..<3 {
                candidates.append(dir.appendingPathComponent("vbatch").path)
                dir = dir.deletingLastPathComponent()
            }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        candidates.append(root.appendingPathComponent(".build/debug/vbatch").path)
        return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
    }()

    struct Result {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    static func run(_ arguments: [String], environment: [String: String] = [:], stdin: String? = nil) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: binary!)
        process.arguments = arguments
        var env = ProcessInfo.processInfo.environment
        env["VBATCH_SOCKET"] = nil
        env.merge(environment) { $1 }
        process.environment = env
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        try input.fileHandleForWriting.close()
        let o = out.fileHandleForReading.readDataToEndOfFile()
        let e = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return Result(status: process.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                      stderr: String(decoding: e, as: UTF8.self))
    }
}
