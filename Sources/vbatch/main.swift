import ArgumentParser
import VBatchClient

// Parse, run, and turn runtime failures into one `vbatch: error: …` line. Usage errors, help
// and `--version` keep ArgumentParser's own output and exit codes.
do {
    var command = try VBatch.parseAsRoot()
    try command.run()
} catch let error as ClientError {
    Output.fail(error.description)
} catch let error as CLIError {
    Output.fail(error.message, exitCode: error.exitCode)
} catch {
    VBatch.exit(withError: error)
}
