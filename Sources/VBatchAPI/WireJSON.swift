import VBatchCore

// Hand-written JSON for the wire types of the CLI's hot paths (`vbatch submit`, `vbatch status`,
// `qsub`, `qstat`): a `vbatch` process starts once per grid job, and `JSONEncoder`/`JSONDecoder`
// cost it protocol-conformance scans on every generic instantiation and ~130 ms for 10,000 jobs.
// The encoders write what `JSONEncoder` would (nil optionals left out); the decoders accept
// what `JSONDecoder` would accept for the same `Codable` types: unknown members are skipped, a
// repeated member counts once (the first), `null` is nil for optionals and an error otherwise,
// integer fields take only whole numbers in range, and enums only their raw values. One
// difference: they check that the whole text is well-formed JSON, where `JSONDecoder` checks
// only what it decodes (it lets invalid UTF-8 or a control character pass in a member it
// skips). The `http` fuzz target holds them to this against `JSONDecoder`.

// MARK: - SubmitRequest

extension JSONWriter {
    /// A submission as an object `JSONDecoder` decodes to an equal ``SubmitRequest``, with
    /// `JSONEncoder`'s member names; nil optionals are left out and variables sorted by name.
    public mutating func submitRequest(_ r: SubmitRequest) {
        raw("{\"queue\":"); string(r.queue)
        raw(",\"script\":"); string(r.script)
        raw(",\"arguments\":[")
        for (i, a) in r.arguments.enumerated() {
            if i > 0 { raw(",") }
            string(a)
        }
        raw("],\"variables\":{")
        for (i, (name, value)) in r.variables.sorted(by: { $0.key < $1.key }).enumerated() {
            if i > 0 { raw(",") }
            string(name)
            raw(":")
            string(value)
        }
        raw("},\"count\":"); int(r.count)
        raw(r.held ? ",\"held\":true" : ",\"held\":false")
        if let v = r.name { raw(",\"name\":"); string(v) }
        if let v = r.cores { raw(",\"cores\":"); int(v) }
        if let v = r.memoryMB { raw(",\"memoryMB\":"); int(v) }
        if let v = r.walltime { raw(",\"walltime\":"); int(v) }
        if let v = r.environment { raw(",\"environment\":"); string(v) }
        raw("}")
    }
}

extension SubmitRequest {
    /// This submission as the JSON body of `POST /v1/jobs`, without `JSONEncoder` (the CLI's
    /// per-process cost); see ``JSONWriter/submitRequest(_:)``.
    public func json() -> [UInt8] {
        var w = JSONWriter(capacity: 256 + script.utf8.count)
        w.submitRequest(self)
        return w.bytes
    }
}

// MARK: - SubmitResponse

extension SubmitResponse {
    static let jsonFields: [StaticString] = ["ids", "queue"]

    /// The answer to `POST /v1/jobs`, decoded without `JSONDecoder` (the CLI's per-process cost).
    public init(json: [UInt8]) throws(JSONReader.Error) {
        self = try JSONReader.read(json) { (r) throws(JSONReader.Error) in try SubmitResponse(reading: &r) }
    }

    /// Reads one `SubmitResponse` object.
    public init(reading r: inout JSONReader) throws(JSONReader.Error) {
        var ids: [Int64] = []
        var queue = ""
        try r.readObject(fields: Self.jsonFields, required: 0b11) { (r, field) throws(JSONReader.Error) in
            switch field {
            case 0: ids = try r.readArray { (r) throws(JSONReader.Error) in try r.readInt64() }
            default: queue = try r.readString()
            }
        }
        self.init(ids: ids, queue: queue)
    }
}

// MARK: - JobInfo

extension JobInfo {
    /// Member names in declaration order (the order ``JSONWriter/job(_:)`` and the daemon's job
    /// list write them in, which makes lookups hit on the first try).
    static let jsonFields: [StaticString] = [
        "id", "name", "owner", "vo", "submitQueue", "queue", "environment", "cores", "memoryMB", "walltime",
        "state", "submitTime", "startTime", "endTime", "node", "cpus", "exitCode", "reason", "cpuTime",
        "savedNode", "pausedSeconds",
    ]
    /// The non-optional members: id, name, owner, submitQueue, queue, environment, cores,
    /// memoryMB, walltime, state, submitTime.
    static let jsonRequired: UInt64 = 0b1111_1111_0111

