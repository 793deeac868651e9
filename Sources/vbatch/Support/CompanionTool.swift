#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser

/// A program installed next to `vbatch` that does the work of some of its commands
/// (`vbatch image …` → `vbatch-image`, `vbatch simulate` → `vbatch-simulate`,
/// `vbatch relay` → `vbatch-relay`).
///
/// Those commands need Foundation, TOMLKit and the configuration loader (and the factory or
/// the scheduler), which linked into `vbatch` would make every `vbatch` process — one per
/// job a CE submits — start slower (2.0 → 2.45 ms, measured for the factory). So `vbatch`
/// checks the arguments and execs the companion with them.
struct CompanionTool {
    /// The executable's file name.
    let name: String
    /// An environment variable naming the executable to run instead (tests, unusual installs).
    let overrideVariable: String
    /// The `vbatch` command that needs it, for the error message.
    let command: String

    static let image = CompanionTool(name: "vbatch-image", overrideVariable: "VBATCH_IMAGE_TOOL", command: "vbatch image")
    static let simulate = CompanionTool(name: "vbatch-simulate", overrideVariable: "VBATCH_SIMULATE_TOOL",
                                        command: "vbatch simulate")
    static let relay = CompanionTool(name: "vbatch-relay", overrideVariable: "VBATCH_RELAY_TOOL", command: "vbatch relay")

    /// Replaces this process with the companion run with `arguments` (its output, errors and
    /// exit status are the command's); throws only if it cannot be started.
    func exec(_ arguments: [String]) throws -> Never {
        let path = locate()
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        argv.append(nil)
        execv(path, argv)
        let reason = String(cString: strerror(errno))
        throw CLIError("cannot run \(path): \(reason) (\(command) needs \(name), built and installed with vbatch)")
    }

    /// `$OVERRIDE` if set, else the companion in the directory of this executable.
    func locate() -> String {
        if let tool = getenv(overrideVariable) { return String(cString: tool) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return name }
        let executable = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = executable.lastIndex(of: "/") else { return name }
        return String(executable[...slash]) + name
    }
}

/// The configuration directory and site file of the commands that work on the operator's
/// files directly, without vbatchd (`vbatch image …`, `vbatch simulate`).
struct LocalConfigOptions: ParsableArguments {
    @Option(name: .customLong("config"), help: ArgumentHelp("Configuration directory (queues/, images/, site.toml); "
                                                            + "default $VBATCH_CONFIG, else the current directory.",
                                                            valueName: "DIR"))
    var directory: String?

    @Option(name: .customLong("site"), help: ArgumentHelp("Site file (default DIR/site.toml, else DIR/queues/site.toml).",
                                                          valueName: "FILE"))
    var siteFile: String?

    /// The options as the companion tools take them.
    var forwarded: [String] {
        (directory.map { ["--config", $0] } ?? []) + (siteFile.map { ["--site", $0] } ?? [])
    }
}
