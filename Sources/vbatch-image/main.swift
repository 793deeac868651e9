import Foundation
import VBatchConfig
import VBatchFactory

// vbatch-image: the implementation of `vbatch image build | check | list`.
//
// `vbatch image …` parses and checks its arguments, then execs this program (installed next
// to `vbatch`) with them. The factory needs Foundation, TOMLKit and the whole
// configuration loader; linked into `vbatch` they would make every `vbatch` process — one
// per job a CE submits — start ~0.45 ms slower (2.0 → 2.45 ms, release build, measured
// with a loop of `vbatch submit`). Errors are `vbatch: error: …` lines, as from `vbatch`.

let usage = """
    usage: vbatch-image build RECIPE [--config DIR] [--site FILE] [--rebuild] [--verbose]
           vbatch-image check NAME [--config DIR] [--site FILE]
           vbatch-image list [--config DIR] [--site FILE]
    (normally run as `vbatch image …`)

    """

/// The arguments after the subcommand: one positional value at most, `--config`, `--site`, flags.
struct Arguments {
    var positional: [String] = []
    var config: String?
    var site: String?
    var flags: Set<String> = []

    init(_ arguments: ArraySlice<String>, flags allowed: Set<String>) throws {
        var rest = arguments
        while let argument = rest.popFirst() {
            switch argument {
            case "--config", "--site":
                guard let value = rest.popFirst() else { throw ToolError("\(argument) needs a value") }
                if argument == "--config" { config = value } else { site = value }
            case _ where argument.hasPrefix("--config="):
                config = String(argument.dropFirst("--config=".count))
            case _ where argument.hasPrefix("--site="):
                site = String(argument.dropFirst("--site=".count))
            case "--":
                positional += rest
                rest = []
            case _ where argument.hasPrefix("--"):
                guard allowed.contains(argument) else { throw ToolError("unknown option \(argument)") }
                flags.insert(argument)
            default:
                positional.append(argument)
            }
        }
    }

    var options: ImageOptions { ImageOptions(directory: config, siteFile: site) }
}

struct ToolError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func say(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}

func fail(_ lines: [String]) -> Never {
    for line in lines {
        let clean = line.unicodeScalars.map { $0.value < 0x20 && $0 != "\t" ? " " : String($0) }.joined()
        FileHandle.standardError.write(Data(("vbatch: error: " + clean + "\n").utf8))
    }
    exit(1)
}

let arguments = Array(CommandLine.arguments.dropFirst())
guard let command = arguments.first else { FileHandle.standardError.write(Data(usage.utf8)); exit(2) }
do {
    switch command {
    case "build":
        let a = try Arguments(arguments.dropFirst(), flags: ["--rebuild", "--verbose"])
        guard a.positional.count == 1 else { throw ToolError("build needs exactly one RECIPE file") }
        try ImageCommands.build(recipe: a.positional[0], options: a.options, rebuild: a.flags.contains("--rebuild"),
                                verbose: a.flags.contains("--verbose"))
    case "check":
        let a = try Arguments(arguments.dropFirst(), flags: [])
        guard a.positional.count == 1 else { throw ToolError("check needs exactly one image NAME") }
        try ImageCommands.check(name: a.positional[0], options: a.options)
    case "list":
        let a = try Arguments(arguments.dropFirst(), flags: [])
        guard a.positional.isEmpty else { throw ToolError("list takes no arguments") }
        try ImageCommands.list(options: a.options)
    case "-h", "--help", "help":
        say(usage)
    default:
        throw ToolError("unknown command \(command)")
    }
} catch let errors as ConfigErrors {
    fail(errors.errors.map(\.description))
} catch {
    fail(["\(error)"])
}