    /// A job (`DELETE /v1/jobs/ID`, `POST /v1/jobs/ID/hold`, …), decoded without `JSONDecoder`
    /// (the CLI's per-process cost).
    public init(json: [UInt8]) throws(JSONReader.Error) {
        self = try JSONReader.read(json) { (r) throws(JSONReader.Error) in try JobInfo(reading: &r) }
    }

    /// Reads one `JobInfo` object.
    public init(reading r: inout JSONReader) throws(JSONReader.Error) {
        var id: Int64 = 0
        var name = "", owner = "", submitQueue = "", queue = "", environment = ""
        var vo: String?, node: String?, reason: String?, savedNode: String?
        var cores = 0, memoryMB = 0, walltime = 0
        var state = JobState.queued
        var submitTime = 0.0
        var startTime: Double?, endTime: Double?, cpuTime: Double?, pausedSeconds: Double?
        var cpus: [Int]?
        var exitCode: Int?
        try r.readObject(fields: Self.jsonFields, required: Self.jsonRequired) { (r, field) throws(JSONReader.Error) in
            switch field {
            case 0: id = try r.readInt64()
            case 1: name = try r.readString()
            case 2: owner = try r.readString()
            case 3: vo = try r.skipNull() ? nil : r.readString()
            case 4: submitQueue = try r.readString()
            case 5: queue = try r.readString()
            case 6: environment = try r.readString()
            case 7: cores = try r.readInt()
            case 8: memoryMB = try r.readInt()
            case 9: walltime = try r.readInt()
            case 10: state = try r.readEnum(JobState.self)
            case 11: submitTime = try r.readDouble()
            case 12: startTime = try r.skipNull() ? nil : r.readDouble()
            case 13: endTime = try r.skipNull() ? nil : r.readDouble()
            case 14: node = try r.skipNull() ? nil : r.readString()
            case 15: cpus = try r.skipNull() ? nil : r.readArray { (r) throws(JSONReader.Error) in try r.readInt() }
            case 16: exitCode = try r.skipNull() ? nil : r.readInt()
            case 17: reason = try r.skipNull() ? nil : r.readString()
            case 18: cpuTime = try r.skipNull() ? nil : r.readDouble()
            case 19: savedNode = try r.skipNull() ? nil : r.readString()
            default: pausedSeconds = try r.skipNull() ? nil : r.readDouble()
            }
        }
        self.init(id: id, name: name, owner: owner, vo: vo, submitQueue: submitQueue, queue: queue,
                  environment: environment, cores: cores, memoryMB: memoryMB, walltime: walltime, state: state,
                  submitTime: submitTime, startTime: startTime, endTime: endTime, node: node, cpus: cpus,
                  exitCode: exitCode, reason: reason, cpuTime: cpuTime, savedNode: savedNode,
                  pausedSeconds: pausedSeconds)
    }
}

extension Array where Element == JobInfo {
    /// A job list (`GET /v1/jobs`, `GET /v1/history`: what the daemon's job list writer or
    /// `JSONEncoder` produce), decoded without `JSONDecoder` (the CLI's per-process cost).
    public init(json: [UInt8]) throws(JSONReader.Error) {
        self = try JSONReader.read(json) { (r) throws(JSONReader.Error) in
            // A job takes 150 bytes of JSON at the least (its keys alone).
            try r.readArray(reserving: json.count / 150) { (r) throws(JSONReader.Error) in try JobInfo(reading: &r) }
        }
    }
}

// MARK: - JobDetail (`qstat -f`)

extension JobEvent {
    static let jsonFields: [StaticString] = ["time", "state", "reason"]

