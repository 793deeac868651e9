import Foundation
import Testing
import VBatchCore
import VBatchDrivers

/// ImageCheck with real qemu-img images: formats, backing chains, data files, sha256.
@Suite(.serialized) struct ImageCheckTests {
    /// A catalogue directory (`images/`) with a sibling directory outside it.
    final class Catalogue {
        let root: String
        var images: String { root + "/images" }
        var outside: String { root + "/outside" }

        init() throws {
            root = URL(fileURLWithPath: NSTemporaryDirectory())
                .appendingPathComponent("vbatch-imagecheck-\(UUID().uuidString)").standardizedFileURL.path
            try FileManager.default.createDirectory(atPath: root + "/images/built", withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: root + "/outside", withIntermediateDirectories: true)
            ImageCheck.forgetCache()
        }

        deinit { try? FileManager.default.removeItem(atPath: root) }

        func qemuImg(_ arguments: [String]) throws {
            let p = Process()
            p.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-img")
            p.arguments = arguments
            let err = Pipe()
            p.standardError = err
            try p.run()
            p.waitUntilExit()
            if p.terminationStatus != 0 {
                throw CheckTestError("qemu-img \(arguments): \(String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self))")
            }
        }

        /// A qcow2 of 1 MiB, optionally over `backing` with `backingFormat` (`unsafe`: the
        /// backing file is not opened).
        @discardableResult
        func qcow2(_ path: String, backing: String? = nil, backingFormat: String = "qcow2", unsafe: Bool = false,
                   options: [String] = []) throws -> String {
            var args = ["create", "-q", "-f", "qcow2"] + options
            if let backing { args += ["-b", backing, "-F", backingFormat] + (unsafe ? ["-u"] : []) }
            try qemuImg(args + [path] + (backing == nil || unsafe ? ["1M"] : []))
            return path
        }

        /// Renames the backing-format header extension of `path` to an unknown one, which
        /// qemu ignores: the image names its backing file without a format (qemu-img no
        /// longer writes such images, older ones did).
        func dropBackingFormat(_ path: String) throws {
            var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
            let tag = Data([0xE2, 0x79, 0x2A, 0xCA])
            guard let range = bytes.range(of: tag, in: 72..<4096) else { throw CheckTestError("no backing format in \(path)") }
            bytes.replaceSubrange(range, with: [0x12, 0x34, 0x56, 0x78])
            try bytes.write(to: URL(fileURLWithPath: path))
        }

        func image(_ disk: String, format: String = "qcow2", sha256: String? = nil) -> ImageConfig {
            ImageConfig(name: "test", boot: .disk, disk: disk, format: format, sha256: sha256)
        }

        func verify(_ image: ImageConfig) throws { try ImageCheck.verify(image, catalogueDirectory: images) }
    }

