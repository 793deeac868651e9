import Foundation

/// Copy-on-write qcow2 overlays on catalogue images, made with `qemu-img` (formats always explicit).
enum Overlay {
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    static func create(at path: String, base: String, baseFormat: String) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/qemu-img")
        process.arguments = ["create", "-q", "-f", "qcow2", "-F", baseFormat, "-b", base, path]
        let errors = Pipe()
        process.standardError = errors
        process.standardOutput = FileHandle.nullDevice
        try process.run()
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "qemu-img create failed: \(String(decoding: message, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))")
        }
    }
}
