#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

// vbatch-fuzz TARGET [libFuzzer flags] [CORPUS_DIR|FILE ...]
//
// Coverage-guided fuzz targets for the parsers of outside input (DESIGN.md R6). Built as
// usual (`swift build`), it runs every file given (a corpus directory: each file in it)
// through the target once and reports how many: the regression mode the tests use, so
// an input that once crashed keeps being tried. Built by scripts/fuzz.sh with libFuzzer's
// instrumentation and -DVBATCH_FUZZ, it hands its arguments to libFuzzer
// (LLVMFuzzerRunDriver), so -max_total_time, -runs, -dict, -jobs and corpus directories work.

let usage = """
    usage: vbatch-fuzz TARGET [CORPUS_DIR|FILE ...]     run each input once (regression mode)
           vbatch-fuzz list                             the targets
           vbatch-fuzz jobdisk-seed FILE                a job disk made by JobDisk (a ustar seed)
    """

var arguments = Array(CommandLine.arguments.dropFirst())
guard let name = arguments.first else {
    printError(usage + "\n")
    exit(2)
}
if name == "list" {
    for target in FuzzTarget.all { print("\(target.name)\t\(target.summary)") }
    exit(0)
}
if name == "jobdisk-seed", arguments.count == 2 {
    exit(UstarFuzz.writeJobDiskSeed(to: arguments[1]))
}
guard let target = FuzzTarget.named(name) else {
    printError("vbatch-fuzz: unknown target \(name) (targets: \(FuzzTarget.all.map(\.name).joined(separator: ", ")))\n")
    exit(2)
}
arguments.removeFirst()

#if VBATCH_FUZZ
exit(LibFuzzer.run(target, arguments: [CommandLine.arguments[0]] + arguments))
#else
exit(Regression.run(target, paths: arguments))
#endif
