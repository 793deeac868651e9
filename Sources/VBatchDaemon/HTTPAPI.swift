import Foundation
import Hummingbird
import Logging
import NIOCore
import VBatchAccounts
import VBatchConfig
import VBatchAPI
import VBatchCore
import VBatchDrivers
import VBatchStore

/// Request context carrying the socket channel (for peer credentials) and the caller.
public struct VBatchRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    let channel: (any Channel)?
    /// Set by ``CallerMiddleware`` before any route runs.
    public var caller: Caller?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}

/// Establishes the caller from `SO_PEERCRED` of the Unix socket connection.
struct SocketCallerMiddleware: RouterMiddleware {
    typealias Context = VBatchRequestContext
    let configuration: Configuration

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let credentials: PeerCredentials
        do {
            credentials = try await PeerCredentials.of(context.channel)
        } catch {
            return errorResponse(403, "\(error)")
        }
        var context = context
        context.caller = Caller.resolve(uid: credentials.uid, gid: credentials.gid, configuration: configuration)
        return try await next(request, context)
    }
}

/// Refuses what the caller's channel does not allow (a read token writing), and gives
/// every error, Hummingbird's own (no such route, body too large) included, the JSON shape
/// of ``ErrorResponse``.
struct AccessMiddleware: RouterMiddleware {
    typealias Context = VBatchRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let caller = context.caller, !caller.mayUse(method: request.method.rawValue) {
            return errorResponse(403, "a read token may only read (GET); this is \(request.method)")
        }
        do {
            return try await next(request, context)
        } catch let error as HTTPError {
            return errorResponse(Int(error.status.code), error.body ?? error.status.reasonPhrase)
        }
    }
}

/// How a listener establishes who is calling.
public enum ListenerIdentity: Sendable {
    /// The Unix socket on the server: `SO_PEERCRED`.
    case unixSocket
    /// The TLS listener: a listed relay's assertion, or a bearer token.
    case tls(Logger)
}

