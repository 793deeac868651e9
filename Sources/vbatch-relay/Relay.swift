import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL
import ServiceLifecycle
import VBatchAccounts
import VBatchAPI

/// The relay's side of a local connection: the channel, for `SO_PEERCRED`.
struct RelayContext: RequestContext {
    var coreContext: CoreRequestContextStorage
    let channel: (any Channel)?

    init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }

    /// The largest request the relay takes: vbatchd's own limit.
    var maxUploadSize: Int { API.maxRequestBytes }
}

/// Forwards each request of a local user to vbatchd, stating who the user is.
///
/// The user comes from the kernel (`SO_PEERCRED` of the local socket) and this host's
/// account database, never from the request: the headers a relay asserts with, and any
/// `Authorization`, are removed from what the client sent before the relay adds its own.
struct Forwarder: Sendable {
    let pool: UpstreamPool
    let logger: Logger

    /// Headers a local client may not send on: the relay's assertion is its own, and no token rides along.
    static let assertionHeaders = Set((API.RelayHeader.all + ["Authorization"]).map { $0.lowercased() })

    func respond(to request: Request, context: RelayContext) async throws -> Response {
        let credentials: PeerCredentials
        do {
            credentials = try await PeerCredentials.of(context.channel)
        } catch {
            return Self.error(403, .forbidden, "\(error)")
        }
        let account = UnixAccounts.shared.lookup(uid: credentials.uid, gid: credentials.gid)
        var headers = HTTPHeaders()
        for field in request.headers where !Self.assertionHeaders.contains(field.name.canonicalName) {
            if ["connection", "keep-alive", "transfer-encoding", "content-length", "host"].contains(field.name.canonicalName) { continue }
            headers.add(name: field.name.rawName, value: field.value)
        }
        headers.add(name: "Host", value: "\(pool.host):\(pool.port)")
        headers.add(name: API.RelayHeader.user, value: account.user)
        headers.add(name: API.RelayHeader.uid, value: "\(credentials.uid)")
        headers.add(name: API.RelayHeader.groups, value: account.groups.joined(separator: ","))
        let body = try await request.body.collect(upTo: API.maxRequestBytes)
        let forwarded = UpstreamRequest(method: HTTPMethod(rawValue: request.method.rawValue), uri: request.uri.description,
                                        headers: headers, body: body.readableBytes > 0 ? body : nil)
        let answer: UpstreamResponse
        do {
            answer = try await pool.send(forwarded)
        } catch {
            logger.error("\(request.method) \(request.uri.path) for \(account.user): \(error)")
            return Self.error(503, .unavailable, "the relay cannot reach vbatchd: \(error)")
        }
        var fields = HTTPFields()
        if let type = answer.headers.first(name: "Content-Type") { fields[.contentType] = type }
        if let retry = answer.headers.first(name: "Retry-After") { fields[.retryAfter] = retry }
        return Response(status: .init(code: Int(answer.status.code)), headers: fields, body: ResponseBody(byteBuffer: answer.body))
    }

    static func error(_ status: Int, _ code: ErrorResponse.Code, _ message: String) -> Response {
        let bytes = (try? JSONEncoder().encode(ErrorResponse(error: message, code: code))) ?? Data()
        return Response(status: .init(code: status), headers: [.contentType: "application/json"],
                        body: ResponseBody(byteBuffer: ByteBuffer(bytes: Array(bytes) + [0x0A])))
    }
}
