#if canImport(Glibc)
import Glibc
#endif

/// What a simulated payload leaves in its spool when it ends (``LaunchSpec/simulatedOutputBytes``):
/// `stdout` of that many bytes and `exit_code`, as the guest's output archive would.
struct SimulatedOutput: Sendable {
    var directory: String
    var bytes: Int

    /// Writes the files; a failure (a full spool) is a ``SpoolWriteError``.
    func write(exitCode: Int?) throws {
        do {
            if mkdir(directory, 0o755) != 0 && errno != EEXIST { throw FileIO.Failure.system("mkdir \(directory)", errno) }
            let line = Array("simulated output\n".utf8)
            try FileIO.write((0..<max(0, bytes)).map { line[$0 % line.count] }, to: directory + "/stdout")
            if let exitCode { try FileIO.write(Array("\(exitCode)\n".utf8), to: directory + "/exit_code") }
        } catch let failure as FileIO.Failure {
            throw SpoolWriteError("\(failure)")
        }
    }
}