/// Builds the router of the daemon's API over an engine; used by `vbatchd` and the tests.
/// The TLS listener also serves the dashboard, whose event streams `streams` ends at shutdown.
public func buildRouter(engine: Engine, tokens: TokenBook, reloader: Reloader? = nil,
                        identity: ListenerIdentity = .unixSocket,
                        streams: DashboardStreams = DashboardStreams()) -> Router<VBatchRequestContext> {
    let router = Router(context: VBatchRequestContext.self)
    router.add(middleware: RequestMetricsMiddleware(metrics: engine.metrics))
    switch identity {
    case .unixSocket:
        router.add(middleware: SocketCallerMiddleware(configuration: engine.configuration))
    case .tls(let logger):
        router.add(middleware: TLSCallerMiddleware(configuration: engine.configuration, tokens: tokens, logger: logger))
    }
    router.add(middleware: AccessMiddleware())
    if case .tls = identity { Dashboard.addRoutes(to: router, engine: engine, tokens: tokens, streams: streams) }
    router.get(RouterPath(OpenAPIRoute.path)) { _, _ in
        Response(status: .ok, headers: [.contentType: "application/json"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: OpenAPIDocument.json)))
    }
    let v1 = router.group("v1")

    v1.post("tokens") { request, context in
        await respond(status: 201) {
            let token = try await decode(TokenRequest.self, request, what: "token request")
            return try encode(try tokens.create(token, caller: context.caller!, now: WallClock.now()))
        }
    }
    v1.get("tokens") { request, context in
        await respond {
            try encode(try tokens.list(caller: context.caller!, all: request.uri.queryParameters["all"] == "1"))
        }
    }
    v1.delete("tokens/:id") { _, context in
        await respond { try encode(try tokens.revoke(id: try jobID(context, what: "token id"), caller: context.caller!, now: WallClock.now())) }
    }

    v1.post("jobs") { request, context in
        await respond(status: 201) {
            let submit = try await decode(SubmitRequest.self, request, what: "submission")
            return try encode(try await engine.submit(submit, caller: context.caller!))
        }
    }
    v1.get("jobs") { request, context in
        await respond { try await engine.activeJobsJSON(caller: context.caller!, all: request.uri.queryParameters["all"] == "1") }
    }
    v1.get("jobs/:id") { _, context in
        await respond { try encode(try await engine.job(try jobID(context), caller: context.caller!)) }
    }
    v1.delete("jobs/:id") { _, context in
        await respond { try encode(try await engine.cancel(try jobID(context), caller: context.caller!)) }
    }
    v1.post("jobs/:id/hold") { _, context in
        await respond { try encode(try await engine.hold(try jobID(context), caller: context.caller!)) }
    }
    v1.post("jobs/:id/release") { _, context in
        await respond { try encode(try await engine.release(try jobID(context), caller: context.caller!)) }
    }
    v1.post("jobs/:id/suspend") { _, context in
        await respond { try encode(try await engine.suspend(try jobID(context), caller: context.caller!)) }
    }
    v1.post("jobs/:id/resume") { _, context in
        await respond { try encode(try await engine.resume(try jobID(context), caller: context.caller!)) }
    }
    v1.post("jobs/:id/checkpoint") { _, context in
        await respond { try encode(try await engine.checkpoint(try jobID(context), caller: context.caller!)) }
    }
    v1.get("jobs/:id/output") { _, context in
        await respond { try encode(try await engine.output(try jobID(context), caller: context.caller!)) }
    }
    v1.get("jobs/:id/files") { request, context in
        await respond(contentType: "application/octet-stream") {
            let path = request.uri.queryParameters["path"].map(String.init) ?? ""
            return try await engine.file(try jobID(context), path: path, caller: context.caller!)
        }
    }
    v1.get("queues") { _, _ in
        await respond { try encode(await engine.queues()) }
    }
    v1.get("nodes") { _, _ in
        await respond { try encode(await engine.nodes()) }
    }
    v1.post("nodes/:name/state") { request, context in
        await respond {
            try operatorOnly(context, "drain or resume nodes")
            let change = try await decode(NodeStateRequest.self, request, what: "node change")
            return try encode(try await engine.setNode(try name(context), change, caller: context.caller!))
        }
    }
    v1.post("nodes/:name/fence") { request, context in
        await respond {
            try operatorOnly(context, "fence nodes")
            let fence = try await decode(NodeFenceRequest.self, request, what: "node fence")
            return try encode(try await engine.fence(try name(context), fence, caller: context.caller!))
        }
    }
    v1.post("images/:name/push") { request, context in
        await respond {
            try operatorOnly(context, "push images to nodes")
            let push = try await decode(ImagePushRequest.self, request, what: "image push")
            return try encode(try await engine.pushImage(try name(context), push, caller: context.caller!))
        }
    }
    v1.post("queues/:name/state") { request, context in
        await respond {
            try operatorOnly(context, "change queues")
            let change = try await decode(QueueStateRequest.self, request, what: "queue change")
            return try encode(try await engine.setQueue(try name(context), change, caller: context.caller!))
        }
    }
    v1.post("reload") { _, context in
        await respond {
            guard context.caller!.isOperator else { throw EngineError.forbidden("only operators may reload the configuration") }
            guard let reloader else { throw EngineError.conflict("this vbatchd cannot reload") }
            return try encode(ReloadResponse(message: try await reloader.reload(requestedBy: context.caller!.user)))
        }
    }
    v1.get("config") { _, context in
        await respond {
            try operatorOnly(context, "read the configuration")
            return try encode(ConfigResponse(directory: engine.configuration.sourceDirectory,
                                                 settings: engine.configuration.settings))
        }
    }
    v1.get("history") { request, context in
        await respond {
            var limit: Int?
            if let text = request.uri.queryParameters["limit"] {
                guard let value = Int(String(text)), value >= 1 else { throw EngineError.badRequest("limit must be a number of at least 1") }
                limit = value
            }
            var since: Double?
            if let text = request.uri.queryParameters["since"] {
                guard let value = Double(String(text)), value.isFinite else { throw EngineError.badRequest("since must be a Unix time in seconds") }
                since = value
            }
            return try await engine.history(caller: context.caller!, all: request.uri.queryParameters["all"] == "1", limit: limit,
                                            since: since)
        }
    }
    v1.get("accounting") { request, context in
        await respond {
            func time(_ name: Substring) throws -> Double? {
                guard let text = request.uri.queryParameters[name] else { return nil }
                guard let value = Double(String(text)), value.isFinite else {
                    throw EngineError.badRequest("\(name) must be a Unix time in seconds")
                }
                return value
            }
            let since = try time("since") ?? 0, until = try time("until") ?? Date().timeIntervalSince1970 + 1
            let all = request.uri.queryParameters["all"] == "1"
            if let by = request.uri.queryParameters["by"] {
                guard let grouping = AccountingSummary.Grouping(rawValue: String(by)) else {
                    throw EngineError.badRequest("by must be one of \(AccountingSummary.Grouping.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                return try encode(try await engine.accountingSummary(caller: context.caller!, since: since, until: until,
                                                                     all: all, by: grouping))
            }
            return try encode(try await engine.accounting(caller: context.caller!, since: since, until: until, all: all))
        }
    }
    router.get(RouterPath(MetricsRoute.path)) { _, _ in
        await respond(contentType: MetricsRoute.contentType) {
            Array(engine.metrics.exposition(snapshot: try await engine.snapshot(), configuration: engine.configuration,
                                            stateDirectory: engine.spoolRoot).utf8)
        }
    }
    v1.get("diag") { _, _ in
        await respond { try encode(await engine.diagnostics()) }
    }
    v1.get("whoami") { _, context in
        await respond {
            let c = context.caller!
            return try encode(WhoAmI(user: c.user, uid: c.uid, vo: c.vo, isOperator: c.isOperator, via: c.authority.description))
        }
    }
    return router
}

