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
///   before the engine sees it, and through the client's writer (`SubmitRequest.json()`),
///   which must give it back equal. An unknown route decodes the body as a submission.
/// - A response (starts with `HTTP/`): what the daemon or a relay sends the `vbatch` client,
///   through `HTTPResponseParser` (status line, headers, `Content-Length`, chunked bodies,
///   trailers), once whole and once fed in small pieces; both must give the same result.
///   A complete body is decoded as the client decodes answers (`WireJSON`: a submission's
///   ids, job lists, a job's detail, error bodies), and must give what `JSONDecoder` gives for
///   the same `Codable` type: both read equal values, or both refuse it, or only WireJSON
///   refuses it because it is not well-formed JSON (see ``agree(_:_:_:)``).
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
            // The client writes submissions without JSONEncoder; the daemon must read them back whole.
            let rewritten = try? decoder.decode(SubmitRequest.self, from: Data(submit.json()))
            FuzzCheck.require(rewritten == submit, "SubmitRequest.json() reads back equal: \(submit) → \(String(describing: rewritten))")
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
                wireJSONAgreesWithJSONDecoder(whole.body)
                _ = ErrorResponse.message(json: whole.body)
                _ = whole.header("content-type")
            }
        }
    }

    /// The client's Codable-free decoders against `JSONDecoder` on the same body.
    static func wireJSONAgreesWithJSONDecoder(_ body: [UInt8]) {
        agree(body, SubmitResponse.self) { (b) throws(JSONReader.Error) in try SubmitResponse(json: b) }
        agree(body, [JobInfo].self) { (b) throws(JSONReader.Error) in try [JobInfo](json: b) }
        agree(body, JobDetail.self) { (b) throws(JSONReader.Error) in try JobDetail(json: b) }
        agree(body, ErrorResponse.self) { (b) throws(JSONReader.Error) in try ErrorResponse(json: b) }
    }

    /// What WireJSON reads, JSONDecoder reads equal; what JSONDecoder reads, WireJSON reads
    /// too, unless the text is not well-formed JSON: JSONDecoder checks only the members it
    /// decodes, WireJSON the whole text, and JSONSerialization (which builds every value)
    /// must then refuse it as well.
    static func agree<T: Decodable & Equatable>(_ body: [UInt8], _ type: T.Type,
                                                _ read: ([UInt8]) throws(JSONReader.Error) -> T) {
        let theirs = try? JSONDecoder().decode(T.self, from: Data(body))
        do {
            let ours = try read(body)
            FuzzCheck.require(ours == theirs, "\(T.self): WireJSON read \(ours), JSONDecoder \(theirs.map { "\($0)" } ?? "nothing")")
        } catch {
            guard let theirs else { return }
            let malformed = [.syntax, .unexpectedEnd, .tooDeep].contains(error.kind)
                && (try? JSONSerialization.jsonObject(with: Data(body), options: .fragmentsAllowed)) == nil
            FuzzCheck.require(malformed, "\(T.self): WireJSON refused well-formed JSON (\(error)), JSONDecoder read \(theirs)")
        }
    }
}
