import ArgumentParser

/// `vbatch image build RECIPE [--config DIR] [--site FILE] [--rebuild] [--verbose]`
struct ImageBuild: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build",
        abstract: "Build an image from a recipe and write its catalogue entry (as root).",
        discussion: """
            Builds RECIPE (images/recipes/NAME.toml) into DIR/images/built/NAME-KEY/ (or the site's \
            [factory] output), printing its progress, and writes the catalogue entry DIR/images/NAME.toml. \
            A recipe built before with the same agent and glue is not built again. The site's [factory] \
            policy decides which recipes may be built.
            """)

    @Argument(help: ArgumentHelp("The recipe file.", valueName: "RECIPE"))
    var recipe: String

    @OptionGroup var config: LocalConfigOptions

    @Flag(help: "Build even if an image of the same build key exists (to pick up Debian updates).")
    var rebuild = false

    @Flag(help: "Show every line the build tools print.")
    var verbose = false

    func run() throws {
        try CompanionTool.image.exec(["build"] + config.forwarded + (rebuild ? ["--rebuild"] : []) + (verbose ? ["--verbose"] : [])
            + ["--", recipe])
    }
}
