import Foundation
import Testing
import VBatchConfig
import VBatchCore
@testable import VBatchFactory

/// The site's `[factory]` policy: read from the site file, applied to recipes.
@Suite struct PolicyTests {
    let recipe = Recipe(name: "cms-el", base: .debian(suite: "bookworm"), packages: ["python3", "curl", "python3-numpy"])

    @Test func noPolicyAllowsEverything() {
        #expect(FactoryPolicy().refusals(for: recipe).isEmpty)
    }

    @Test func baseNotAllowed() {
        let policy = FactoryPolicy(allowedBases: ["debian:trixie", "image:debian12"])
        let reasons = policy.refusals(for: recipe)
        #expect(reasons.first == "base debian:bookworm is not allowed (allowed_bases: debian:trixie, image:debian12)")
        #expect(reasons.last == "or have the operator approve hash \(recipe.hash)")
    }

    @Test func packageNotInTheAllowList() {
        let policy = FactoryPolicy(allowedPackages: ["python3", "python3-*"])
        #expect(policy.refusals(for: recipe).first == "package curl not in allowed_packages")
        let wide = FactoryPolicy(allowedPackages: ["python3*", "curl"])
        #expect(wide.refusals(for: recipe).isEmpty)
    }

    @Test func unapprovedHash() {
        let policy = FactoryPolicy(requireApproval: true, approved: [String(repeating: "0", count: 64)])
        #expect(policy.refusals(for: recipe) == ["not approved: hash \(recipe.hash) is not in [factory] approved"])
        let approved = FactoryPolicy(allowedBases: ["debian:trixie"], allowedPackages: ["bash"], requireApproval: true,
                                     approved: [recipe.hash])
        #expect(approved.refusals(for: recipe).isEmpty, "an approved recipe passes whatever the lists say")
    }

    @Test func factoryRefusesWithTheReason() throws {
        let factory = ImageFactory(catalogueDirectory: NSTemporaryDirectory() + "vbatch-policy-\(UUID().uuidString)",
                                   policy: FactoryPolicy(allowedPackages: ["python3"]),
                                   inputs: FactoryInputs(root: repository))
        let error = #expect(throws: FactoryError.self) { try factory.build(recipe) }
        #expect(error?.description.hasPrefix(
            "recipe cms-el refused by the site's [factory] policy: packages curl, python3-numpy not in allowed_packages; or have the operator approve hash ") == true)
    }

    @Test func siteFileFactoryTable() throws {
        let dir = try TemporaryConfig(site: """
            [node.wn01]
            uri = "sim://"
            slots = 2
            memory = "4gb"

            [vo.cms]
            groups = ["cms"]

            [factory]
            allowed_bases = ["debian:bookworm", "image:debian12"]
            allowed_packages = ["python3", "python3-*"]
            require_approval = true
            approved = ["\(String(repeating: "A", count: 64))"]
            output = "/srv/vbatch/built"
            """)
        let site = try ConfigLoader.loadSite(directory: dir.path)
        let policy = site.settings.factory
        #expect(policy.allowedBases == ["debian:bookworm", "image:debian12"])
        #expect(policy.allowedPackages == ["python3", "python3-*"])
        #expect(policy.requireApproval)
        #expect(policy.approved == [String(repeating: "a", count: 64)])
        #expect(policy.output == "/srv/vbatch/built")
        #expect(site.vos.map(\.name) == ["cms"])
        // The whole configuration carries it too.
        #expect(try ConfigLoader.load(directory: dir.path).site.factory == policy)
    }

    @Test func siteFileFactoryErrors() throws {
        let dir = try TemporaryConfig(site: """
            [node.wn01]
            uri = "sim://"
            slots = 2
            memory = "4gb"

            [factory]
            allowed_bases = ["ubuntu:jammy"]
            allowed_packages = ["Python3"]
            approved = ["abc"]
            outptu = "x"
            """)
        let error = #expect(throws: ConfigErrors.self) { try ConfigLoader.loadSite(directory: dir.path) }
        let found = error?.errors ?? []
        #expect(found.map(\.line) == [7, 8, 9, 10])
        #expect(found.map(\.key) == ["factory.allowed_bases", "factory.allowed_packages", "factory.approved", "factory.outptu"])
        #expect(found.last?.message == "unknown key (did you mean output?)")
        #expect(found.first?.file == dir.path + "/site.toml")
    }

    @Test func outputDefaultsAndRelativePaths() throws {
        let dir = try TemporaryConfig(site: """
            [node.wn01]
            uri = "sim://"
            slots = 2
            memory = "4gb"

            [factory]
            output = "built-images"
            """)
        #expect(try ConfigLoader.loadSite(directory: dir.path).settings.factory.output == dir.path + "/built-images")
        let factory = ImageFactory(catalogueDirectory: dir.path + "/images", inputs: FactoryInputs(root: repository))
        #expect(factory.outputDirectory == dir.path + "/images/built")
    }
}

/// A configuration directory with a site file, queues/ and images/, removed afterwards.
final class TemporaryConfig {
    let path: String

    init(site: String, images: [String: String] = [:]) throws {
        path = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("vbatch-factory-config-\(UUID().uuidString)")
            .standardizedFileURL.path
        let fm = FileManager.default
        try fm.createDirectory(atPath: path + "/queues", withIntermediateDirectories: true)
        try fm.createDirectory(atPath: path + "/images", withIntermediateDirectories: true)
        try site.write(toFile: path + "/site.toml", atomically: true, encoding: .utf8)
        for (name, text) in images { try text.write(toFile: path + "/images/" + name, atomically: true, encoding: .utf8) }
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}

/// The source tree: the agent, the factory glue, the recipes, the built test guest.
let repository: String = {
    var url = URL(fileURLWithPath: #filePath)
    for _ in 0..<3 { url.deleteLastPathComponent() }
    return url.path
}()
