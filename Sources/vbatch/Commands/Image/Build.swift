import ArgumentParser
import Foundation
import VBatchConfig
import VBatchCore
import VBatchFactory

/// `vbatch image build RECIPE [--config DIR] [--site FILE] [--rebuild] [--verbose]`
struct ImageBuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an image from a recipe and write its catalogue entry (as root).",
        discussion: """
            Builds RECIPE (images/recipes/NAME.toml) into DIR/images/built/NAME-KEY/ (or the site's \
            [factory] output) and writes DIR/images/NAME.toml. A recipe built before with the same \
            agent and glue is not built again. The site's [factory] policy decides which recipes \
            may be built.
            """)

    @Argument(help: ArgumentHelp("The recipe file.", valueName: "RECIPE"))
    var recipe: String

    @OptionGroup var config: ImageConfigOptions

    @Flag(help: "Build even if an image of the same build key exists.")
    var rebuild = false

    @Flag(help: "Show every line the build tools print.")
    var verbose = false

    func run() throws {
        do {
            try build()
        } catch {
            throw ImageCommandError.report(error)
        }
    }

    private func build() throws {
        guard geteuid() == 0 else {
            throw CLIError("vbatch image build must run as root (debootstrap, chroot and mkfs.ext4 -d need it)")
        }
        let parsed = try RecipeFile.load(path: recipe)
        let site = try ConfigLoader.loadSite(directory: config.configDirectory, siteFile: config.siteFile)
        // The queues may already name the image this builds: the whole configuration need
        // not load for a build from Debian, only the site file.
        var catalogue: [ImageConfig]?
        var configProblems: ConfigErrors?
        do {
            catalogue = try ConfigLoader.load(directory: config.configDirectory, siteFile: config.siteFile).images
        } catch let errors as ConfigErrors {
            configProblems = errors
        }
        if case .image = parsed.base, let configProblems { throw configProblems }
        let factory = ImageFactory(
            catalogueDirectory: config.catalogueDirectory, policy: site.settings.factory, catalogue: catalogue,
            knownVOs: site.vos.map(\.name), inputs: try FactoryInputs.locate(searching: Self.searchRoots(config)),
            verbose: verbose, progress: { Output.print($0 + "\n") })
        let result = try factory.build(parsed, recipeFile: recipe, rebuild: rebuild)
        Output.print((result.cached ? "image \(result.name) is up to date" : "built image \(result.name)")
            + " (recipe sha256 \(result.recipeHash))\n"
            + "catalogue entry \(result.catalogueEntry); vbatchd picks it up on restart\n")
        do {
            _ = try ConfigLoader.load(directory: config.configDirectory, siteFile: config.siteFile)
        } catch let errors as ConfigErrors {
            Output.print("note: the configuration still has errors (vbatchd --check --config \(config.configDirectory)):\n")
            for e in errors.errors { Output.print("  \(e.description)\n") }
        }
    }

    /// Where the agent and the factory's glue are looked for: $VBATCH_HOME, the
    /// configuration directory (the source tree is the shipped example), then the tree
    /// this executable was built in (…/.build/debug/vbatch).
    static func searchRoots(_ config: ImageConfigOptions) -> [String] {
        var roots: [String] = []
        if let home = ProcessInfo.processInfo.environment["VBATCH_HOME"], !home.isEmpty { roots.append(home) }
        roots.append(config.configDirectory)
        if let executable = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe") {
            var url = URL(fileURLWithPath: executable).deletingLastPathComponent()
            for _ in 0..<5 {
                roots.append(url.path)
                url.deleteLastPathComponent()
            }
        }
        return roots
    }
}
