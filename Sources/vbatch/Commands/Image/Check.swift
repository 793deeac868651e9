import ArgumentParser
import VBatchCore
import VBatchDrivers

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

    @OptionGroup var config: ImageConfigOptions

    func run() throws {
        do {
            let configuration = try config.loadConfiguration()
            guard let image = configuration.image(named: name) else {
                let names = configuration.images.map(\.name).joined(separator: ", ")
                throw CLIError("no image \(name) in the catalogue (defined: \(names.isEmpty ? "none" : names))")
            }
            try ImageCheck.verify(image, catalogueDirectory: config.catalogueDirectory)
            var facts: [String] = []
            if let disk = image.disk {
                facts.append("\(image.format) disk \(disk)")
                facts.append(image.sha256 == nil ? "no sha256 in the entry" : "sha256 verified")
            }
            if image.boot == .kernel { facts.append("kernel boot") }
            facts.append("agent \(image.agent.rawValue)")
            Output.print("\(name): ok (\(facts.joined(separator: ", ")))\n")
        } catch let failure as ImageCheck.Failure {
            throw CLIError(failure.description)
        } catch {
            throw ImageCommandError.report(error)
        }
    }
}
