import ArgumentParser
import VBatchAPI
import VBatchClient
import VBatchCore

/// `vbatch config show [--origin] [--json]`: the configuration the running vbatchd uses.
struct Config: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "config", abstract: "Show the configuration the running vbatchd uses (operators).",
        subcommands: [Show.self])

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Every setting of the running vbatchd, as `section.key = value` in TOML syntax.",
            discussion: """
                Lists every key of the site file, queues and images the daemon runs on — written or default — \
                like Slurm's `scontrol show config`. With --origin, each line ends with the file and line the \
                value was written on (relative to the configuration directory), or `(default)`. This is the \
                configuration vbatchd loaded at its start or last reload, not the files as they are now; \
                changes made at run time (node drain, queue stop) are shown by vbatch nodes and vbatch queues.
                """)

        @OptionGroup var connection: ConnectionOptions

        @Flag(help: "Add the file:line each value comes from, or (default).")
        var origin = false

        @Flag(help: "Print the daemon's JSON.")
        var json = false

        func run() throws {
            let client = connection.client()
            if json { return Output.json(try client.getJSON(Route.config)) }
            Output.print(Self.format(try client.config(), origins: origin))
        }

        /// `key = value` lines, the values aligned; with `origins`, `# file:line` aligned after them.
        static func format(_ config: ConfigResponse, origins: Bool) -> String {
            let keyWidth = config.settings.map(\.key.count).max() ?? 0
            let valueWidth = min(32, config.settings.map(\.value.count).max() ?? 0)
            var out = config.directory.map { "# configuration directory: \($0)\n" } ?? ""
            for setting in config.settings {
                var line = setting.key + String(repeating: " ", count: keyWidth - setting.key.count) + " = " + setting.value
                if origins {
                    line += String(repeating: " ", count: max(0, valueWidth - setting.value.count)) + "   # "
                        + (setting.origin ?? "(default)")
                }
                out += line + "\n"
            }
            return out
        }
    }
}