/// Operator routes refuse others before reading their body, so a bad body from a user is a 403, not a 400.
private func operatorOnly(_ context: VBatchRequestContext, _ what: String) throws {
    guard context.caller?.isOperator == true else { throw EngineError.forbidden("only operators may \(what)") }
}

/// Where Prometheus scrapes: any authenticated caller (a read token will do) may read it.
enum MetricsRoute {
    static let path = "/metrics"
    static let contentType = "text/plain; version=0.0.4; charset=utf-8"
}

/// Counts and times every answered request by its route template, for `/metrics` and `vbatch diag`.
struct RequestMetricsMiddleware: RouterMiddleware {
    typealias Context = VBatchRequestContext
    let metrics: SiteMetrics

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let started = ContinuousClock.now
        var status = 500
        defer {
            metrics.apiRequest(method: request.method.rawValue, route: context.endpointPath ?? "unknown", status: status,
                               duration: ContinuousClock.now - started)
        }
        do {
            let response = try await next(request, context)
            status = Int(response.status.code)
            return response
        } catch let error as HTTPError {
            status = Int(error.status.code)
            throw error
        }
    }
}

/// Where the OpenAPI document is served, without authentication.
enum OpenAPIRoute {
    static let path = "/v1/openapi.json"
}

private func jobID(_ context: VBatchRequestContext, what: String = "job id") throws -> Int64 {
    guard let text = context.parameters.get("id"), let id = Int64(text), id > 0 else {
        throw EngineError.badRequest("\(what) must be a positive number")
    }
    return id
}

private func name(_ context: VBatchRequestContext) throws -> String {
    guard let name = context.parameters.get("name"), !name.isEmpty else { throw EngineError.badRequest("a name is required") }
    return name
}

/// The request's JSON body as `type`; a body that does not decode is the client's error.
private func decode<T: Decodable>(_ type: T.Type, _ request: Request, what: String) async throws -> T {
    let body = try await request.body.collect(upTo: API.maxRequestBytes)
    do {
        return try JSONDecoder().decode(type, from: Data(buffer: body))
    } catch {
        throw EngineError.badRequest("malformed \(what): \(error)")
    }
}

private func encode<T: Encodable>(_ value: T) throws -> [UInt8] {
    Array(try JSONEncoder().encode(value)) + [0x0A]
}

/// Runs a handler and turns its result or its error into a JSON response.
private func respond(status: Int = 200, contentType: String = "application/json",
                     _ body: () async throws -> [UInt8]) async -> Response {
    do {
        let bytes = try await body()
        return Response(status: .init(code: status), headers: [.contentType: contentType],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes)))
    } catch let error as EngineError {
        return errorResponse(error.httpStatus, error.description)
    } catch let error as HTTPError {
        return errorResponse(Int(error.status.code), error.body ?? "\(error.status)")
    } catch let error as StoreError {
        // A full state directory is a refusal to try again later, not the daemon's fault.
        if case .full = error { return errorResponse(503, "\(error): nothing was recorded; try again once space is freed") }
        return errorResponse(500, "internal error: \(error)")
    } catch {
        return errorResponse(500, "internal error: \(error)")
    }
}

func errorResponse(_ status: Int, _ message: String) -> Response {
    let body = ErrorResponse(error: message, code: ErrorResponse.Code(status: status))
    let bytes = (try? JSONEncoder().encode(body)).map(Array.init) ?? []
    return Response(status: .init(code: status), headers: [.contentType: "application/json"],
                    body: ResponseBody(byteBuffer: ByteBuffer(bytes: bytes + [0x0A])))
}
