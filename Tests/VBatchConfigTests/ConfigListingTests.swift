import Foundation
import Testing
@testable import VBatchConfig
import VBatchCore

/// `vbatch config show`: every key with its value and the `file:line` it was written on.
@Suite("Configuration listing with origins")
struct ConfigListingTests {
    static let site = """
        [site]
        name = "T2_Test"
        operators = ["root"]   # a comment
        walltime_grace = "2m"

        [node.wn01]
        uri = "sim://"
        cpus = "0-3,8"
        memory = "8gb"

        [vo.cms]
        share = 40
        groups = ["cms"]

        [pool.warm]
        environment = "guest"
        size = 2
        memory = "1gb"

        [accounting]
        benchmark_type = "HEPscore23"
        benchmark = 12.5

        [factory]
        require_approval = true
        """

    func setting(_ config: Configuration, _ key: String) -> ConfigSetting? { config.settings.first { $0.key == key } }

    @Test func writtenValuesCarryTheirFileAndLine() throws {
        let fixture = try ConfigFixture(["site.toml": Self.site])
        let config = try fixture.load()
        #expect(config.sourceDirectory == URL(fileURLWithPath: fixture.directory).standardizedFileURL.path)
        #expect(setting(config, "site.name") == ConfigSetting(key: "site.name", value: "\"T2_Test\"", origin: "site.toml:2"))
        #expect(setting(config, "site.operators") == ConfigSetting(key: "site.operators", value: "[\"root\"]", origin: "site.toml:3"))
        #expect(setting(config, "site.walltime_grace")?.value == "\"2m\"")
        #expect(setting(config, "node.wn01.cpus") == ConfigSetting(key: "node.wn01.cpus", value: "\"0-3,8\"", origin: "site.toml:8"))
        #expect(setting(config, "node.wn01.memory")?.value == "\"8gb\"")
        #expect(setting(config, "vo.cms.share") == ConfigSetting(key: "vo.cms.share", value: "40", origin: "site.toml:12"))
        #expect(setting(config, "accounting.benchmark") == ConfigSetting(key: "accounting.benchmark", value: "12.5", origin: "site.toml:22"))
        #expect(setting(config, "factory.require_approval")?.origin == "site.toml:25")
        #expect(setting(config, "queue.one-way.walltime_max") == ConfigSetting(key: "queue.one-way.walltime_max", value: "\"10h\"",
                                                                              origin: "queues/q.toml:8"))
        #expect(setting(config, "queue.grid.destinations")?.origin == "queues/q.toml:3")
        #expect(setting(config, "image.guest.kernel")?.origin == "images/guest.toml:2")
    }

    @Test func defaultsAndUnsetValuesHaveNoOrigin() throws {
        let config = try ConfigFixture(["site.toml": Self.site]).load()
        #expect(setting(config, "site.placement") == ConfigSetting(key: "site.placement", value: "\"pack\"", origin: nil))
        #expect(setting(config, "node.wn01.slots") == ConfigSetting(key: "node.wn01.slots", value: "5", origin: nil))
        #expect(setting(config, "queue.one-way.max_running") == ConfigSetting(key: "queue.one-way.max_running", value: "(unset)", origin: nil))
        #expect(setting(config, "queue.one-way.on_node_loss")?.value == "\"requeue\"")
        #expect(setting(config, "image.guest.cmdline") == ConfigSetting(key: "image.guest.cmdline", value: "\"console=ttyS0\"", origin: nil))
        #expect(setting(config, "api.listen")?.value == "(unset)")
    }

    @Test func everyKeyTheReadersAcceptIsListed() throws {
        let config = try ConfigFixture(["site.toml": Self.site]).load()
        func keys(_ table: String) -> [String] {
            config.settings.map(\.key).filter { $0.hasPrefix(table + ".") }.map { String($0.dropFirst(table.count + 1)) }
        }
        #expect(keys("site") == SiteFile.siteKeys)
        #expect(keys("api") == SiteFile.apiKeys)
        #expect(keys("accounting") == SiteFile.accountingKeys)
        #expect(keys("factory") == SiteFile.factoryKeys)
        #expect(keys("node.wn01") == SiteFile.nodeKeys)
        #expect(keys("vo.cms") == SiteFile.voKeys)
        #expect(keys("pool.warm") == SiteFile.poolKeys)
        #expect(keys("queue.grid") == QueueFile.routingKeys)
        #expect(keys("queue.one-way") == QueueFile.executionKeys)
        #expect(keys("image.guest") == ImageFile.keys)
    }

    @Test func quotedNamesAndStringsStayTOML() throws {
        let fixture = try ConfigFixture(["queues/q.toml": ConfigFixture.queues + """


            [queue."a.b"]
            type = "execution"
            description = "say \\"hi\\"\\tnow"
            environments = ["guest"]
            walltime_max = "1h"
            """])
        let config = try fixture.load()
        let description = try #require(setting(config, "queue.\"a.b\".description"))
        #expect(description.value == "\"say \\\"hi\\\"\\tnow\"")
        #expect(description.origin == "queues/q.toml:13")
    }

    @Test func siteFileOutsideTheDirectoryKeepsItsPath() throws {
        let fixture = try ConfigFixture()
        let elsewhere = NSTemporaryDirectory() + "vbatch-site-\(UUID().uuidString.prefix(8)).toml"
        try ConfigFixture.site.write(toFile: elsewhere, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: elsewhere) }
        let config = try fixture.load(siteFile: elsewhere)
        #expect(setting(config, "node.wn01.uri")?.origin == elsewhere + ":2")
    }

    @Test func cpuLists() {
        #expect(Configuration.cpuList([0, 1, 2, 3, 8, 10, 11]) == "0-3,8,10-11")
        #expect(Configuration.cpuList([5]) == "5")
        #expect(Configuration.cpuList([]) == "")
    }
}
