import Foundation
import Testing
import VBatchDrivers

/// The NoCloud seed as other tools see it (the boot test proves cloud-init does too).
@Suite struct CloudInitDiskTests {
    @Test func seedIsAnISO9660LabelledCidata() throws {
        let path = NSTemporaryDirectory() + "vbatch-cidata-\(UUID().uuidString).img"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try CloudInitDisk.write(to: path, jobID: 42, agent: Array("#!/bin/sh\necho agent\n".utf8))
        let attributes = try FileManager.default.attributesOfItem(atPath: path)
        #expect((attributes[.size] as? Int ?? 0) % 2048 == 0)
        #expect((attributes[.posixPermissions] as? Int) == 0o600)
        let blkid = Process()
        blkid.executableURL = URL(fileURLWithPath: "/usr/sbin/blkid")
        blkid.arguments = ["-p", "-o", "export", path]
        let out = Pipe()
        blkid.standardOutput = out
        try blkid.run()
        blkid.waitUntilExit()
        let fields = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        #expect(fields.contains("LABEL=cidata"))
        #expect(fields.contains("TYPE=iso9660"))
        // Both files sit in the image, Rock Ridge names next to them.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        for text in ["instance-id: vbatch-job-42", "#cloud-config", "meta-data", "user-data"] {
            #expect(bytes.range(of: Data(text.utf8)) != nil, "\(text) not in the image")
        }
    }

    @Test func userDataCarriesTheAgentIntact() throws {
        let agent = Array((0..<3000).map { UInt8(truncatingIfNeeded: $0 * 7) })
        let userData = CloudInitDisk.userData(jobID: 7, agent: agent)
        #expect(userData.hasPrefix("#cloud-config\n"))
        #expect(userData.contains("systemd-run --unit=vbatch-guest"))
        #expect(userData.contains("-p KillMode=mixed -p TimeoutStopSec=15"))
        let lines = userData.split(separator: "\n")
        guard let start = lines.firstIndex(where: { $0.hasSuffix("<<'VBATCH_AGENT'") }),
              let end = lines.firstIndex(where: { $0.trimmingCharacters(in: .whitespaces) == "VBATCH_AGENT" }) else {
            Issue.record("no heredoc in the user-data")
            return
        }
        let encoded = lines[(start + 1)..<end].map { $0.trimmingCharacters(in: .whitespaces) }.joined()
        #expect(Data(base64Encoded: encoded).map(Array.init) == agent)
        #expect(CloudInitDisk.metaData(jobID: 7) == "instance-id: vbatch-job-7\nlocal-hostname: vbatch-job-7\n")
    }
}
