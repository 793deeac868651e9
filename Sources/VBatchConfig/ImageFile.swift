import Foundation
import VBatchCore

/// An image as read from its file, before its VOs are checked against the site file.
struct ParsedImage {
    var config: ImageConfig
    let origin: Origin
}

/// Reads `images/*.toml`: the catalogue of execution environments, `[image.NAME]` tables.
enum ImageFile {
    static let keys = ["description", "boot", "kernel", "initrd", "disk", "format", "cmdline", "memory", "sha256", "vos", "agent"]

    /// - Parameter directory: absolute directory of the file; relative image paths are resolved against it.
    static func read(_ file: SourceFile, directory: String, diagnostics: Diagnostics) -> [ParsedImage] {
        let layout = FileLayout(file: file, diagnostics: diagnostics)
        layout.checkTopLevel(allowed: ["image"], what: "an image file")
        return layout.namedTables("image").map { name, r in
            r.checkKeys(allowed: keys)
            func path(_ key: String) -> String? {
                guard let p = r.string(key) else { return nil }
                guard !p.isEmpty else {
                    r.error(key, "must not be empty")
                    return nil
                }
                return resolve(p, against: directory)
            }
            let kernel = path("kernel"), initrd = path("initrd"), disk = path("disk")
            let boot: ImageConfig.Boot
            if r.has("boot") {
                boot = r.choice("boot", of: ["kernel", "disk"]).flatMap(ImageConfig.Boot.init(rawValue:)) ?? .kernel
            } else {
                boot = disk != nil && !r.has("kernel") ? .disk : .kernel
            }
            let bootLine = r.has("boot") ? r.origin.line(of: "boot") : r.origin.line
            if boot == .kernel, !r.has("kernel") {
                diagnostics.add(file: file.path, line: bootLine, key: r.origin.keyPath("kernel"),
                                "boot = \"kernel\" needs kernel = \"PATH\" (and usually initrd)")
            }
            if boot == .disk, !r.has("disk") {
                diagnostics.add(file: file.path, line: bootLine, key: r.origin.keyPath("disk"),
                                "boot = \"disk\" needs disk = \"PATH\"")
            }
            var format = "qcow2"
            if disk != nil, r.has("format") {
                format = r.choice("format", of: ["qcow2", "raw"]) ?? format
            }
            var sha256: String?
            if let sum = r.string("sha256") {
                if sum.count == 64, sum.allSatisfy({ $0.isASCII && $0.isHexDigit }) {
                    sha256 = sum.lowercased()
                } else {
                    r.error("sha256", "must be 64 hexadecimal digits (the output of sha256sum)")
                }
            }
            let image = ImageConfig(
                name: name, description: r.string("description") ?? "", boot: boot, disk: disk, format: format,
                kernel: kernel, initrd: initrd, cmdline: r.string("cmdline") ?? "console=ttyS0", sha256: sha256,
                vos: r.strings("vos"), memoryMB: r.memory("memory") ?? 256,
                agent: r.choice("agent", of: ImageConfig.Agent.allCases.map(\.rawValue))
                    .flatMap(ImageConfig.Agent.init(rawValue:)) ?? .installed)
            return ParsedImage(config: image, origin: r.origin)
        }
    }

    /// `path` if absolute, else `directory/path`, normalised (`.` and `..` removed).
    static func resolve(_ path: String, against directory: String) -> String {
        if path.hasPrefix("/") { return URL(fileURLWithPath: path).standardizedFileURL.path }
        return URL(fileURLWithPath: path, relativeTo: URL(fileURLWithPath: directory, isDirectory: true))
            .standardizedFileURL.path
    }
}
