import Foundation
import VBatchConfig
import VBatchCore

/// The catalogue entry (`images/NAME.toml`) the factory writes for a built image.
enum CatalogueEntry {
    /// First line of every entry the factory writes; an entry without it is the
    /// operator's, and the factory never replaces it.
    static let marker = "# Written by vbatch image build"

    /// Kernel command line of factory images: the test guest's, with the root device.
    static let cmdline = "console=ttyS0 quiet panic=-1 cryptomgr.notests root=/dev/vda"

    struct Contents {
        var recipe: Recipe
        var recipeFile: String?
        var buildKey: String
        /// Paths as written: relative to the catalogue directory when inside it.
        var kernel: String
        var initrd: String
        var disk: String
        var sha256: String
    }

    static func render(_ c: Contents) -> String {
        let r = c.recipe
        var lines = [
            marker + (c.recipeFile.map { " from \($0)" } ?? "") + ".",
            "# Do not edit: change the recipe and run vbatch image build again.",
            "# recipe sha256 \(r.hash)",
            "# build \(c.buildKey)",
            "",
            "[image.\(r.name)]",
            "description = " + TOMLString.quoted(r.description.isEmpty ? "Built by vbatch image build (\(r.base))" : r.description),
            "boot = \"kernel\"",
            "kernel = " + TOMLString.quoted(c.kernel),
            "initrd = " + TOMLString.quoted(c.initrd),
            "cmdline = " + TOMLString.quoted(cmdline),
            "disk = " + TOMLString.quoted(c.disk),
            "format = \"qcow2\"",
            "sha256 = " + TOMLString.quoted(c.sha256),
            "memory = \"\(r.memoryMB)mb\"",
            "agent = " + TOMLString.quoted(r.agent.rawValue),
        ]
        if let vos = r.vos { lines.append("vos = [" + vos.map(TOMLString.quoted).joined(separator: ", ") + "]") }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Whether the file at `path` may be replaced: absent, or written by the factory.
    static func isOurs(_ path: String) -> Bool {
        guard let handle = FileHandle(forReadingAtPath: path) else { return true }
        defer { try? handle.close() }
        let head = String(decoding: handle.readData(ofLength: marker.utf8.count), as: UTF8.self)
        return head == marker
    }
}
