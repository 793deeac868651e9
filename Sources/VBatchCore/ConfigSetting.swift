/// One value of the configuration a daemon runs on, with where it was written
/// (`vbatch config show [--origin]`, `GET /v1/config`).
public struct ConfigSetting: Sendable, Equatable, Codable {
    /// The dotted TOML key: `site.placement`, `queue.one-way.walltime_max`.
    public var key: String
    /// The value in TOML syntax: `"10h"`, `4`, `true`, `["atlas", "cms"]`; `(unset)` for an
    /// optional key that is neither written nor defaulted.
    public var value: String
    /// `file:line` of the key (the path relative to the configuration directory when inside
    /// it); nil when the value is the default.
    public var origin: String?

    public init(key: String, value: String, origin: String?) {
        self.key = key
        self.value = value
        self.origin = origin
    }
}
