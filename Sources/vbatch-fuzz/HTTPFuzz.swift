import Foundation
import VBatchAPI
import VBatchClient

/// `http`: bytes as one HTTP/1.1 message of the API, either direction.
///
/// - A request (`POST /v1/jobs HTTP/1.1`, headers, blank line, body): the body goes where the
///   daemon's route for that method and path sends it (`buildRouter` in VBatchDaemon):
///   `JSONDecoder` into the route's request type (`SubmitRequest`, `TokenRequest`,
///   `NodeStateRequest`, `NodeFenceRequest`, `ImagePushRequest`, `QueueStateRequest`), and a
///   submission on through `InputLimits.problem(with:)`, the daemon's check of every field
///   before the engine sees it. An unknown route decodes the body as a submission.
/// - A response (starts with `HTTP/`): what the daemon or a relay sends the `vbatch` client,
///   through `HTTPResponseParser` (status line, headers, `Content-Length`, chunked bodies,
///   trailers), once whole and once fed in small pieces; both must give the same result.
///   A complete body is decoded as the client decodes error and job-list answers.
///
/// Hummingbird's and SwiftNIO's own HTTP/1.1 parsing (llhttp) is upstream code with fuzzing
/// of its own, and reaching the routes through it needs a running engine (store, drivers);
/// this target covers the project's code that reads what a request carries.
enum HTTPFuzz {
    static let target = FuzzTarget(
        name: "http",
        summary: "API message: request body decoding and InputLimits by route, or HTTPResponseParser on a response",
        run: { bytes in
            let data = Array(bytes)
            if data.starts(with: Array("HTTP/".utf8)) {
                response(data)
            } else {
                request(data)
            }
        })

    static func request(_ data: [UInt8]) {
        // Request line and head end at the first blank line (CRLF or LF).
        var headEnd = data.count, bodyStart = data.count
        for i in data.indices {
            if data[i...].starts(with: [13, 10, 13, 10]) { headEnd = i; bodyStart = i + 4; break }
            if data[i...].starts(with: [10, 10]) { headEnd = i; bodyStart = i + 2; break }
        }
        let head = String(decoding: data[..<headEnd], as: UTF8.self)
        let line = head.split(separator: "\n", maxSplits: 1).first ?? ""
        let words = line.split(separator: " ")
        let method = words.first.map(String.init) ?? ""
        let target = words.count > 1 ? String(words[1]) : "/"
        let path = String(target.split(separator: "?", maxSplits: 1).first ?? "")
        let body = Data(data[bodyStart...])
        let decoder = JSONDecoder()
        let segments = path.split(separator: "/").map(String.init)
        switch (method, segments.count >= 2 ? segments[1] : "", segments.last ?? "") {
        case ("POST", "tokens", _):
            _ = try? decoder.decode(TokenRequest.self, from: body)
        case ("POST", "nodes", "state"):
            _ = try? decoder.decode(NodeStateRequest.self, from: body)
        case ("POST", "nodes", "fence"):
            _ = try? decoder.decode(NodeFenceRequest.self, from: body)
        case ("POST", "images", "push"):
            _ = try? decoder.decode(ImagePushRequest.self, from: body)
        case ("POST", "queues", "state"):
            _ = try? decoder.decode(QueueStateRequest.self, from: body)
        default:
            guard let submit = try? decoder.decode(SubmitRequest.self, from: body) else { return }
            if InputLimits.problem(with: submit) == nil {
                // What the check lets through is what the engine and the job disk rely on.
                FuzzCheck.require(!submit.script.isEmpty && !submit.script.utf8.contains(0), "accepted script")
                FuzzCheck.require(submit.variables.keys.allSatisfy(InputLimits.isVariableName), "accepted variables")
                FuzzCheck.require(InputLimits.isSafeName(submit.queue, maxLength: 64), "accepted queue name")
            }
        }
    }

    static func response(_ data: [UInt8]) {
        for method in ["GET", "HEAD"] {
            let whole: HTTPResponse?
            do { whole = try HTTPResponseParser.parse(data, requestMethod: method) } catch { whole = nil }
            var parser = HTTPResponseParser(requestMethod: method)
            var pieces: HTTPResponse?
            do {
                var i = 0, size = 1
                while i < data.count {
                    let end = min(data.count, i + size)
                    if try parser.feed(Array(data[i..<end])) { break }
                    i = end
                    size = size % 7 + 1
                }
                pieces = try parser.finish()
            } catch {
                pieces = nil
            }
            FuzzCheck.require(whole == pieces, "the same response whole and in pieces (\(method))")
            if let whole, method == "GET" {
                let decoder = JSONDecoder()
                _ = try? decoder.decode(ErrorResponse.self, from: Data(whole.body))
                _ = try? decoder.decode([JobInfo].self, from: Data(whole.body))
                _ = whole.header("content-type")
            }
        }
    }
}
