import Testing
@testable import VBatchConfig
import VBatchCore

/// `[accounting]` in the site file: the site's identity in APEL records.
@Suite struct AccountingConfigTests {
    @Test func readsEveryKey() throws {
        let config = try ConfigFixture(["site.toml": ConfigFixture.site + """


            [accounting]
            site = "UKI-SOUTHGRID-EXAMPLE"
            submit_host = "ce01.example.org:9619/vbatch-grid"
            benchmark_type = "HEPscore23"
            benchmark = 12.5
            infrastructure = "local"
            """]).load()
        #expect(config.site.accounting == AccountingSettings(
            site: "UKI-SOUTHGRID-EXAMPLE", submitHost: "ce01.example.org:9619/vbatch-grid", benchmarkType: "HEPscore23",
            benchmark: 12.5, infrastructure: "local"))
    }

    @Test func defaultsWithoutTheTable() throws {
        #expect(try ConfigFixture().load().site.accounting == AccountingSettings())
    }

    @Test(arguments: [
        ("benchmark = 10", "accounting.benchmark", "give benchmark_type and benchmark together"),
        ("benchmark_type = \"HEPSPEC\"", "accounting.benchmark_type", "give benchmark_type and benchmark together"),
        ("benchmark_type = \"specint\"\nbenchmark = 1", "accounting.benchmark_type", "\"specint\" is not one of \"HEPSPEC\", \"HEPscore23\", \"si2k\""),
        ("benchmark_type = \"si2k\"\nbenchmark = -3", "accounting.benchmark", "must be a number greater than 0"),
        ("site = \"two\\nlines\"", "accounting.site", "must be one line of printable characters"),
        ("submit_host = \"\"", "accounting.submit_host", "must not be empty"),
        ("infrastructure = \"cloud\"", "accounting.infrastructure", "\"cloud\" is not one of \"grid\", \"local\""),
        ("sites = \"X\"", "accounting.sites", "unknown key"),
    ])
    func errorsNameTheKey(body: String, key: String, message: String) throws {
        let site = ConfigFixture.site + "\n\n[accounting]\n" + body + "\n"
        let fixture = try ConfigFixture(["site.toml": site])
        let errors = fixture.errors()
        #expect(errors.count >= 1, "\(errors)")
        let error = try #require(errors.first)
        #expect(error.file == fixture.path("site.toml") && error.key == key, "\(error)")
        #expect(error.line >= 10, "\(error)")
        #expect(error.message.contains(message), "\(error)")
    }
}