    /// Reads one `JobEvent` object.
    public init(reading r: inout JSONReader) throws(JSONReader.Error) {
        var time = 0.0
        var state = JobState.queued
        var reason = ""
        try r.readObject(fields: Self.jsonFields, required: 0b111) { (r, field) throws(JSONReader.Error) in
            switch field {
            case 0: time = try r.readDouble()
            case 1: state = try r.readEnum(JobState.self)
            default: reason = try r.readString()
            }
        }
        self.init(time: time, state: state, reason: reason)
    }
}

extension JobDetail {
    static let jsonFields: [StaticString] = ["job", "history", "waiting", "node"]

    /// One job with its history (`GET /v1/jobs/ID`, `qstat -f`), decoded without `JSONDecoder`
    /// (the CLI's per-process cost).
    public init(json: [UInt8]) throws(JSONReader.Error) {
        self = try JSONReader.read(json) { (r) throws(JSONReader.Error) in try JobDetail(reading: &r) }
    }

    /// Reads one `JobDetail` object.
    public init(reading r: inout JSONReader) throws(JSONReader.Error) {
        var job: JobInfo?
        var history: [JobEvent] = []
        var waiting: String?, node: String?
        try r.readObject(fields: Self.jsonFields, required: 0b11) { (r, field) throws(JSONReader.Error) in
            switch field {
            case 0: job = try JobInfo(reading: &r)
            case 1: history = try r.readArray { (r) throws(JSONReader.Error) in try JobEvent(reading: &r) }
            case 2: waiting = try r.skipNull() ? nil : r.readString()
            default: node = try r.skipNull() ? nil : r.readString()
            }
        }
        self.init(job: job!, history: history, waiting: waiting, node: node)
    }
}

// MARK: - Error bodies

extension ErrorResponse {
    static let jsonFields: [StaticString] = ["error", "code"]

    /// The daemon's error body, decoded without `JSONDecoder` (the CLI's per-process cost).
    public init(json: [UInt8]) throws(JSONReader.Error) {
        self = try JSONReader.read(json) { (r) throws(JSONReader.Error) in try ErrorResponse(reading: &r) }
    }

    /// Reads one `ErrorResponse` object.
    public init(reading r: inout JSONReader) throws(JSONReader.Error) {
        var message = ""
        var code: String?
        try r.readObject(fields: Self.jsonFields, required: 0b1) { (r, field) throws(JSONReader.Error) in
            switch field {
            case 0: message = try r.readString()
            default: code = try r.skipNull() ? nil : r.readString()
            }
        }
        self.init(error: message, code: .internal)
        self.code = code
    }

    /// The message to show for a non-2xx answer's body: ``ErrorResponse/error``, else the
    /// `{"error":{"message":…}}` of ``NestedErrorResponse`` (Hummingbird's own errors), whichever
    /// decodes with a non-empty message; nil if neither does.
    public static func message(json: [UInt8]) -> String? {
        if let e = try? ErrorResponse(json: json), !e.error.isEmpty { return e.error }
        if let e = try? NestedErrorResponse(json: json), !e.message.isEmpty { return e.message }
        return nil
    }
}

/// The error body of answers made by the HTTP framework rather than by vbatchd's handlers
/// (an unknown route, a body too large): `{"error":{"message":"…"}}`. Decoded without
/// `JSONDecoder`, for the CLI's per-process cost.
public struct NestedErrorResponse: Sendable, Equatable {
    public var message: String

    public init(message: String) { self.message = message }

    static let outerFields: [StaticString] = ["error"]
    static let innerFields: [StaticString] = ["message"]

    public init(json: [UInt8]) throws(JSONReader.Error) {
        self = try JSONReader.read(json) { (r) throws(JSONReader.Error) in try NestedErrorResponse(reading: &r) }
    }

    /// Reads one `{"error":{"message":…}}` object.
    public init(reading r: inout JSONReader) throws(JSONReader.Error) {
        var message = ""
        try r.readObject(fields: Self.outerFields, required: 0b1) { (r, _) throws(JSONReader.Error) in
            try r.readObject(fields: Self.innerFields, required: 0b1) { (r, _) throws(JSONReader.Error) in
                message = try r.readString()
            }
        }
        self.init(message: message)
    }
}
