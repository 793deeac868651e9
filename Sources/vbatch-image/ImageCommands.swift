import Foundation
import VBatchConfig
import VBatchCore
import VBatchDrivers
import VBatchFactory

/// The configuration directory and site file the image commands work on.
struct ImageOptions {
    var directory: String?
    var siteFile: String?

    /// DIR, absolute: `--config`, else `$VBATCH_CONFIG`, else the current directory.
    var configDirectory: String {
        let dir = directory ?? ProcessInfo.processInfo.environment["VBATCH_CONFIG"] ?? "."
        let full = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }

    var catalogueDirectory: String { configDirectory + "/images" }

    func loadConfiguration() throws -> Configuration {
        try ConfigLoader.load(directory: configDirectory, siteFile: siteFile)
    }
}

enum ImageCommands {
    // MARK: build

    static func build(recipe path: String, options: ImageOptions, rebuild: Bool, verbose: Bool) throws {
        guard geteuid() == 0 else {
            throw ToolError("vbatch image build must run as root (debootstrap, chroot and mkfs.ext4 -d need it)")
        }
        let recipe = try RecipeFile.load(path: path)
        let site = try ConfigLoader.loadSite(directory: options.configDirectory, siteFile: options.siteFile)
        // The queues may already name the image this builds: a build from Debian needs only
        // the site file; the catalogue is read when the whole configuration loads.
        var catalogue: [ImageConfig]?
        var problems: ConfigErrors?
        do {
            catalogue = try options.loadConfiguration().images
        } catch let errors as ConfigErrors {
            problems = errors
        }
        if case .image = recipe.base, let problems { throw problems }
        let factory = ImageFactory(
            catalogueDirectory: options.catalogueDirectory, policy: site.settings.factory, catalogue: catalogue,
            knownVOs: site.vos.map(\.name), inputs: try FactoryInputs.locate(searching: searchRoots(options)),
            verbose: verbose, progress: { say($0 + "\n") })
        let result = try factory.build(recipe, recipeFile: path, rebuild: rebuild)
        say((result.cached ? "image \(result.name) is up to date" : "built image \(result.name)")
            + " (recipe sha256 \(result.recipeHash))\n"
            + "catalogue entry \(result.catalogueEntry); `vbatch reload` offers it\n")
        do {
            _ = try options.loadConfiguration()
        } catch let errors as ConfigErrors {
            say("note: the configuration still has errors (vbatchd --check --config \(options.configDirectory)):\n")
            for e in errors.errors { say("  \(e.description)\n") }
        }
    }

    /// Where the agent and the factory's glue are looked for: $VBATCH_HOME, the
    /// configuration directory (the source tree is the shipped example), then the tree
    /// this executable was built in (…/.build/debug/vbatch-image).
    static func searchRoots(_ options: ImageOptions) -> [String] {
        var roots: [String] = []
        if let home = ProcessInfo.processInfo.environment["VBATCH_HOME"], !home.isEmpty { roots.append(home) }
        roots.append(options.configDirectory)
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
            for _ in 0..<5 {
                roots.append(url.path)
                url.deleteLastPathComponent()
            }
        }
        return roots
    }

    // MARK: check

    static func check(name: String, options: ImageOptions) throws {
        let configuration = try options.loadConfiguration()
        guard let image = configuration.image(named: name) else {
            let names = configuration.images.map(\.name).joined(separator: ", ")
            throw ToolError("no image \(name) in the catalogue (defined: \(names.isEmpty ? "none" : names))")
        }
        try ImageCheck.verify(image, catalogueDirectory: options.catalogueDirectory)
        var facts: [String] = []
        if let disk = image.disk {
            facts.append("\(image.format) disk \(disk)")
            facts.append(image.sha256 == nil ? "no sha256 in the entry" : "sha256 verified")
        }
        if image.boot == .kernel { facts.append("kernel boot") }
        facts.append("agent \(image.agent.rawValue)")
        say("\(name): ok (\(facts.joined(separator: ", ")))\n")
    }

    // MARK: list

    static func list(options: ImageOptions) throws {
        let configuration = try options.loadConfiguration()
        var rows = [["NAME", "BOOT", "FORMAT", "AGENT", "MEMORY", "VOS", "SOURCE"]]
        for image in configuration.images {
            rows.append([
                image.name, image.boot.rawValue, image.disk == nil ? "-" : image.format, image.agent.rawValue,
                "\(image.memoryMB)mb", image.vos?.joined(separator: ",") ?? "all", source(of: image, options: options),
            ])
        }
        say(render(rows))
    }

    /// `recipe FILE HASH` for images the factory built, else the disk or kernel.
    static func source(of image: ImageConfig, options: ImageOptions) -> String {
        let entry = options.catalogueDirectory + "/" + image.name + ".toml"
        guard let text = try? String(contentsOfFile: entry, encoding: .utf8), text.hasPrefix("# Written by vbatch image build")
        else { return image.disk ?? image.kernel ?? "-" }
        let lines = text.split(separator: "\n")
        var recipe = (lines.first ?? "").components(separatedBy: " from ").dropFirst().joined(separator: " from ")
        if recipe.hasSuffix(".") { recipe.removeLast() }
        let hash = lines.first { $0.hasPrefix("# recipe sha256 ") }?.dropFirst("# recipe sha256 ".count).prefix(12) ?? ""
        return "recipe " + (recipe.isEmpty ? "?" : URL(fileURLWithPath: recipe).lastPathComponent)
            + (hash.isEmpty ? "" : " \(hash)")
    }

    /// Left-aligned columns two spaces apart; control characters shown as `?`.
    static func render(_ rows: [[String]]) -> String {
        let clean = rows.map { $0.map { String($0.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7f ? "?" : Character($0) }) } }
        var widths = [Int](repeating: 0, count: clean.first?.count ?? 0)
        for row in clean { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
        return clean.map { row in
            row.enumerated().map { i, cell in
                i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
            }.joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
