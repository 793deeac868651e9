/// The request targets of vbatchd's `/v1` API (see ``API`` in VBatchAPI).
public enum Route {
    public static let submit = "/v1/jobs"
    public static func jobs(all: Bool) -> String { all ? "/v1/jobs?all=1" : "/v1/jobs" }
    public static func job(_ id: Int64) -> String { "/v1/jobs/\(id)" }
    public static func hold(_ id: Int64) -> String { "/v1/jobs/\(id)/hold" }
    public static func release(_ id: Int64) -> String { "/v1/jobs/\(id)/release" }
    public static func suspend(_ id: Int64) -> String { "/v1/jobs/\(id)/suspend" }
    public static func resume(_ id: Int64) -> String { "/v1/jobs/\(id)/resume" }
    public static func checkpoint(_ id: Int64) -> String { "/v1/jobs/\(id)/checkpoint" }
    public static func output(_ id: Int64) -> String { "/v1/jobs/\(id)/output" }
    /// One spool file; `path` is percent-encoded here.
    public static func file(_ id: Int64, path: String) -> String {
        "/v1/jobs/\(id)/files?path=" + percentEncoded(path, keepingSlashes: true)
    }
    /// Operators: drain or resume a node; enable, disable, start or stop a queue.
    public static func nodeState(_ name: String) -> String { "/v1/nodes/\(percentEncoded(name, keepingSlashes: false))/state" }
    public static func imagePush(_ name: String) -> String { "/v1/images/\(percentEncoded(name, keepingSlashes: false))/push" }
    public static func nodeFence(_ name: String) -> String { "/v1/nodes/\(percentEncoded(name, keepingSlashes: false))/fence" }
    public static func queueState(_ name: String) -> String { "/v1/queues/\(percentEncoded(name, keepingSlashes: false))/state" }

    static func percentEncoded(_ text: String, keepingSlashes: Bool) -> String {
        let unreserved = Set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~".utf8)
        let hex = Array("0123456789ABCDEF".utf8)
        var encoded: [UInt8] = []
        for b in text.utf8 {
            if unreserved.contains(b) || (keepingSlashes && b == UInt8(ascii: "/")) {
                encoded.append(b)
            } else {
                encoded += [UInt8(ascii: "%"), hex[Int(b >> 4)], hex[Int(b & 15)]]
            }
        }
        return String(decoding: encoded, as: UTF8.self)
    }
    public static let queues = "/v1/queues"
    public static let nodes = "/v1/nodes"
    public static let whoami = "/v1/whoami"
    public static let reload = "/v1/reload"
    /// Operators: the running configuration with the origin of each value.
    public static let config = "/v1/config"
    /// Since-start figures of the daemon (`vbatch diag`).
    public static let diag = "/v1/diag"
    /// Bearer tokens for the TLS listener.
    public static let tokens = "/v1/tokens"
    public static func tokens(all: Bool) -> String { all ? "/v1/tokens?all=1" : "/v1/tokens" }
    public static func token(_ id: Int64) -> String { "/v1/tokens/\(id)" }

    public static func history(all: Bool, limit: Int?, since: Double? = nil) -> String {
        var query: [String] = []
        if all { query.append("all=1") }
        if let limit { query.append("limit=\(limit)") }
        if let since { query.append("since=\(since)") }
        return query.isEmpty ? "/v1/history" : "/v1/history?" + query.joined(separator: "&")
    }

    public static func accounting(since: Double?, until: Double?, all: Bool, by grouping: String? = nil) -> String {
        var query: [String] = grouping.map { ["by=\($0)"] } ?? []
        if let since { query.append("since=\(since)") }
        if let until { query.append("until=\(until)") }
        if all { query.append("all=1") }
        return query.isEmpty ? "/v1/accounting" : "/v1/accounting?" + query.joined(separator: "&")
    }
}
