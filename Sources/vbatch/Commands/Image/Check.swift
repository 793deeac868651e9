import ArgumentParser

/// `vbatch image check NAME [--config DIR] [--site FILE]`
struct ImageCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check an image of the catalogue as vbatch does before a VM starts.",
        discussion: """
            The disk's format is what qemu-img finds, no backing or data file lies outside \
            DIR/images, the entry's sha256 matches, the kernel and initrd exist.
            """)

    @Argument(help: ArgumentHelp("The image's name in the catalogue.", valueName: "NAME"))
    var name: String

    @OptionGroup var config: LocalConfigOptions

    func run() throws {
        try CompanionTool.image.exec(["check"] + config.forwarded + ["--", name])
    }
}
