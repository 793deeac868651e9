import ArgumentParser
import Foundation
import VBatchConfig
import VBatchCore
import VBatchFactory

/// `vbatch image build | check | list`: the VM factory and the catalogue, run locally
/// against a configuration directory (no daemon involved).
struct Image: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Build images from recipes (the VM factory), check and list the catalogue.",
        discussion: """
            These commands work on a configuration directory (--config DIR, else $VBATCH_CONFIG, \
            else the current directory), not through vbatchd. vbatchd reads the catalogue when it \
            starts: restart it to offer a newly built image.
            """,
        subcommands: [ImageBuild.self, ImageCheckCommand.self, ImageList.self])
}

/// The configuration directory and site file the image commands work on.
struct ImageConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration directory (queues/, images/, site.toml).",
                                                            valueName: "DIR"))
    var directory: String?

    @Option(name: .customLong("site"), help: ArgumentHelp("Site file (default DIR/site.toml, else DIR/queues/site.toml).",
                                                          valueName: "FILE"))
    var siteFile: String?

    /// DIR, absolute.
    var configDirectory: String {
        let dir = directory ?? ProcessInfo.processInfo.environment["VBATCH_CONFIG"] ?? "."
        let full = dir.hasPrefix("/") ? dir : FileManager.default.currentDirectoryPath + "/" + dir
        return URL(fileURLWithPath: full).standardizedFileURL.path
    }

    var catalogueDirectory: String { configDirectory + "/images" }

    /// The whole configuration, or every error in it reported and a failure thrown.
    func loadConfiguration() throws -> Configuration {
        do {
            return try ConfigLoader.load(directory: configDirectory, siteFile: siteFile)
        } catch let errors as ConfigErrors {
            throw ImageCommandError.config(errors)
        }
    }
}

/// Failures of the image commands, each reported as `vbatch: error: …` lines.
enum ImageCommandError: Error {
    /// Every configuration or recipe error, one line each.
    case config(ConfigErrors)

    /// Reports `error` the vbatch way and returns the error to throw (an empty `CLIError`:
    /// already reported).
    static func report(_ error: any Error) -> CLIError {
        switch error {
        case ImageCommandError.config(let errors), let errors as ConfigErrors:
            for e in errors.errors { Output.error(e.description) }
            return CLIError("")
        case let error as FactoryError:
            return CLIError(error.description)
        case let error as CLIError:
            return error
        default:
            return CLIError("\(error)")
        }
    }
}
