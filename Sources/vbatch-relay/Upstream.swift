import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import NIOSSL

/// One request as the relay forwards it to vbatchd.
struct UpstreamRequest: Sendable {
    var method: HTTPMethod
    var uri: String
    var headers: HTTPHeaders
    var body: ByteBuffer?
}

/// vbatchd's answer, whole.
struct UpstreamResponse: Sendable {
    var status: HTTPResponseStatus
    var headers: HTTPHeaders
    var body: ByteBuffer
}

/// Why a request did not reach vbatchd or got no answer.
struct UpstreamError: Error, CustomStringConvertible {
    var description: String
    /// Nothing was sent: the request can go on another connection.
    var retryable: Bool
}

/// Mutual-TLS HTTP/1.1 connections to vbatchd, kept open and reused: a `qsub` loop on the
/// CE host pays for TCP and TLS handshakes once, not per job. One request at a time per
/// connection, at most `size` connections at a time: further requests wait for one.
actor UpstreamPool {
    let host: String
    let port: Int
    let size: Int
    private let sslContext: NIOSSLContext
    private let group: any EventLoopGroup
    private var idle: [UpstreamConnection] = []
    /// Connections open or being opened, idle ones included.
    private var open = 0
    private var waiting: [CheckedContinuation<Void, Never>] = []

    init(host: String, port: Int, size: Int, tls: TLSConfiguration, group: any EventLoopGroup) throws {
        self.host = host
        self.port = port
        self.size = size
        self.sslContext = try NIOSSLContext(configuration: tls)
        self.group = group
    }

    /// Sends `request` on an idle connection, a new one, or the next one freed. A request
    /// whose connection was found closed before anything was written goes on another one.
    func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        while true {
            let connection: UpstreamConnection
            if let reused = idle.popLast() {
                connection = reused
            } else if open < size {
                open += 1
                do {
                    connection = try await connect()
                } catch {
                    released()
                    throw error
                }
            } else {
                await withCheckedContinuation { waiting.append($0) }
                continue
            }
            do {
                let response = try await connection.send(request)
                keep(connection, after: response)
                return response
            } catch let error as UpstreamError where error.retryable {
                connection.channel.close(promise: nil)
                released()
            } catch {
                connection.channel.close(promise: nil)
                released()
                throw error
            }
        }
    }

    private func keep(_ connection: UpstreamConnection, after response: UpstreamResponse) {
        let closing = response.headers[canonicalForm: "connection"].contains { $0.lowercased() == "close" }
        if closing || !connection.channel.isActive {
            connection.channel.close(promise: nil)
            released()
        } else {
            idle.append(connection)
            if !waiting.isEmpty { waiting.removeFirst().resume() }
        }
    }

    /// A connection is gone: its slot goes to a waiting request.
    private func released() {
        open -= 1
        if !waiting.isEmpty { waiting.removeFirst().resume() }
    }

    private func connect() async throws -> UpstreamConnection {
        // A literal address is checked against the certificate's IP SANs; a name, against its DNS names.
        let isAddress = (try? SocketAddress(ipAddress: host, port: port)) != nil
        let serverName = isAddress ? nil : host
        let sslContext = self.sslContext
        let bootstrap = ClientBootstrap(group: group)
            .connectTimeout(.seconds(10))
            .channelOption(ChannelOptions.socketOption(.so_keepalive), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    let tls = try NIOSSLClientHandler(context: sslContext, serverHostname: serverName)
                    try channel.pipeline.syncOperations.addHandler(tls)
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseCollector())
                }
            }
        do {
            return UpstreamConnection(channel: try await bootstrap.connect(host: host, port: port).get())
        } catch {
            throw UpstreamError(description: "cannot connect to vbatchd at \(host):\(port): \(error)", retryable: false)
        }
    }
}

/// A connection to vbatchd with its ``ResponseCollector``.
struct UpstreamConnection: Sendable {
    let channel: any Channel

    /// Writes the request and waits for the whole response.
    func send(_ request: UpstreamRequest) async throws -> UpstreamResponse {
        guard channel.isActive else { throw UpstreamError(description: "connection closed", retryable: true) }
        let promise = channel.eventLoop.makePromise(of: UpstreamResponse.self)
        let channel = self.channel
        channel.eventLoop.execute {
            do {
                let collector = try channel.pipeline.syncOperations.handler(type: ResponseCollector.self)
                collector.expect(promise)
            } catch {
                promise.fail(error)
                return
            }
            var head = HTTPRequestHead(version: .http1_1, method: request.method, uri: request.uri, headers: request.headers)
            head.headers.replaceOrAdd(name: "Content-Length", value: "\(request.body?.readableBytes ?? 0)")
            channel.write(HTTPClientRequestPart.head(head), promise: nil)
            if let body = request.body { channel.write(HTTPClientRequestPart.body(.byteBuffer(body)), promise: nil) }
            channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        }
        do {
            return try await promise.futureResult.get()
        } catch let error as UpstreamError {
            channel.close(promise: nil)
            throw error
        } catch {
            channel.close(promise: nil)
            throw UpstreamError(description: "vbatchd's connection failed: \(error)", retryable: false)
        }
    }
}

/// Collects one response at a time; fails the waiting request if the connection ends first.
final class ResponseCollector: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPClientResponsePart

    private var promise: EventLoopPromise<UpstreamResponse>?
    private var head: HTTPResponseHead?
    private var body = ByteBuffer()

    func expect(_ promise: EventLoopPromise<UpstreamResponse>) {
        self.promise = promise
        head = nil
        body.clear()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let h):
            head = h
        case .body(var chunk):
            body.writeBuffer(&chunk)
        case .end:
            guard let head, let promise else { return }
            self.promise = nil
            promise.succeed(UpstreamResponse(status: head.status, headers: head.headers, body: body))
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        fail(UpstreamError(description: "vbatchd closed the connection before answering", retryable: false))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        fail(UpstreamError(description: "TLS or HTTP error talking to vbatchd: \(error)", retryable: false))
        context.close(promise: nil)
    }

    private func fail(_ error: UpstreamError) {
        guard let promise else { return }
        self.promise = nil
        promise.fail(error)
    }
}
