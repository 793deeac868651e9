#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import ArgumentParser

/// `vbatch image build | check | list`: the VM factory and the catalogue, run locally
/// against a configuration directory (no daemon involved).
///
/// The work is done by `vbatch-image`, installed next to `vbatch`, which these commands
/// exec once their arguments are checked: the factory needs Foundation, TOMLKit and the
/// configuration loader, which would make every `vbatch` process — one per submitted job —
/// start slower (2.0 → 2.45 ms, measured).
struct Image: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "image",
        abstract: "Build images from recipes (the VM factory), check and list the catalogue.",
        discussion: """
            These commands work on a configuration directory (--config DIR, else $VBATCH_CONFIG, \
            else the current directory), not through vbatchd. vbatchd reads the catalogue when it \
            starts: restart it to offer a newly built image. See docs/factory.md.
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

    /// The options as `vbatch-image` takes them.
    var forwarded: [String] {
        (directory.map { ["--config", $0] } ?? []) + (siteFile.map { ["--site", $0] } ?? [])
    }
}

/// Hands a checked command line to `vbatch-image`.
enum ImageTool {
    static let name = "vbatch-image"

    /// Replaces this process with `vbatch-image ARGUMENTS` (its output, errors and exit
    /// status are the command's); throws only if it cannot be started.
    static func exec(_ arguments: [String]) throws -> Never {
        let path = locate()
        var argv: [UnsafeMutablePointer<CChar>?] = ([path] + arguments).map { strdup($0) }
        argv.append(nil)
        execv(path, argv)
        let reason = String(cString: strerror(errno))
        throw CLIError("cannot run \(path): \(reason) (vbatch image needs \(name), built and installed with vbatch)")
    }

    /// `vbatch-image` in the directory of this executable, else `$VBATCH_IMAGE_TOOL`.
    private static func locate() -> String {
        if let tool = getenv("VBATCH_IMAGE_TOOL") { return String(cString: tool) }
        var buffer = [CChar](repeating: 0, count: 4096)
        let n = readlink("/proc/self/exe", &buffer, buffer.count - 1)
        guard n > 0 else { return name }
        let executable = String(decoding: buffer.prefix(n).map { UInt8(bitPattern: $0) }, as: UTF8.self)
        guard let slash = executable.lastIndex(of: "/") else { return name }
        return String(executable[...slash]) + name
    }
}