    func sha256(_ path: String) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/sha256sum")
        p.arguments = [path]
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        p.waitUntilExit()
        return String(String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self).prefix(64))
    }

    func failure(_ body: () throws -> Void) -> String {
        do {
            try body()
            return "passed"
        } catch let failure as ImageCheck.Failure {
            return failure.description
        } catch {
            return "unexpected: \(error)"
        }
    }

    @Test func goodImageWithABackingChainInsideThePasses() throws {
        let c = try Catalogue()
        let base = try c.qcow2(c.images + "/built/base.qcow2")
        let top = try c.qcow2(c.images + "/top.qcow2", backing: "built/base.qcow2")  // relative to the image
        try c.verify(c.image(top, sha256: try sha256(top)))
        try c.verify(c.image(base))
        // A raw disk declared raw.
        _ = FileManager.default.createFile(atPath: c.images + "/plain.raw", contents: Data(count: 1 << 20))
        try c.verify(c.image(c.images + "/plain.raw", format: "raw"))
    }

    @Test func backingFileOutsideTheCatalogueIsRejected() throws {
        let c = try Catalogue()
        let evil = try c.qcow2(c.images + "/evil.qcow2", backing: "/etc/passwd", backingFormat: "raw")
        #expect(failure { try c.verify(c.image(evil)) }
            == "image test: disk \(evil): backing file /etc/passwd is outside the catalogue directory \(c.images)")
        // Further down the chain: inside → outside.
        let outside = try c.qcow2(c.outside + "/base.qcow2")
        let middle = try c.qcow2(c.images + "/middle.qcow2", backing: outside)
        let top = try c.qcow2(c.images + "/top.qcow2", backing: middle)
        #expect(failure { try c.verify(c.image(top)) }
            == "image test: backing file \(middle): backing file \(outside) is outside the catalogue directory \(c.images)")
        // Through a symlink inside the catalogue, and through "..".
        try FileManager.default.createSymbolicLink(atPath: c.images + "/link.qcow2", withDestinationPath: outside)
        let viaLink = try c.qcow2(c.images + "/via-link.qcow2", backing: "link.qcow2")
        #expect(failure { try c.verify(c.image(viaLink)) }.hasSuffix("backing file link.qcow2 is outside the catalogue directory \(c.images)"))
        let viaDots = try c.qcow2(c.images + "/via-dots.qcow2", backing: "../outside/base.qcow2")
        #expect(failure { try c.verify(c.image(viaDots)) }.hasSuffix("is outside the catalogue directory \(c.images)"))
    }

    @Test func backingFileWithoutFormatOrAsAProtocolIsRejected() throws {
        let c = try Catalogue()
        try c.qcow2(c.images + "/base.qcow2")
        let unformatted = try c.qcow2(c.images + "/unformatted.qcow2", backing: c.images + "/base.qcow2")
        try c.dropBackingFormat(unformatted)
        #expect(failure { try c.verify(c.image(unformatted)) }
            == "image test: disk \(unformatted): backing file \(c.images)/base.qcow2 has no explicit format (qemu would probe it)")
        let json = try c.qcow2(c.images + "/json.qcow2", backing: "json:{\"driver\":\"file\",\"filename\":\"/etc/shadow\"}",
                               backingFormat: "raw", unsafe: true)
        #expect(failure { try c.verify(c.image(json)) }.contains("is not a plain file path"))
    }

    @Test func dataFileOutsideTheCatalogueIsRejected() throws {
        let c = try Catalogue()
        let image = try c.qcow2(c.images + "/data.qcow2", options: ["-o", "data_file=\(c.outside)/data.raw"])
        #expect(failure { try c.verify(c.image(image)) }
            == "image test: disk \(image): data file \(c.outside)/data.raw is outside the catalogue directory \(c.images)")
    }

    @Test func formatMustBeWhatQemuImgSays() throws {
        let c = try Catalogue()
        let raw = c.images + "/disk.img"
        _ = FileManager.default.createFile(atPath: raw, contents: Data(count: 1 << 20))
        #expect(failure { try c.verify(c.image(raw, format: "qcow2")) }
            == "image test: disk \(raw): declared qcow2 but qemu-img info says raw")
        let qcow = try c.qcow2(c.images + "/disk.qcow2")
        #expect(failure { try c.verify(c.image(qcow, format: "raw")) }
            == "image test: disk \(qcow): declared raw but the file is a qcow2 image (qemu-img info would say qcow2)")
        #expect(failure { try c.verify(c.image(qcow, format: "vmdk")) } == "image test: format \"vmdk\" is not \"qcow2\" or \"raw\"")
    }

    @Test func wrongSha256IsRejectedAndChangesAreNoticed() throws {
        let c = try Catalogue()
        let disk = try c.qcow2(c.images + "/disk.qcow2")
        let good = try sha256(disk)
        let wrong = String(repeating: "0", count: 64)
        #expect(failure { try c.verify(c.image(disk, sha256: wrong)) }
            == "image test: disk \(disk): sha256 is \(good), the catalogue entry says \(wrong)")
        try c.verify(c.image(disk, sha256: good))
        try c.verify(c.image(disk, sha256: good))  // cached
        // The file changes after it was verified: checked again, not served from the cache.
        let handle = try #require(FileHandle(forWritingAtPath: disk))
        handle.seekToEndOfFile()
        handle.write(Data(count: 512))
        try handle.close()
        #expect(failure { try c.verify(c.image(disk, sha256: good)) }.contains("sha256 is "))
    }

    @Test func missingFiles() throws {
        let c = try Catalogue()
        #expect(failure { try c.verify(c.image(c.images + "/nope.qcow2")) } == "image test: disk \(c.images)/nope.qcow2: no such file")
        let kernelOnly = ImageConfig(name: "k", boot: .kernel, kernel: c.images + "/vmlinuz")
        #expect(failure { try c.verify(kernelOnly) } == "image k: kernel \(c.images)/vmlinuz: no such file")
    }
}

struct CheckTestError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
