#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import FoundationEssentials
import VBatchAPI

/// A synchronous client for vbatchd's HTTP/JSON API over its Unix socket.
///
/// Each call opens one connection, sends one request with `Connection: close` and reads one
/// response: the shape of a CLI process that makes one call and exits. Every failure is a
/// ``ClientError`` whose message is a single line.
public struct VBatchClient: Sendable {
    /// The socket this client connects to.
    public let socketPath: String
    /// Seconds a connect, send or receive may block; `0` waits forever.
    public let timeout: Int

    public init(socketPath: String, timeout: Int = 300) {
        self.socketPath = socketPath
        self.timeout = timeout
    }

    /// A client of the socket a command line names (`--socket`), else `$VBATCH_SOCKET`, else
    /// ``API/defaultSocket``.
    public init(socketOption explicit: String?) {
        self.init(socketPath: Self.socketPath(explicit: explicit))
    }

    /// Resolves the socket: explicit path, else `$VBATCH_SOCKET`, else ``API/defaultSocket``.
    public static func socketPath(explicit: String?) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = getenv("VBATCH_SOCKET") {
            let value = String(cString: env)
            if !value.isEmpty { return value }
        }
        return API.defaultSocket
    }

    // MARK: - Typed API

    /// Submits a job or job array (`POST /v1/jobs`); returns once the daemon has made it durable.
    public func submit(_ r: SubmitRequest) throws(ClientError) -> SubmitResponse {
        try read(checked("POST", Route.submit, body: r.json()), "POST", Route.submit) { (json) throws(JSONReader.Error) in
            try SubmitResponse(json: json)
        }
    }

    /// The caller's unfinished jobs, or everyone's visible jobs with `all` (`GET /v1/jobs`).
    public func jobs(all: Bool) throws(ClientError) -> [JobInfo] {
        try readJobs(Route.jobs(all: all))
    }

    /// The raw JSON body of `GET /v1/jobs`, for `--json` pass-through.
    public func jobsJSON(all: Bool) throws(ClientError) -> [UInt8] {
        try getJSON(Route.jobs(all: all))
    }

    /// One job with its history (`GET /v1/jobs/ID`).
    public func job(_ id: Int64) throws(ClientError) -> JobDetail {
        try read(checked("GET", Route.job(id), body: nil), "GET", Route.job(id)) { (json) throws(JSONReader.Error) in
            try JobDetail(json: json)
        }
    }

    /// A job's stdout, stderr, exit code and output file list (`GET /v1/jobs/ID/output`).
    public func output(_ id: Int64) throws(ClientError) -> JobOutput {
        try get(JobOutput.self, Route.output(id))
    }

    /// The bytes of one spool file of a job (`GET /v1/jobs/ID/files?path=…`).
    public func file(_ id: Int64, path: String) throws(ClientError) -> [UInt8] {
        try checked("GET", Route.file(id, path: path), body: nil)
    }

    /// Cancels a job (`DELETE /v1/jobs/ID`); returns it as it is afterwards.
    public func cancel(_ id: Int64) throws(ClientError) -> JobInfo {
        try decode(JobInfo.self, checked("DELETE", Route.job(id), body: nil), "DELETE", Route.job(id))
    }

    /// Pauses a running job's VM (`POST /v1/jobs/ID/suspend`).
    public func suspend(_ id: Int64) throws(ClientError) -> JobInfo {
        try decode(JobInfo.self, checked("POST", Route.suspend(id), body: nil), "POST", Route.suspend(id))
    }

    /// Lets a suspended job run on (`POST /v1/jobs/ID/resume`).
    public func resume(_ id: Int64) throws(ClientError) -> JobInfo {
        try decode(JobInfo.self, checked("POST", Route.resume(id), body: nil), "POST", Route.resume(id))
    }

    /// Saves a running job's VM and holds it (`POST /v1/jobs/ID/checkpoint`).
    public func checkpoint(_ id: Int64) throws(ClientError) -> JobInfo {
        try decode(JobInfo.self, checked("POST", Route.checkpoint(id), body: nil), "POST", Route.checkpoint(id))
    }

    /// Holds a job (`POST /v1/jobs/ID/hold`): a queued one stays queued, a running one is saved.
    public func hold(_ id: Int64) throws(ClientError) -> JobInfo {
        try decode(JobInfo.self, checked("POST", Route.hold(id), body: nil), "POST", Route.hold(id))
    }

    /// Releases a held or saved job (`POST /v1/jobs/ID/release`).
    public func release(_ id: Int64) throws(ClientError) -> JobInfo {
        try decode(JobInfo.self, checked("POST", Route.release(id), body: nil), "POST", Route.release(id))
    }

    /// All queues with their limits and counts (`GET /v1/queues`).
    public func queues() throws(ClientError) -> [QueueInfo] {
        try get([QueueInfo].self, Route.queues)
    }

    /// All worker nodes (`GET /v1/nodes`).
    public func nodes() throws(ClientError) -> [NodeInfo] {
        try get([NodeInfo].self, Route.nodes)
    }

    /// Drains a node or puts it back (operators; `POST /v1/nodes/NAME/state`).
    public func setNode(_ name: String, _ change: NodeStateRequest) throws(ClientError) -> NodeInfo {
        let path = Route.nodeState(name)
        return try decode(NodeInfo.self, checked("POST", path, body: encode(change)), "POST", path)
    }

    /// Copies an image into nodes' caches (operators); returns when every node is done.
    public func pushImage(_ name: String, _ push: ImagePushRequest) throws(ClientError) -> [ImagePushResult] {
        let path = Route.imagePush(name)
        return try decode([ImagePushResult].self, checked("POST", path, body: encode(push)), "POST", path)
    }

    /// Fences a node (operators): its VMs are declared gone and its jobs requeued or failed.
    public func fenceNode(_ name: String, _ fence: NodeFenceRequest) throws(ClientError) -> NodeInfo {
        let path = Route.nodeFence(name)
        return try decode(NodeInfo.self, checked("POST", path, body: encode(fence)), "POST", path)
    }

    /// Enables, disables, starts or stops a queue (operators; `POST /v1/queues/NAME/state`).
    public func setQueue(_ name: String, _ change: QueueStateRequest) throws(ClientError) -> QueueInfo {
        let path = Route.queueState(name)
        return try decode(QueueInfo.self, checked("POST", path, body: encode(change)), "POST", path)
    }

    /// Has vbatchd read its configuration files again (operators; `POST /v1/reload`); fails,
    /// changing nothing, if they hold errors.
    public func reload() throws(ClientError) -> ReloadResponse {
        try decode(ReloadResponse.self, checked("POST", Route.reload, body: nil), "POST", Route.reload)
    }

    /// A new bearer token for the TLS listener (`POST /v1/tokens`); its secret is shown only here.
    public func createToken(_ request: TokenRequest) throws(ClientError) -> TokenCreated {
        try decode(TokenCreated.self, checked("POST", Route.tokens, body: encode(request)), "POST", Route.tokens)
    }

    /// The caller's tokens, or everyone's with `all` (operators), newest first (`GET /v1/tokens`).
    public func tokens(all: Bool) throws(ClientError) -> [TokenInfo] {
        try get([TokenInfo].self, Route.tokens(all: all))
    }

    /// Revokes a token (`DELETE /v1/tokens/ID`).
    public func revokeToken(_ id: Int64) throws(ClientError) -> TokenInfo {
        try decode(TokenInfo.self, checked("DELETE", Route.token(id), body: nil), "DELETE", Route.token(id))
    }

    /// Finished jobs, newest first (`GET /v1/history`).
    public func history(all: Bool, limit: Int?, since: Double? = nil) throws(ClientError) -> [JobInfo] {
        try readJobs(Route.history(all: all, limit: limit, since: since))
    }

    /// Accounting records of jobs that ended in `[since, until)` (`GET /v1/accounting`): the
    /// caller's own, or everyone's with `all` (operators).
    public func accounting(since: Double?, until: Double?, all: Bool) throws(ClientError) -> AccountingReport {
        try get(AccountingReport.self, Route.accounting(since: since, until: until, all: all))
    }

    /// The same records summed per `grouping` by the daemon (`GET /v1/accounting?by=…`).
    public func accountingSummary(since: Double?, until: Double?, all: Bool,
                                  by grouping: AccountingSummary.Grouping) throws(ClientError) -> AccountingSummary {
        try get(AccountingSummary.self, Route.accounting(since: since, until: until, all: all, by: grouping.rawValue))
    }

    /// Who the daemon takes the caller to be (`GET /v1/whoami`).
    /// The configuration vbatchd runs on, with origins (`GET /v1/config`, operators).
    public func config() throws(ClientError) -> ConfigResponse {
        try get(ConfigResponse.self, Route.config)
    }

    public func whoami() throws(ClientError) -> WhoAmI {
        try get(WhoAmI.self, Route.whoami)
    }

    /// The daemon's since-start figures, like Slurm's `sdiag` (`GET /v1/diag`).
    public func diagnostics() throws(ClientError) -> Diagnostics {
        try get(Diagnostics.self, Route.diag)
    }

    // MARK: - Untyped API

    /// `GET path`; the body of a 2xx answer, unparsed (for `--json`). Non-2xx answers throw.
    public func getJSON(_ path: String) throws(ClientError) -> [UInt8] {
        try checked("GET", path, body: nil)
    }

    /// Sends one request and returns the status and body whatever the status.
    public func raw(_ method: String, _ path: String, body: [UInt8]?) throws(ClientError) -> (status: Int, body: [UInt8]) {
        let response = try send(method, path, body: body)
        return (response.status, response.body)
    }

    /// Sends one request and returns the whole response.
    public func send(_ method: String, _ path: String, body: [UInt8]?) throws(ClientError) -> HTTPResponse {
        let request = try HTTPRequest.serialize(method: method, path: path, body: body)
        let connection = try connect()
        var parser = HTTPResponseParser(requestMethod: method)
        return try connection.exchange(request, parser: &parser)
    }

    /// How long a client waits for a reloading daemon to serve again.
    static let reloadWait: Double = 30

    /// Connects; while the daemon reloads (its socket's `.reloading` marker exists) a refused
    /// connection is tried again, so a reload does not fail a CE's commands.
    private func connect() throws(ClientError) -> UnixSocketConnection {
        let marker = API.reloadMarker(socketPath: socketPath)
        let deadline = Self.monotonicSeconds() + Self.reloadWait
        while true {
            do {
                return try UnixSocketConnection(path: socketPath, timeout: timeout)
            } catch where error.kind == .connect && access(marker, F_OK) == 0 && Self.monotonicSeconds() < deadline {
                usleep(50_000)
            }
        }
    }

    private static func monotonicSeconds() -> Double {
        var now = timespec()
        clock_gettime(CLOCK_MONOTONIC, &now)
        return Double(now.tv_sec) + Double(now.tv_nsec) / 1e9
    }

    // MARK: - Helpers

    /// The body of a 2xx answer; otherwise the daemon's error as a ``ClientError``.
    private func checked(_ method: String, _ path: String, body: [UInt8]?) throws(ClientError) -> [UInt8] {
        let response = try send(method, path, body: body)
        guard response.isSuccess else { throw Self.serverError(response) }
        return response.body
    }

    private func get<T: Decodable>(_ type: T.Type, _ path: String) throws(ClientError) -> T {
        try decode(type, checked("GET", path, body: nil), "GET", path)
    }

    /// A job list (`GET` of `path`), read without Codable: `qstat` and `vbatch status` read
    /// 10,000 jobs in a process that lives a few milliseconds (VBatchAPI/WireJSON.swift).
    private func readJobs(_ path: String) throws(ClientError) -> [JobInfo] {
        try read(checked("GET", path, body: nil), "GET", path) { (json) throws(JSONReader.Error) in try [JobInfo](json: json) }
    }

    /// An answer of the per-job commands, read by ``JSONReader`` rather than `JSONDecoder`.
    private func read<T>(_ body: [UInt8], _ method: String, _ path: String,
                         _ decode: ([UInt8]) throws(JSONReader.Error) -> T) throws(ClientError) -> T {
        do {
            return try decode(body)
        } catch {
            throw ClientError(.decoding, "unexpected answer from vbatchd to \(method) \(path): \(error)")
        }
    }

    private func encode<T: Encodable>(_ value: T) throws(ClientError) -> [UInt8] {
        do {
            return Array(try JSONEncoder().encode(value))
        } catch {
            throw ClientError(.invalidRequest, "cannot encode the request: \(error)")
        }
    }

    private func decode<T: Decodable>(_ type: T.Type, _ body: [UInt8], _ method: String, _ path: String) throws(ClientError) -> T {
        do {
            return try JSONDecoder().decode(type, from: Data(body))
        } catch let error as DecodingError {
            throw ClientError(.decoding, "unexpected answer from vbatchd to \(method) \(path): \(Self.summary(error))")
        } catch {
            throw ClientError(.decoding, "unexpected answer from vbatchd to \(method) \(path): \(error)")
        }
    }

    /// The daemon's message for a non-2xx response: ``ErrorResponse/error``, Hummingbird's
    /// `{"error":{"message":…}}`, or else the status line.
    static func serverError(_ response: HTTPResponse) -> ClientError {
        if let message = ErrorResponse.message(json: response.body) {
            return ClientError(.server, message, status: response.status)
        }
        let reason = response.reason.isEmpty ? "" : " \(response.reason)"
        return ClientError(.server, "vbatchd answered \(response.status)\(reason)", status: response.status)
    }

    private static func summary(_ error: DecodingError) -> String {
        func path(_ keys: [any CodingKey]) -> String {
            keys.isEmpty ? "top level" : keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
        }
        switch error {
        case .keyNotFound(let key, let c): return "missing field \(path(c.codingPath + [key]))"
        case .typeMismatch(let type, let c): return "\(path(c.codingPath)) is not a \(type)"
        case .valueNotFound(let type, let c): return "\(path(c.codingPath)) is null, expected \(type)"
        case .dataCorrupted(let c): return "\(path(c.codingPath)): \(c.debugDescription)"
        @unknown default: return "\(error)"
        }
    }
}
