import Foundation
import Hummingbird
import NIOCore
import ServiceLifecycle
import Synchronization
import VBatchAPI
import VBatchCore
import VBatchDrivers

/// The web dashboard at `/ui/` on the TLS listener: server-rendered pages, a little plain
/// JavaScript for live updates (server-sent events from the job-event table) and for the
/// actions, which go to the ordinary API and so obey the same rules as the CLI.
///
/// A browser signs in by pasting a token (`vbatch token create`); the token is kept in an
/// HttpOnly, Secure, SameSite=Strict cookie and stands for the caller exactly as a bearer
/// token does. Requests that change something must carry `X-VBatch-UI`, which a page of
/// another origin cannot send, so the cookie alone never authorises a change.
enum Dashboard {
    static let cookie = "vbatch_session"
    /// The header the dashboard's scripts send with every change (see ``TLSCallerMiddleware``).
    static let actionHeader = "X-VBatch-UI"
    /// Paths served without a caller: signing in and out, and the static files.
    static func isPublic(_ path: String) -> Bool {
        path == "/ui/login" || path == "/ui/logout" || path.hasPrefix("/ui/static/")
    }

    /// The bearer token in the request's session cookie, if any.
    static func sessionToken(_ request: Request) -> String? {
        for header in request.headers where header.name == .cookie {
            for part in header.value.split(separator: ";") {
                let pair = part.trimmingCharacters(in: .whitespaces)
                if pair.hasPrefix(cookie + "=") { return String(pair.dropFirst(cookie.count + 1)) }
            }
        }
        return nil
    }

    static func addRoutes(to router: Router<VBatchRequestContext>, engine: Engine, tokens: TokenBook,
                          streams: DashboardStreams) {
        let site = engine.configuration.site.name
        let configuration = engine.configuration
        let ui = router.group("ui")

        ui.get("static/app.css") { _, _ in asset(DashboardAssets.css, "text/css; charset=utf-8") }
        ui.get("static/app.js") { _, _ in asset(DashboardAssets.javascript, "text/javascript; charset=utf-8") }
        ui.get("login") { request, _ in
            html(loginPage(site: site, problem: request.uri.queryParameters["error"] == nil ? nil : .badToken))
        }
        ui.post("login") { request, _ in
            // A sign-in posted by another site's page would sign the browser in as someone else.
            guard isSameOrigin(request) else { return html(loginPage(site: site, problem: .otherSite), status: .forbidden) }
            let body = try await request.body.collect(upTo: 16 << 10)
            let form = formFields(String(buffer: body))
            let token = (form["token"] ?? "").trimmingCharacters(in: .whitespacesAndNewlines)
            let now = WallClock.now()
            guard let expires = (try? tokens.session(bearer: token, now: now))?.expires else { return redirect("/ui/login?error=1") }
            var response = redirect("/ui/")
            response.headers[.setCookie] = "\(cookie)=\(token); Path=/; Max-Age=\(max(1, Int(expires - now))); HttpOnly; Secure; SameSite=Strict"
            return response
        }
        ui.post("logout") { _, _ in
            var response = redirect("/ui/login")
            response.headers[.setCookie] = "\(cookie)=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict"
            return response
        }
        ui.get("") { request, context in
            try await page(request, context, site: site, title: "Overview", tab: .overview) { caller in
                DashboardPages.overview(try await engine.dashboardOverview(), caller: caller, configuration: configuration)
            }
        }
        ui.get("jobs") { request, context in
            try await page(request, context, site: site, title: "Jobs", tab: .jobs) { caller in
                let query = Dictionary(request.uri.queryParameters.map { (String($0.key), String($0.value)) },
                                       uniquingKeysWith: { a, _ in a })
                let filter = DashboardPages.JobFilter(query)
                let now = WallClock.now()
                let (jobs, total) = try await engine.dashboardJobs(
                    filter.storeQuery(endedSince: now - 86400, limit: DashboardPages.jobListLimit), caller: caller)
                return DashboardPages.jobs(jobs, total: total, filter: filter, caller: caller, configuration: configuration,
                                           now: now)
            }
        }
        ui.get("jobs/:id") { request, context in
            guard let id = context.parameters.get("id").flatMap(Int64.init) else { throw HTTPError(.notFound) }
            return try await page(request, context, site: site, title: "Job \(id)", tab: .jobs) { caller in
                let detail = try await engine.job(id, caller: caller)
                // The page redraws often: only the streams' and the console's last 64 KiB.
                let output = try? await engine.output(id, caller: caller, maxStreamBytes: 64 << 10)
                let console = try? await engine.consoleTail(id, caller: caller, maxBytes: 64 << 10)
                return DashboardPages.job(detail, output: output, console: console, caller: caller, configuration: configuration)
            }
        }
        ui.get("nodes") { request, context in
            try await page(request, context, site: site, title: "Nodes", tab: .nodes) { caller in
                DashboardPages.nodes(try await engine.snapshot(), caller: caller, configuration: configuration)
            }
        }
        ui.get("events") { request, context in
            events(engine: engine, caller: context.caller!, after: request.headers[.init("Last-Event-ID")!].flatMap { Int64($0) },
                   streams: streams)
        }
    }

    // MARK: - Pages

