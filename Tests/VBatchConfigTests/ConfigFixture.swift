import Foundation
import Testing
@testable import VBatchConfig
import VBatchCore

/// A configuration directory written to a temporary folder: a small valid site that each
/// test changes by replacing or adding files.
final class ConfigFixture {
    let directory: String

    static let queues = """
        [queue.grid]
        type = "routing"
        destinations = ["one-way"]

        [queue.one-way]
        type = "execution"
        environments = ["guest"]
        walltime_max = "10h"
        max_cores = 2
        """

    static let images = """
        [image.guest]
        kernel = "vmlinuz"
        """

    static let site = """
        [node.wn01]
        uri = "sim://"
        slots = 4
        memory = "8gb"

        [vo.cms]
        groups = ["cms"]
        """

    /// Writes the base files, then `files` (path relative to the directory → content; `nil` deletes).
    init(_ files: [String: String?] = [:]) throws {
        directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("vbatch-config-\(UUID().uuidString)").path
        var all: [String: String?] = ["queues/q.toml": Self.queues, "images/guest.toml": Self.images, "site.toml": Self.site]
        all.merge(files) { _, new in new }
        for (path, content) in all {
            guard let content else { continue }
            try write(path, content)
        }
    }

    deinit { try? FileManager.default.removeItem(atPath: directory) }

    func write(_ path: String, _ content: String) throws {
        let url = URL(fileURLWithPath: directory).appendingPathComponent(path)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try content.write(to: url, atomically: true, encoding: .utf8)
    }

    func path(_ relative: String) -> String { directory + "/" + relative }

    func load(siteFile: String? = nil) throws -> Configuration {
        try ConfigLoader.load(directory: directory, siteFile: siteFile)
    }

    /// The errors of a load that must fail.
    func errors(siteFile: String? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> [ConfigError] {
        do {
            _ = try load(siteFile: siteFile)
            Issue.record("configuration loaded but should have failed", sourceLocation: sourceLocation)
            return []
        } catch let errors as ConfigErrors {
            return errors.errors
        } catch {
            Issue.record("unexpected error \(error)", sourceLocation: sourceLocation)
            return []
        }
    }

    /// Expects exactly one error, at `file` (relative), `line` and `key`, whose message contains `message`.
    func expectSingleError(file: String, line: Int, key: String, message: String = "",
                           sourceLocation: SourceLocation = #_sourceLocation) {
        let errors = errors(sourceLocation: sourceLocation)
        #expect(errors.count == 1, "\(errors)", sourceLocation: sourceLocation)
        guard let error = errors.first else { return }
        #expect(error.file == path(file), sourceLocation: sourceLocation)
        #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
        #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.contains(message), "\(error)", sourceLocation: sourceLocation)
    }
}
