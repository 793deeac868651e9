#if canImport(Glibc)
import Glibc
#endif
import Logging

/// How `vbatchd` and `vbatch-relay` write their log lines to standard error
/// (`--log-format`).
public enum LogFormat: String, Sendable, CaseIterable {
    /// swift-log's own `StreamLogHandler` lines, for a person at a terminal.
    case text
    /// `time=… level=info label=vbatchd msg="…" key=value`, one line per entry (logfmt).
    case logfmt
    /// One JSON object per line: `time`, `level`, `label`, `msg`, `source` and the metadata keys.
    case json

    /// The formats as `--help` lists them: `text|logfmt|json`.
    public static var choices: String { allCases.map(\.rawValue).joined(separator: "|") }

    /// Makes every logger of the process write in this format to standard error. Call once,
    /// before the first logger is made (swift-log allows one bootstrap per process).
    public func bootstrap() {
        switch self {
        case .text: LoggingSystem.bootstrap(StreamLogHandler.standardError)
        case .logfmt, .json:
            let format = self
            LoggingSystem.bootstrap { label in StructuredLogHandler(label: label, format: format, sink: .standardError) }
        }
    }
}