    /// Renders a page for the caller: the whole document, or only `<main>`'s contents when
    /// the page's script asks for a fresh copy (`?fragment=1`). A refused job page shows the
    /// refusal in the layout rather than a JSON error.
    static func page(_ request: Request, _ context: VBatchRequestContext, site: String, title: String,
                     tab: DashboardPages.Tab, main: (Caller) async throws -> String) async throws -> Response {
        let caller = context.caller!
        var content: String
        var status: HTTPResponse.Status = .ok
        do {
            content = try await main(caller)
        } catch let error as EngineError {
            status = .init(code: error.httpStatus)
            content = "<section class=\"card error\"><h1>\(status.code)</h1><p>\(HTML.escape(error.description))</p></section>"
        }
        if request.uri.queryParameters["fragment"] == "1" { return html(content, status: status) }
        return html(DashboardPages.layout(title: title, tab: tab, caller: caller, site: site, main: content),
                    status: status)
    }

    /// Why the sign-in page is shown again.
    enum SignInProblem {
        case badToken, otherSite

        var message: String {
            switch self {
            case .badToken: "That token is invalid, expired or revoked."
            case .otherSite: "A sign-in sent from another site's page was refused."
            }
        }
    }

    static func loginPage(site: String, problem: SignInProblem?) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>Sign in · vbatch \(HTML.escape(site))</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/ui/static/app.css"></head>
        <body class="login"><form class="card login-card" method="post" action="/ui/login">
        <h1>vbatch <small>\(HTML.escape(site))</small></h1>
        <p>Paste a token made with <code>vbatch token create</code> (a <em>read</em> token to look, <em>user</em> to act on your
        jobs, <em>operator</em> to manage the site).</p>
        \(problem.map { "<p class=\"error\" role=\"alert\">\($0.message)</p>" } ?? "")
        <label>Token <input name="token" type="password" autocomplete="off" required autofocus placeholder="vbt_…"></label>
        <button class="btn primary">Sign in</button></form></body></html>
        """
    }

    // MARK: - Live updates

    /// Server-sent events: each new job event the caller may see (`event: job`), and a
    /// `tick` every 5 s so node and scheduler figures refresh too. The stream ends after 10
    /// minutes or when the daemon stops or reloads (``DashboardStreams``); the browser
    /// reconnects with `Last-Event-ID`.
    static func events(engine: Engine, caller: Caller, after: Int64?, streams: DashboardStreams) -> Response {
        let body = ResponseBody { writer in
            var last: Int64
            if let after { last = after } else { last = try await engine.lastEventID() }
            try await writer.write(ByteBuffer(string: "retry: 2000\n: following job events after \(last)\n\n"))
            let started = ContinuousClock.now
            var lastTick = ContinuousClock.now
            let encoder = JSONEncoder()
            while ContinuousClock.now - started < .seconds(600), !Task.isCancelled, !streams.isClosing {
                let (events, through) = try await engine.dashboardEvents(after: last, caller: caller)
                var text = ""
                for event in events {
                    text += "id: \(event.id)\nevent: job\ndata: \(String(decoding: try encoder.encode(event), as: UTF8.self))\n\n"
                }
                last = through
                if ContinuousClock.now - lastTick >= .seconds(5) {
                    text += "id: \(last)\nevent: tick\ndata: {}\n\n"
                    lastTick = ContinuousClock.now
                }
                if !text.isEmpty { try await writer.write(ByteBuffer(string: text)) }
                try await Task.sleep(for: .milliseconds(250))
            }
            try await writer.finish(nil)
        }
        return Response(status: .ok, headers: [.contentType: "text/event-stream", .cacheControl: "no-store"], body: body)
    }

    // MARK: - Responses

    static func html(_ text: String, status: HTTPResponse.Status = .ok) -> Response {
        Response(status: status, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store",
                                           .init("Content-Security-Policy")!: contentSecurityPolicy,
                                           .init("X-Frame-Options")!: "DENY"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    /// Scripts and styles only from the dashboard itself; inline `style` attributes carry the VO colours.
    static let contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        + "img-src 'self' data:; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"

    static func asset(_ text: String, _ type: String) -> Response {
        Response(status: .ok, headers: [.contentType: type, .cacheControl: "max-age=300"],
                 body: ResponseBody(byteBuffer: ByteBuffer(string: text)))
    }

    static func redirect(_ location: String) -> Response {
        Response(status: .seeOther, headers: [.location: location, .cacheControl: "no-store"])
    }

    /// Whether a browser's `Origin` (sent with every cross-site POST) names this listener;
    /// a request without one (not from a browser page) passes.
    static func isSameOrigin(_ request: Request) -> Bool {
        guard let origin = request.headers[.origin] else { return true }
        guard let host = request.head.authority else { return false }
        return origin == "https://" + host
    }

    /// Fields of an `application/x-www-form-urlencoded` body.
    static func formFields(_ body: String) -> [String: String] {
        var fields: [String: String] = [:]
        for pair in body.split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1).map {
                String($0).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? ""
            }
            if let key = parts.first { fields[key] = parts.count > 1 ? parts[1] : "" }
        }
        return fields
    }
}

/// Ends the dashboard's event streams when the daemon stops or reloads. Each stream is an
/// HTTP response that never finishes by itself, and the server's graceful shutdown waits
/// for every response: one open browser tab would hold a stop or a reload for the stream's
/// whole lifetime. Listed last in the daemon's service group, this service is told of the
/// shutdown first and closes the streams before the listeners wait for them.
public final class DashboardStreams: Service, Sendable {
    private let closing = Mutex(false)

    public init() {}

    /// Streams end at their next poll (within a quarter of a second) once this is true.
    var isClosing: Bool { closing.withLock { $0 } }

    public func run() async throws {
        try? await gracefulShutdown()
        closing.withLock { $0 = true }
    }
}
