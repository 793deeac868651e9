import Foundation
import Testing
import VBatchAPI
@testable import VBatchClient

@Suite("Client round trips over a Unix socket")
struct ClientRoundTripTests {
    static let job = JobInfo(id: 42, name: "job.sh", owner: "alice", vo: "cms", submitQueue: "grid", queue: "grid-short",
                             environment: "el9", cores: 2, memoryMB: 2048, walltime: 7200, state: .queued,
                             submitTime: 1_795_305_280)

    static func json<T: Encodable>(_ value: T) -> String {
        String(decoding: try! JSONEncoder().encode(value), as: UTF8.self)
    }

    @Test func submitSendsJSONAndDecodesTheAnswer() throws {
        let server = try CannedServer(responses: [Canned.fixed("201 Created", #"{"ids":[7,8,9],"queue":"grid-short"}"#, pieces: 3)])
        let client = VBatchClient(socketPath: server.path)
        let request = SubmitRequest(name: "n", queue: "grid", cores: 2, walltime: 7200, script: "#!/bin/sh\necho <&'\">\n",
                                    variables: ["A": "1"], count: 3)
        let response = try client.submit(request)
        #expect(response == SubmitResponse(ids: [7, 8, 9], queue: "grid-short"))

        let sent = server.requests()[0]
        let text = String(decoding: sent, as: UTF8.self)
        #expect(text.hasPrefix("POST /v1/jobs HTTP/1.1\r\nHost: localhost\r\n"))
        #expect(text.contains("\r\nConnection: close\r\n"))
        let body = sent[(sent.firstRange(of: Array("\r\n\r\n".utf8))!.upperBound)...]
        #expect(try JSONDecoder().decode(SubmitRequest.self, from: Data(body)) == request)
    }

    @Test func chunkedListInManyPieces() throws {
        let jobs = (1...50).map { i -> JobInfo in
            var j = Self.job
            j.id = Int64(i)
            return j
        }
        let body = Self.json(jobs)
        let server = try CannedServer(responses: [Canned.chunked("200 OK", body, chunks: 7),
                                                  Canned.chunked("200 OK", body, chunks: 3)])
        let client = VBatchClient(socketPath: server.path)
        #expect(try client.jobs(all: true) == jobs)
        #expect(try client.jobsJSON(all: false) == Array(body.utf8))
        let paths = server.requests().map { String(decoding: $0, as: UTF8.self).split(separator: " ")[1] }
        #expect(paths == ["/v1/jobs?all=1", "/v1/jobs"])
    }

    @Test func everyRouteAndMethod() throws {
        let detail = JobDetail(job: Self.job, history: [JobEvent(time: 1, state: .queued, reason: "submitted")])
        let node = NodeInfo(name: "wn1", uri: "qemu:///system", slots: 8, freeSlots: 6, memoryMB: 16384,
                            freeMemoryMB: 8192, enabled: true, environments: nil, jobs: [42])
        let queue = QueueInfo(name: "grid", kind: "routing", description: "", enabled: true, started: true,
                              destinations: ["grid-short"], queued: 1, running: 0)
        let me = WhoAmI(user: "alice", uid: 1000, vo: "cms", isOperator: false)
        let server = try CannedServer(responses: [
            Canned.fixed("200 OK", Self.json(detail)), Canned.fixed("200 OK", Self.json(Self.job)),
            Canned.fixed("200 OK", Self.json(Self.job)), Canned.fixed("200 OK", Self.json(Self.job)),
            Canned.fixed("200 OK", Self.json([queue])), Canned.fixed("200 OK", Self.json([node])),
            Canned.fixed("200 OK", Self.json([Self.job])), Canned.fixed("200 OK", Self.json(me)),
        ])
        let client = VBatchClient(socketPath: server.path)
        #expect(try client.job(42) == detail)
        #expect(try client.cancel(42) == Self.job)
        #expect(try client.hold(42) == Self.job)
        #expect(try client.release(42) == Self.job)
        #expect(try client.queues() == [queue])
        #expect(try client.nodes() == [node])
        #expect(try client.history(all: true, limit: 5) == [Self.job])
        #expect(try client.whoami() == me)
        let lines = server.requests().map { String(String(decoding: $0, as: UTF8.self).split(separator: "\r\n")[0]) }
        #expect(lines == [
            "GET /v1/jobs/42 HTTP/1.1", "DELETE /v1/jobs/42 HTTP/1.1", "POST /v1/jobs/42/hold HTTP/1.1",
            "POST /v1/jobs/42/release HTTP/1.1", "GET /v1/queues HTTP/1.1", "GET /v1/nodes HTTP/1.1",
            "GET /v1/history?all=1&limit=5 HTTP/1.1", "GET /v1/whoami HTTP/1.1",
        ])
    }

    @Test func serverErrorsBecomeOneLine() throws {
        let server = try CannedServer(responses: [
            Canned.fixed("400 Bad Request", #"{"error":"queue 'nope' does not exist"}"#),
            Canned.chunked("404 Not Found", #"{"error":{"message":"no job 9"}}"#, chunks: 2),
            ["HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/html\r\n\r\n<html>\nline two</html>"].map { Array($0.utf8) },
            Canned.fixed("403 Forbidden", #"{"error":"you may not\nuse \u001b[31m this"}"#),
        ])
        let client = VBatchClient(socketPath: server.path)
        #expect(throws: ClientError(.server, "queue 'nope' does not exist", status: 400)) {
            try client.submit(SubmitRequest(queue: "nope", script: "x"))
        }
        #expect(throws: ClientError(.server, "no job 9", status: 404)) { try client.job(9) }
        #expect(throws: ClientError(.server, "vbatchd answered 502 Bad Gateway", status: 502)) { try client.queues() }
        do {
            _ = try client.whoami()
            Issue.record("expected an error")
        } catch {
            #expect(error.message == "you may not use  [31m this")
            #expect(!error.description.contains("\n"))
        }
        _ = server.requests()
    }

    @Test func earlyAnswerToAnOversizedRequestIsStillRead() throws {
        let server = try CannedServer(responses: [Canned.fixed("413 Content Too Large", #"{"error":"request too large"}"#)],
                                      readBody: false)
        let script = String(repeating: "echo 0123456789abcdef\n", count: 200_000)
        #expect(throws: ClientError(.server, "request too large", status: 413)) {
            try VBatchClient(socketPath: server.path).submit(SubmitRequest(queue: "grid", script: script))
        }
        _ = server.requests()
    }

    @Test func rawReturnsAnyStatus() throws {
        let server = try CannedServer(responses: [Canned.fixed("418 I'm a teapot", "{}")])
        let (status, body) = try VBatchClient(socketPath: server.path).raw("PATCH", "/v1/x", body: Array("{}".utf8))
        #expect(status == 418)
        #expect(body == Array("{}".utf8))
    }

    @Test func badAnswers() throws {
        let server = try CannedServer(responses: [
            [],  // closes without answering
            Canned.fixed("200 OK", #"{"user":"alice"}"#),
            [Array("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort".utf8)],
        ])
        let client = VBatchClient(socketPath: server.path)
        #expect(throws: ClientError(.badResponse, "bad response from vbatchd at \(server.path): connection closed without a response")) {
            try client.whoami()
        }
        #expect(throws: ClientError(.decoding, "unexpected answer from vbatchd to GET /v1/whoami: missing field uid")) {
            try client.whoami()
        }
        #expect(throws: ClientError(.badResponse,
                                    "bad response from vbatchd at \(server.path): connection closed with 95 bytes of the body still missing")) {
            try client.whoami()
        }
        _ = server.requests()
    }

    @Test func timeout() throws {
        let server = try CannedServer(responses: [nil], hangSeconds: 2)
        let client = VBatchClient(socketPath: server.path, timeout: 1)
        #expect(throws: ClientError(.transport, "timed out waiting for vbatchd at \(server.path) while reading the response")) {
            try client.whoami()
        }
        _ = server.requests()
    }

    @Test func connectErrors() {
        let missing = "/tmp/vbatch-test-missing-\(getpid()).sock"
        #expect(throws: ClientError(.connect, "cannot connect to vbatchd at \(missing): No such file or directory "
                                             + "(is vbatchd running? set --socket or VBATCH_SOCKET)")) {
            try VBatchClient(socketPath: missing).whoami()
        }
        let long = "/tmp/" + String(repeating: "x", count: 200)
        #expect(throws: ClientError.self) { try VBatchClient(socketPath: long).whoami() }
        #expect(throws: ClientError.self) { try VBatchClient(socketPath: "").whoami() }
    }

    @Test func socketPathResolution() {
        #expect(VBatchClient.socketPath(explicit: "/x.sock") == "/x.sock")
        let env = getenv("VBATCH_SOCKET").map { String(cString: $0) }
        if let env, !env.isEmpty {
            #expect(VBatchClient.socketPath(explicit: nil) == env)
        } else {
            #expect(VBatchClient.socketPath(explicit: nil) == API.defaultSocket)
            #expect(VBatchClient.socketPath(explicit: "") == API.defaultSocket)
        }
    }
}
