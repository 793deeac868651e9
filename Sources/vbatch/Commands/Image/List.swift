import ArgumentParser
import Foundation
import VBatchCore

/// `vbatch image list [--config DIR] [--site FILE]`
struct ImageList: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "list", abstract: "List the images of the catalogue and where they come from.")

    @OptionGroup var config: ImageConfigOptions

    func run() throws {
        let configuration: Configuration
        do {
            configuration = try config.loadConfiguration()
        } catch {
            throw ImageCommandError.report(error)
        }
        var t = Table([
            .init(title: "NAME", maxWidth: 30), .init(title: "BOOT"), .init(title: "FORMAT"), .init(title: "AGENT"),
            .init(title: "MEMORY", rightAligned: true), .init(title: "VOS", maxWidth: 30), .init(title: "SOURCE", maxWidth: 60),
        ])
        for image in configuration.images {
            t.append([
                image.name, image.boot.rawValue, image.disk == nil ? "-" : image.format, image.agent.rawValue,
                "\(image.memoryMB)mb", image.vos?.joined(separator: ",") ?? "all", source(of: image),
            ])
        }
        Output.print(t.render())
    }

    /// `recipe FILE (sha256 …)` for images the factory built, else the disk or kernel.
    private func source(of image: ImageConfig) -> String {
        let entry = config.catalogueDirectory + "/" + image.name + ".toml"
        if let text = try? String(contentsOfFile: entry, encoding: .utf8), text.hasPrefix("# Written by vbatch image build") {
            let first = text.split(separator: "\n").first ?? ""
            let recipe = first.components(separatedBy: " from ").dropFirst().joined(separator: " from ")
            let hash = text.split(separator: "\n").first { $0.hasPrefix("# recipe sha256 ") }?
                .dropFirst("# recipe sha256 ".count).prefix(12) ?? ""
            let file = URL(fileURLWithPath: String(recipe.dropLast(recipe.hasSuffix(".") ? 1 : 0))).lastPathComponent
            return "recipe " + (recipe.isEmpty ? "?" : file) + (hash.isEmpty ? "" : " \(hash)")
        }
        return image.disk ?? image.kernel ?? "-"
    }
}
