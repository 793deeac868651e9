import Foundation
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore

/// `vbatch config show [--origin]` against a running vbatchd on simulated nodes.
@Suite("vbatch config show", .serialized)
struct ConfigShowTests {
    @Test func showsEveryValueWithItsOrigin() throws {
        let d = try DaemonHarness()
        try d.start()
        let plain = try d.vbatch(["config", "show"])
        #expect(plain.status == 0, "\(plain.stderr)")
        let lines = plain.stdout.split(separator: "\n").map(String.init)
        let resolvedConfig = URL(fileURLWithPath: d.configDirectory).standardizedFileURL.path
        #expect(lines.first == "# configuration directory: \(resolvedConfig)")
        // `key = value`, values aligned, no origins.
        #expect(lines.contains { $0.hasPrefix("site.name ") && $0.hasSuffix(" = \"test\"") })
        #expect(!plain.stdout.contains("#  site.toml") && !plain.stdout.contains("(default)"))

        let shown = try d.vbatch(["config", "show", "--origin"])
        #expect(shown.status == 0, "\(shown.stderr)")
        func line(_ key: String) -> String? {
            shown.stdout.split(separator: "\n").map(String.init).first { $0.hasPrefix(key + " ") }
        }
        func squeezed(_ key: String) -> String? {
            line(key)?.split(separator: " ", omittingEmptySubsequences: true).joined(separator: " ")
        }
        #expect(squeezed("site.name") == "site.name = \"test\" # site.toml:2")
        #expect(squeezed("site.placement") == "site.placement = \"pack\" # (default)")
        #expect(squeezed("node.wn1.slots") == "node.wn1.slots = 4 # site.toml:\(try siteLine(d, "slots = 4"))")
        #expect(squeezed("queue.one-way.walltime_max") == "queue.one-way.walltime_max = \"10h\" # queues/one-way.toml:9")
        #expect(squeezed("queue.one-way.max_running") == "queue.one-way.max_running = 100 # queues/one-way.toml:15")
        #expect(squeezed("queue.one-way.nodes") == "queue.one-way.nodes = (unset) # (default)")
        #expect(squeezed("vo.atlas.groups") == "vo.atlas.groups = [\"atlas\"] # site.toml:\(try siteLine(d, "groups = [\"atlas\"]"))")
        // The origins line up in one column (after values of up to 32 characters).
        let columns = Set(["site.name", "site.placement", "queue.one-way.walltime_max", "node.wn1.uri"].compactMap { key in
            line(key).flatMap { text in text.range(of: "   # ").map { text.distance(from: text.startIndex, to: $0.lowerBound) } }
        })
        #expect(columns.count == 1, "\(columns)")

        // JSON: the same settings.
        let json = try d.vbatch(["config", "show", "--json"])
        let response = try JSONDecoder().decode(ConfigResponse.self, from: Data(json.stdout.utf8))
        #expect(response.directory == resolvedConfig)
        #expect(response.settings.first { $0.key == "queue.one-way.walltime_max" }?.origin == "queues/one-way.toml:9")
        #expect(response.settings.first { $0.key == "site.placement" }?.origin == nil)

        // Operators only.
        let user = try d.vbatch(as: "nobody", ["config", "show"])
        #expect(user.status != 0 && user.stderr.contains("only operators may read the configuration"), "\(user.stderr)")
    }

    @Test func showsTheConfigurationOfTheLastReload() throws {
        let d = try DaemonHarness()
        try d.start()
        #expect(try !d.vbatch(["config", "show"]).stdout.contains("queue.extra."))
        try DaemonHarness.extraQueue.write(toFile: d.configDirectory + "/queues/extra.toml", atomically: true, encoding: .utf8)
        // Files as they are now are not what the daemon runs on until a reload.
        #expect(try !d.vbatch(["config", "show"]).stdout.contains("queue.extra."))
        #expect(try d.vbatch(["reload"]).status == 0)
        let shown = try d.vbatch(["config", "show", "--origin"])
        #expect(shown.status == 0, "\(shown.stderr)")
        let walltime = shown.stdout.split(separator: "\n").first { $0.hasPrefix("queue.extra.walltime_max ") }
        #expect(walltime?.hasSuffix("# queues/extra.toml:5") == true, "\(shown.stdout)")
    }

    /// The line of the generated site file that holds `text` (first occurrence).
    func siteLine(_ d: DaemonHarness, _ text: String) throws -> Int {
        let site = try String(contentsOfFile: d.configDirectory + "/site.toml", encoding: .utf8)
        let index = try #require(site.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0 == text })
        return index + 1
    }
}
