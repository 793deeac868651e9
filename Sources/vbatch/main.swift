import ArgumentParser
import VBatchClient

// Parse, run, and turn every failure into one `vbatch: error: …` line on stderr with a
// non-zero exit. Help and `--version` keep ArgumentParser's output.
//
// `qsub`, `qstat`, `qdel`, `qhold`, `qrls`, `qsig`, `pbsnodes` and `qmgr` are links to this binary (or
// `vbatch qsub …`): they are dispatched on the program's name before anything else
// (Sources/vbatch/PBS).
if let pbs = PBS.dispatch(CommandLine.arguments) {
    PBS.main(pbs.command, pbs.arguments)
}

/// Runs a parsed command, turning its runtime failures into one line and an exit status.
func reportingFailures(_ body: () throws -> Void) rethrows {
    do {
        try body()
    } catch let error as ClientError {
        Output.fail(error.description)
    } catch let error as CLIError {
        Output.fail(error.message, exitCode: error.exitCode)
    }
}

let arguments = Array(CommandLine.arguments.dropFirst())

// The CE's per-job commands on a plain command line: no ArgumentParser reflection (PerJobCommands).
if let command = PerJobCommands.plain(arguments) {
    do {
        try reportingFailures(command)
    } catch {
        Output.fail("\(error)")
    }
} else {
    // `vbatch submit` is parsed as a command of its own: parsing it through the root command
    // makes ArgumentParser reflect over every subcommand first (about a millisecond per process).
    let submitDirectly = arguments.first == "submit" && !arguments.contains("--help") && !arguments.contains("-h")
    do {
        try reportingFailures {
            if submitDirectly {
                let command = try Submit.parse(Array(arguments.dropFirst()))
                try command.run()
            } else {
                var command = try VBatch.parseAsRoot(arguments)
                try command.run()
            }
        }
    } catch {
        let exitCode = submitDirectly ? Submit.exitCode(for: error) : VBatch.exitCode(for: error)
        if exitCode == .success {
            VBatch.exit(withError: error) // --help, --version
        }
        let message = submitDirectly ? Submit.message(for: error) : VBatch.message(for: error)
        Output.fail(message + " (see vbatch --help)", exitCode: exitCode.rawValue)
    }
}
