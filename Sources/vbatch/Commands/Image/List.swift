import ArgumentParser

/// `vbatch image list [--config DIR] [--site FILE]`
struct ImageList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the images of the catalogue and where they come from.")

    @OptionGroup var config: LocalConfigOptions

    func run() throws {
        try CompanionTool.image.exec(["list"] + config.forwarded)
    }
}
