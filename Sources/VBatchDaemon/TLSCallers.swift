import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOSSL
import VBatchAPI
import VBatchCore
import VBatchDrivers

/// Who is calling on the TLS listener: a listed relay asserting a user of its CE host, or
/// the holder of a bearer token. The TLS handshake has already checked any client
/// certificate against `[api] ca`; a connection without one can still present a token.
struct TLSCallerMiddleware: RouterMiddleware {
    typealias Context = VBatchRequestContext
    let configuration: Configuration
    let tokens: TokenBook
    let logger: Logger

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let path = request.uri.path
        if path == OpenAPIRoute.path || Dashboard.isPublic(path) { return try await next(request, context) }
        let browser = path == "/ui" || path.hasPrefix("/ui/")
        var context = context
        do {
            context.caller = try await caller(request, context)
        } catch let error as EngineError where browser && error.httpStatus == 401 {
            return Dashboard.redirect("/ui/login")
        } catch let error as EngineError {
            return errorResponse(error.httpStatus, error.description)
        } catch {
            return errorResponse(503, "cannot establish who is calling now (token store or TLS session): \(error)")
        }
        return try await next(request, context)
    }

    private func caller(_ request: Request, _ context: Context) async throws -> Caller {
        func header(_ name: String) -> String? {
            request.headers.first { $0.name.canonicalName == name.lowercased() }?.value
        }
        let asserted = header(API.RelayHeader.user)
        if let authorization = request.headers[.authorization] {
            guard asserted == nil else {
                throw EngineError.badRequest("a request carries either a token or a relay's assertion, not both")
            }
            guard authorization.lowercased().hasPrefix("bearer ") else {
                throw EngineError.unauthenticated("the Authorization header must be `Bearer TOKEN`")
            }
            let bearer = String(authorization.dropFirst(7)).trimmingCharacters(in: .whitespaces)
            return try tokens.caller(bearer: bearer, now: WallClock.now())
        }
        guard let asserted else {
            if let session = Dashboard.sessionToken(request) {
                // The dashboard's cookie: only its own scripts may make changes with it.
                guard request.method == .get || header(Dashboard.actionHeader) != nil else {
                    throw EngineError.forbidden("a change made with the dashboard's session must come from its pages "
                        + "(\(Dashboard.actionHeader) header)")
                }
                return try tokens.caller(bearer: session, now: WallClock.now())
            }
            throw EngineError.unauthenticated("no credentials: present a bearer token (vbatch token create), "
                + "or reach vbatchd through a relay (vbatch relay)")
        }
        var certificate: NIOSSLCertificate?
        if let channel = context.channel { certificate = try await channel.nioSSL_peerCertificate().get() }
        guard let certificate else {
            throw EngineError.unauthenticated("a user is asserted without a client certificate: only relays may assert users")
        }
        let relay = (try? certificate.toDERBytes()).flatMap(CertificateSubject.commonName(der:)) ?? ""
        guard configuration.site.api.relays.contains(relay) else {
            logger.warning("refused an assertion of \(asserted) by an unlisted certificate", metadata: ["cn": "\(relay)"])
            throw EngineError.forbidden("certificate \"\(relay)\" is not a relay of this site ([api] relays): it may not assert users")
        }
        guard InputLimits.isSafeName(asserted, maxLength: 64) else {
            throw EngineError.badRequest("relay \(relay) asserted an invalid user name")
        }
        let groups = (header(API.RelayHeader.groups) ?? "").split(separator: ",").map {
            String($0).trimmingCharacters(in: .whitespaces)
        }.filter { !$0.isEmpty }
        guard groups.count <= 256, groups.allSatisfy({ InputLimits.isSafeName($0, maxLength: 64) }) else {
            throw EngineError.badRequest("relay \(relay) asserted invalid group names")
        }
        guard let uid = Int(header(API.RelayHeader.uid) ?? ""), (0...Int(UInt32.max)).contains(uid) else {
            throw EngineError.badRequest("relay \(relay) asserted no valid uid (\(API.RelayHeader.uid))")
        }
        if uid == 0 || configuration.isOperator(user: asserted, groups: groups) {
            logger.warning("refused relay \(relay) asserting operator \(asserted)")
            throw EngineError.forbidden("\(asserted) is an operator: relays never act for operators "
                + "(use the socket on the server, or an operator token)")
        }
        let level: Logger.Level = request.method == .get ? .debug : .info
        logger.log(level: level, "relay \(relay) asserts \(asserted): \(request.method) \(request.uri.path)")
        return Caller(user: asserted, uid: uid, groups: groups, vo: configuration.vo(forUser: asserted, groups: groups),
                      isOperator: false, authority: .relay(relay))
    }
}
