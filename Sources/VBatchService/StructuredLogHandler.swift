#if canImport(Glibc)
import Glibc
#endif
import Logging

/// A swift-log handler that writes each entry as one line of logfmt or JSON.
///
/// Lines are written with a single `write(2)`, so lines of concurrent tasks never
/// interleave. Metadata comes from the logger, its metadata provider and the call, later
/// ones winning; keys that clash with the line's own fields (`time`, `level`, …) are written
/// as `metadata.KEY`.
public struct StructuredLogHandler: LogHandler {
    /// Where lines go: a file descriptor, or (for tests) a closure.
    public enum Sink: Sendable {
        case fileDescriptor(Int32)
        case lines(@Sendable (String) -> Void)

        public static let standardError = Sink.fileDescriptor(2)
    }

    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    public var logLevel: Logger.Level = .info
    private let label: String
    private let format: LogFormat
    private let sink: Sink

    /// `format` is `.logfmt` or `.json` (`.text` is swift-log's own handler).
    public init(label: String, format: LogFormat, metadataProvider: Logger.MetadataProvider? = nil, sink: Sink = .standardError) {
        precondition(format != .text, "text logs use StreamLogHandler")
        self.label = label
        self.format = format
        self.metadataProvider = metadataProvider
        self.sink = sink
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(level: Logger.Level, message: Logger.Message, metadata explicit: Logger.Metadata?,
                    source: String, file: String, function: String, line: UInt) {
        var merged = metadata
        if let provided = metadataProvider?.get() { merged.merge(provided) { $1 } }
        if let explicit { merged.merge(explicit) { $1 } }
        let entry = LogEntry(time: LogEntry.now(), level: level, label: label, message: message.description,
                             source: source, metadata: merged)
        let text = (format == .json ? entry.json : entry.logfmt) + "\n"
        switch sink {
        case .lines(let receive): receive(text)
        case .fileDescriptor(let fd):
            var bytes = Array(text.utf8)
            var offset = 0
            while offset < bytes.count {
                let written = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + offset, $0.count - offset) }
                if written < 0, errno == EINTR { continue }
                guard written > 0 else { return }
                offset += written
            }
        }
    }
}
