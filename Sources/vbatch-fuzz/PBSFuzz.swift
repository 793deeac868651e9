import VBatchAPI
import VBatchClient

/// `pbs`: bytes as a `qsub` invocation, the PBS/Torque front end a grid CE drives.
///
/// The input is the command line, one argument per line, then a line holding only `%%`,
/// then the job script. Through the parsing `qsub` does before it contacts the daemon
/// (`QsubArguments` in VBatchClient): getopt(3)-style options, the `#PBS` directives of the
/// script (or the `-C` prefix) split into words as a shell would, the two merged, the `-l`
/// resource list (walltime, nodes=1:ppn=N, ncpus, mem/vmem/pmem sizes, environment) and
/// `-F` script arguments. Each argument also goes through `PBSJobID.parse` (the operand
/// of qdel, qhold, qstat …) and, as `vbatch submit` reads them, `ResourceList` and
/// `JobVariables`. A thrown failure is the expected refusal.
enum PBSFuzz {
    static let target = FuzzTarget(
        name: "pbs",
        summary: "qsub command line (one argument a line) %% job script: QsubArguments, #PBS directives, -l, -v, job ids",
        run: { bytes in
            let parts = fuzzParts(String(decoding: bytes, as: UTF8.self), count: 2)
            let arguments = parts[0].isEmpty ? [] : parts[0].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            let script = parts.count > 1 ? parts[1] : ""
            for argument in arguments {
                if let id = PBSJobID.parse(argument) { FuzzCheck.require(id > 0, "job ids are positive") }
                _ = PBSJobID.looksLikeJobID(argument)
            }
            _ = try? ResourceList.parse(arguments)
            _ = try? JobVariables.parse(arguments, lookup: { $0.count % 2 == 0 ? "x" : nil })
            qsub(arguments, script)
        })

    static func qsub(_ arguments: [String], _ script: String) {
        guard let command = try? QsubArguments.parse(arguments, source: "command line"),
              let words = try? QsubArguments.directiveArguments(script, prefix: command.prefix ?? "#PBS"),
              let directives = try? QsubArguments.parse(words, source: "script directive")
        else { return }
        let o = QsubArguments.merge(command, over: directives)
        if let resources = try? QsubArguments.Resources.parse(o.resources) {
            if let cores = resources.cores { FuzzCheck.require(cores >= 1 && cores <= InputLimits.maxCores, "cores in range") }
            if let mb = resources.memoryMB { FuzzCheck.require(mb >= 1, "memory at least 1 MiB") }
            if let walltime = resources.walltime { FuzzCheck.require(walltime >= 1, "walltime at least 1 s") }
        }
        if let args = o.arguments { _ = try? ShellWords.split(args) }
        for item in o.variables { _ = QsubArguments.unquote(item) }
    }
}
