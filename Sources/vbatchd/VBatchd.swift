import ArgumentParser
import Foundation
import Logging
import VBatchConfig
import VBatchCore
import VBatchDaemon
import VBatchService

/// `vbatchd`: the vbatch daemon.
@main
struct VBatchd: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "vbatchd",
        abstract: "The vbatch daemon: queues, scheduling and VMs for a grid site.",
        discussion: """
            Reads DIR/queues/*.toml, DIR/images/*.toml and the site file, rebuilds its state \
            from STATE/vbatch.sqlite and serves the API on a Unix socket. With --check it only \
            validates the configuration and reports every error with file, line and key. \
            Started by systemd with Type=notify ($NOTIFY_SOCKET), it reports readiness once the \
            socket is bound, a status line, reloads (SIGHUP) and its stop, and sends the watchdog \
            keep-alive ($WATCHDOG_USEC) while its engine answers.
            """)

    @Option(name: .long, help: ArgumentHelp("Configuration directory (holds queues/ and images/).", valueName: "DIR"))
    var config: String

    @Option(name: .long, help: ArgumentHelp("Site file; default DIR/site.toml, else DIR/queues/site.toml.", valueName: "FILE"))
    var site: String?

    @Option(name: .long, help: ArgumentHelp("State directory (job store, spool, lock).", valueName: "DIR"))
    var state: String?

    @Option(name: .long, help: ArgumentHelp("Unix socket to serve; default STATE/vbatchd.sock.", valueName: "PATH"))
    var socket: String?

    @Flag(name: .long, help: "Validate the configuration and exit.")
    var check = false

    @Option(name: .long, help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String = "info"

    @Option(name: .long, help: ArgumentHelp("Log lines on standard error: text, logfmt or json (one object per line).",
                                            valueName: LogFormat.choices))
    var logFormat: String = LogFormat.text.rawValue

    func validate() throws {
        if !check, state == nil { throw ValidationError("--state DIR is required (or use --check)") }
        if Logger.Level(rawValue: logLevel) == nil { throw ValidationError("unknown log level '\(logLevel)'") }
        if LogFormat(rawValue: logFormat) == nil { throw ValidationError("--log-format must be one of \(LogFormat.choices)") }
    }

    func run() async throws {
        LogFormat(rawValue: logFormat)!.bootstrap()
        let configuration: Configuration
        do {
            configuration = try ConfigLoader.load(directory: config, siteFile: site)
        } catch let errors as ConfigErrors {
            FileHandle.standardError.write(Data("\(errors)\n".utf8))
            FileHandle.standardError.write(Data("vbatchd: \(errors.errors.count) configuration error(s)\n".utf8))
            throw ExitCode(1)
        }
        if check {
            print("configuration OK: \(configuration.summary)")
            for warning in configuration.warnings { print("warning: \(warning)") }
            return
        }
        let stateDirectory = state!
        let (directory, siteFile) = (config, site)
        var current = configuration
        do {
            // A reload returns with the new, checked configuration: start again on it.
            while case .reload(let next) = try await Daemon.run(.init(
                configuration: current, stateDirectory: stateDirectory,
                socketPath: socket ?? stateDirectory + "/vbatchd.sock", configDirectory: config,
                logLevel: Logger.Level(rawValue: logLevel)!,
                reload: { try ConfigLoader.load(directory: directory, siteFile: siteFile) },
                notifier: .fromEnvironment())) {
                current = next
            }
        } catch let error as DaemonError {
            FileHandle.standardError.write(Data("vbatchd: error: \(error)\n".utf8))
            throw ExitCode(1)
        }
    }
}
