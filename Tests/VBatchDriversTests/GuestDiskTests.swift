import Foundation
import Testing
@testable import VBatchDrivers

/// The host side of guest contract v1, checked against GNU tar and /bin/sh.
@Suite("Job and output disks")
struct GuestDiskTests {
    let dir: String = {
        let d = NSTemporaryDirectory() + "vbatch-disk-\(UUID().uuidString.prefix(8))"
        try! FileManager.default.createDirectory(atPath: d, withIntermediateDirectories: true)
        return d
    }()

    func sh(_ command: String, in directory: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/bin/sh")
        p.arguments = ["-c", command]
        p.currentDirectoryURL = URL(fileURLWithPath: directory)
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        #expect(p.terminationStatus == 0, "\(command)")
        return String(decoding: data, as: UTF8.self)
    }

    @Test func jobDiskCarriesHostileValuesAsData() throws {
        let hostile = "it's <b>&\"quoted\"</b>\n$(touch /tmp/pwned) `id` \\ ;|"
        let payload = JobPayload(name: "demo", script: "#!/bin/sh\necho hi\n", arguments: ["plain", hostile, ""],
                                 variables: ["GREETING": hostile, "EMPTY": ""])
        try JobDisk.write(to: dir + "/job.img", jobID: 42, payload: payload, cores: 2, memoryMB: 512, walltime: 60)
        let size = try FileManager.default.attributesOfItem(atPath: dir + "/job.img")[.size] as! Int
        #expect(size == 1 << 20)
        _ = try sh("mkdir x && tar -xf job.img -C x", in: dir)
        #expect(try String(contentsOfFile: dir + "/x/run", encoding: .utf8) == payload.script)
        #expect(try String(contentsOfFile: dir + "/x/meta", encoding: .utf8).contains("job_id=42\n"))
        let mode = try FileManager.default.attributesOfItem(atPath: dir + "/x/run")[.posixPermissions] as! Int
        #expect(mode == 0o755)
        // Sourced exactly as the guest agent does: values come back byte for byte.
        let env = try sh(". ./x/env.sh; printf '%s' \"$GREETING\"", in: dir)
        #expect(env == hostile)
        let args = try sh(". ./x/args.sh; printf '%s\\0' \"$@\"", in: dir)
        #expect(args.split(separator: "\0", omittingEmptySubsequences: false).dropLast().map(String.init) == ["plain", hostile, ""])
        #expect(!FileManager.default.fileExists(atPath: "/tmp/pwned"))
    }

    @Test func outputDiskFromGNUTarIsCollected() throws {
        _ = try sh("""
            mkdir -p g/output/sub && printf 'out\\n' > g/stdout && printf 'err\\n' > g/stderr && echo 3 > g/exit_code \
            && echo data > g/output/sub/result.txt && echo junk > g/other \
            && truncate -s 4M out.img && tar --format=ustar -C g -cf - stdout stderr exit_code output other | dd of=out.img conv=notrunc 2>/dev/null
            """, in: dir)
        try FileManager.default.createDirectory(atPath: dir + "/spool", withIntermediateDirectories: true)
        let result = try OutputDisk.collect(from: dir + "/out.img", into: dir + "/spool")
        #expect(result.exitCode == 3)
        #expect(Set(result.files) == ["stdout", "stderr", "exit_code", "output/sub/result.txt"])
        #expect(try String(contentsOfFile: dir + "/spool/output/sub/result.txt", encoding: .utf8) == "data\n")
        #expect(!FileManager.default.fileExists(atPath: dir + "/spool/other"))
    }

    /// vbatchd killed while unpacking, then restarted: the second collection replaces the
    /// first whole (before, its exclusive creates failed and the job looked lost).
    @Test func collectingAgainReplacesAnEarlierCollection() throws {
        _ = try sh("""
            mkdir -p g/output && printf 'out\\n' > g/stdout && echo 0 > g/exit_code && echo new > g/output/result.txt \\
            && truncate -s 4M out.img && tar --format=ustar -C g -cf - stdout exit_code output | dd of=out.img conv=notrunc 2>/dev/null
            """, in: dir)
        let spool = dir + "/spool"
        try FileManager.default.createDirectory(atPath: spool + "/output/stale", withIntermediateDirectories: true)
        try "partial".write(toFile: spool + "/stdout", atomically: false, encoding: .utf8)
        try "old".write(toFile: spool + "/output/stale/left.txt", atomically: false, encoding: .utf8)
        try FileManager.default.createSymbolicLink(atPath: spool + "/exit_code", withDestinationPath: dir + "/elsewhere")
        try "keep".write(toFile: dir + "/elsewhere", atomically: false, encoding: .utf8)
        let result = try OutputDisk.collect(from: dir + "/out.img", into: spool)
        #expect(result.exitCode == 0)
        #expect(try String(contentsOfFile: spool + "/stdout", encoding: .utf8) == "out\n")
        #expect(!FileManager.default.fileExists(atPath: spool + "/output/stale"))
        #expect(try String(contentsOfFile: dir + "/elsewhere", encoding: .utf8) == "keep", "a symlink is removed, not followed")
    }

