import VBatchAPI
import VBatchClient
import VBatchCore

/// Small display helpers shared by the table commands.
enum Format {
    /// `-` for a missing value.
    static func optional<T>(_ value: T?) -> String { value.map { "\($0)" } ?? "-" }

    static func time(_ t: Double?) -> String { t.map(UTCTime.format) ?? "-" }

    static func walltime(_ seconds: Int?) -> String { seconds.map(Quantities.formatWalltime) ?? "-" }

    static func memory(_ mb: Int?) -> String { mb.map(Quantities.formatMemory) ?? "-" }

    static func yesNo(_ b: Bool) -> String { b ? "yes" : "no" }

    /// A one-line, control-free rendering of user-supplied text for `show`.
    static func text(_ s: String?) -> String {
        guard let s, !s.isEmpty else { return "-" }
        return Table.clean(s, max: 1000)
    }
}
