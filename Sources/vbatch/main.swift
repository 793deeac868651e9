import ArgumentParser
import VBatchClient

// Parse, run, and turn runtime failures into one `vbatch: error: …` line. Usage errors, help
// and `--version` keep ArgumentParser's own output and exit codes.
//
// `vbatch submit` is parsed as a command of its own: a CE runs one `vbatch submit` process
// per job, and parsing it through the root command makes ArgumentParser reflect over every
// subcommand first (about a millisecond per process).
do {
    let arguments = Array(CommandLine.arguments.dropFirst())
    if arguments.first == "submit", !arguments.contains("--help"), !arguments.contains("-h") {
        var command = try Submit.parse(Array(arguments.dropFirst()))
        try command.run()
    } else {
        var command = try VBatch.parseAsRoot(arguments)
        try command.run()
    }
} catch let error as ClientError {
    Output.fail(error.description)
} catch let error as CLIError {
    Output.fail(error.message, exitCode: error.exitCode)
} catch {
    if CommandLine.arguments.dropFirst().first == "submit" { Submit.exit(withError: error) }
    VBatch.exit(withError: error)
}