    /// What the spool cannot take (here: it is not a directory) is a `SpoolWriteError`, which
    /// drivers report as `outputNotStored`; the libvirt driver once took it for a lost VM and ran the job again.
    @Test func outputTheSpoolCannotTakeIsASpoolWriteError() throws {
        var w = UstarWriter()
        try w.addFile("stdout", contents: Array("out\n".utf8))
        try w.addFile("exit_code", contents: Array("0\n".utf8))
        try Data(w.finish()).write(to: URL(fileURLWithPath: dir + "/out.img"))
        _ = FileManager.default.createFile(atPath: dir + "/not-a-directory", contents: Data())
        #expect(throws: SpoolWriteError.self) { try OutputDisk.collect(from: dir + "/out.img", into: dir + "/not-a-directory") }
    }

    @Test func emptyOutputDiskMeansNoExitCode() throws {
        try OutputDisk.create(at: dir + "/empty.img", sizeMB: 1)
        try FileManager.default.createDirectory(atPath: dir + "/spool", withIntermediateDirectories: true)
        #expect(try OutputDisk.collect(from: dir + "/empty.img", into: dir + "/spool") == .init(exitCode: nil, files: []))
    }

    @Test func hostileArchivesAreRefused() throws {
        func archive(_ name: String, type: UInt8 = UInt8(ascii: "0"), corrupt: Bool = false) throws -> [UInt8] {
            var w = UstarWriter()
            try w.addFile(name, contents: Array("x".utf8))
            var bytes = w.finish()
            bytes[156] = type
            // Recompute the checksum after changing the type, unless corrupting on purpose.
            for i in 148..<156 { bytes[i] = UInt8(ascii: " ") }
            let sum = bytes[0..<512].reduce(0) { $0 + Int($1) } + (corrupt ? 1 : 0)
            let octal = Array(String(sum, radix: 8).utf8)
            for i in 0..<6 { bytes[148 + i] = i < 6 - octal.count ? UInt8(ascii: "0") : octal[i - (6 - octal.count)] }
            bytes[154] = 0
            return bytes
        }
        func members(_ bytes: [UInt8]) throws -> [UstarReader.Member] { try bytes.withUnsafeBytes { try UstarReader.members(of: $0) } }
        #expect(throws: UstarReader.Failure.unsafeName("../etc/passwd")) { try members(try archive("../etc/passwd")) }
        #expect(throws: UstarReader.Failure.unsafeName("/etc/passwd")) { try members(try archive("/etc/passwd")) }
        #expect(throws: UstarReader.Failure.unsafeName("output/../../x")) { try members(try archive("output/../../x")) }
        #expect(throws: UstarReader.Failure.unsupportedType("output/link", UInt8(ascii: "2"))) {
            try members(try archive("output/link", type: UInt8(ascii: "2")))
        }
        #expect(throws: UstarReader.Failure.badChecksum(offset: 0)) { try members(try archive("stdout", corrupt: true)) }
        var truncated = try archive("stdout")
        truncated.removeLast(truncated.count - 512)
        for (i, b) in Array(String(1 << 20, radix: 8).utf8).enumerated() { truncated[124 + i] = b }
        #expect(throws: (any Error).self) { try members(truncated) }
        #expect(try members(try archive("output/ok.txt")).map(\.name) == ["output/ok.txt"])
    }

    @Test func longNamesUsePrefix() throws {
        var w = UstarWriter()
        let long = "input/" + String(repeating: "d", count: 90) + "/" + String(repeating: "f", count: 60)
        try w.addFile(long, contents: [1, 2, 3])
        let bytes = w.finish()
        let members = try bytes.withUnsafeBytes { try UstarReader.members(of: $0) }
        #expect(members.map(\.name) == [long])
        try Data(bytes).write(to: URL(fileURLWithPath: dir + "/long.tar"))
        #expect(try sh("tar -tf long.tar", in: dir) == long + "\n")
    }
}
