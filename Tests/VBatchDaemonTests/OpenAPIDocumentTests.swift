import Foundation
import Hummingbird
import Logging
import Testing
import VBatchAPI
import VBatchCore
@testable import VBatchDaemon
import VBatchDrivers
import VBatchStore

/// Keeps `OpenAPIDocument` true: it is a well-formed OpenAPI 3.0 document, it documents exactly
/// the routes `buildRouter` registers, and the wire types encode as its schemas say.
@Suite("OpenAPI document")
struct OpenAPIDocumentTests {
    let document: OpenAPIJSON
    let schemas: [String: OpenAPIJSON]

    init() throws {
        document = try JSONDecoder().decode(OpenAPIJSON.self, from: Data(OpenAPIDocument.json.utf8))
        schemas = document["components"]?["schemas"]?.object ?? [:]
    }

    static let methods = ["get", "put", "post", "delete", "patch", "head", "options", "trace"]

    /// Every `(METHOD, /path)` the document has an operation for.
    var documentedRoutes: Set<String> {
        var routes: Set<String> = []
        for (path, item) in document["paths"]?.object ?? [:] {
            for method in Self.methods where item[method] != nil { routes.insert("\(method.uppercased()) \(path)") }
        }
        return routes
    }

    // MARK: - (a) A well-formed document

    @Test func isOpenAPI30WithResolvableReferences() throws {
        #expect(document["openapi"]?.string?.hasPrefix("3.0.") == true)
        #expect(document["info"]?["title"]?.string != nil && document["info"]?["version"]?.string != nil)
        var references: [String] = []
        func collect(_ value: OpenAPIJSON) {
            switch value {
            case .object(let object):
                if let target = object["$ref"]?.string { references.append(target) }
                object.values.forEach(collect)
            case .array(let array): array.forEach(collect)
            default: break
            }
        }
        collect(document)
        #expect(!references.isEmpty)
        for target in Set(references) {
            #expect(resolve(target) != nil, "unresolved $ref \(target)")
        }
        // Every schema is used somewhere (a stale one is a sign of drift).
        for name in schemas.keys {
            #expect(references.contains("#/components/schemas/\(name)"), "schema \(name) is never referenced")
        }
    }

    @Test func everyOperationIsComplete() throws {
        var operationIDs: [String] = []
        for (path, item) in document["paths"]?.object ?? [:] {
            // Prometheus scrapes /metrics, where it looks by default.
            #expect(path.hasPrefix("/v1/") || path == "/metrics", "\(path) is outside /v1")
            let templated = Set(path.split(separator: "/").filter { $0.hasPrefix("{") }.map { String($0.dropFirst().dropLast()) })
            for method in Self.methods {
                guard let operation = item[method] else { continue }
                let label = "\(method.uppercased()) \(path)"
                if let id = operation["operationId"]?.string { operationIDs.append(id) } else { Issue.record("\(label): no operationId") }
                let responses = operation["responses"]?.object ?? [:]
                #expect(responses["default"] != nil, "\(label): no default response")
                #expect(responses.keys.contains { $0.hasPrefix("2") }, "\(label): no 2xx response")
                let parameters = (operation["parameters"]?.array ?? []).compactMap { parameter -> OpenAPIJSON? in
                    if let target = parameter["$ref"]?.string { return resolve(target) }
                    return parameter
                }
                let pathParameters = Set(parameters.filter { $0["in"]?.string == "path" }.compactMap { $0["name"]?.string })
                #expect(pathParameters == templated, "\(label): path parameters \(pathParameters.sorted()) for \(templated.sorted())")
                if operation["requestBody"] != nil {
                    #expect(responses["413"] != nil && responses["400"] != nil, "\(label): a body needs 400 and 413")
                }
                if !parameters.isEmpty || operation["requestBody"] != nil {
                    #expect(responses["400"] != nil, "\(label): takes input but documents no 400")
                }
                if path != "/v1/openapi.json" {
                    #expect(responses["401"] != nil && responses["403"] != nil, "\(label): no 401 or 403")
                }
            }
        }
        #expect(Set(operationIDs).count == operationIDs.count, "duplicate operationIds")
        // Links name existing operations and parameters those operations have.
        for (path, item) in document["paths"]?.object ?? [:] {
            for method in Self.methods {
                for (status, response) in item[method]?["responses"]?.object ?? [:] {
                    for (name, link) in response["links"]?.object ?? [:] {
                        let target = link["operationId"]?.string ?? ""
                        let linked = operation(withID: target)
                        #expect(linked != nil, "\(method.uppercased()) \(path) \(status): link \(name) to unknown \(target)")
                        let names = Set((linked?["parameters"]?.array ?? []).compactMap {
                            ($0["$ref"]?.string.flatMap(resolve) ?? $0)["name"]?.string
                        })
                        for parameter in link["parameters"]?.object?.keys.map({ $0 }) ?? [] {
                            #expect(names.contains(parameter), "link \(name): \(target) has no parameter \(parameter)")
                        }
                    }
                }
            }
        }
        #expect(document["paths"]?["/v1/openapi.json"]?["get"]?["security"] == .array([]))
        #expect(document["security"] == .array([.object(["bearer": .array([])])]))
        #expect(document["components"]?["securitySchemes"]?["bearer"]?["scheme"]?.string == "bearer")
    }

    // MARK: - (b) Exactly the router's routes

    @Test func documentsExactlyTheRoutesOfTheRouter() async throws {
        let directory = NSTemporaryDirectory() + "vbatch-openapi-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let driver = SimulatedDriver(clock: .manual(start: 0))
        let store = try JobStore(path: directory + "/vbatch.sqlite")
        let engine = try await Engine(configuration: Self.configuration, store: store, driver: driver,
                                      spoolRoot: directory + "/spool", logger: Logger(label: "openapi-test"))
        let tokens = TokenBook(store: store, configuration: Self.configuration)
        let documented = documentedRoutes
        // The same API on the Unix socket and on the TLS listener.
        for identity in [ListenerIdentity.unixSocket, .tls(Logger(label: "openapi-test"))] {
            let router = buildRouter(engine: engine, tokens: tokens, identity: identity)
            // Hummingbird prints captures as `{id}`, as OpenAPI does. The dashboard's pages
            // (`/ui`, TLS listener only) are HTML for browsers, not part of the API.
            let registered = Set(router.routes.map { "\($0.method.rawValue) \($0.path.description)" }
                .filter { !$0.contains(" /ui") })
            #expect(documented.subtracting(registered).sorted() == [], "documented but not served (\(identity))")
            #expect(registered.subtracting(documented).sorted() == [], "served but not documented (\(identity))")
        }
        await driver.shutdown()
    }

    // MARK: - (c) Real instances match their schemas

    @Test func encodedWireTypesMatchTheirSchemas() async throws {
        let full = JobInfo(id: 7, name: "sim", owner: "alice", vo: "cms", submitQueue: "grid", queue: "short",
                           environment: "el9", cores: 2, memoryMB: 2048, walltime: 3600, state: .running,
                           submitTime: 1_700_000_000.25, startTime: 1_700_000_001, endTime: 1_700_000_100.5, node: "wn1",
                           cpus: [0, 1], exitCode: 0, reason: "VM running on wn1", cpuTime: 12.5, savedNode: "wn2",
                           pausedSeconds: 3.5)
        let minimal = JobInfo(id: 8, name: "job", owner: "bob", vo: nil, submitQueue: "short", queue: "short",
                              environment: "el9", cores: 1, memoryMB: 512, walltime: 60, state: .queued,
                              submitTime: 1_700_000_000)
        try check(full, "JobInfo")
        try check(minimal, "JobInfo")
        // The job list as the daemon writes it by hand (VBatchStore's JobListJSON writes the same keys).
        try check(Data(JSONWriter.jobs([full, minimal])), .object(["type": .string("array"), "items": ref("JobInfo")]))
        try check(JobDetail(job: full, history: [JobEvent(time: 1, state: .queued, reason: "submitted")],
                            waiting: "resources", node: "node wn1 unreachable"), "JobDetail")
        try check(JobDetail(job: minimal, history: []), "JobDetail")
        try check(JobOutput(id: 7, state: .completed, exitCode: 1, stdout: "out", stderr: "", files: ["output/a"],
                            spoolDirectory: "/spool/7"), "JobOutput")
        try check(JobOutput(id: 7, state: .cancelled, exitCode: nil, stdout: "", stderr: "", files: [],
                            spoolDirectory: "/spool/7"), "JobOutput")
        try check(SubmitResponse(ids: [1, 2], queue: "short"), "SubmitResponse")
        try check(WhoAmI(user: "alice", uid: 1000, vo: "cms", isOperator: false, via: "token 3 (user)"), "WhoAmI")
        try check(WhoAmI(user: "root", uid: 0, vo: nil, isOperator: true), "WhoAmI")
        try check(ReloadResponse(message: "configuration reloaded"), "ReloadResponse")
        try check(ConfigResponse(directory: "/etc/vbatch", settings: [
            ConfigSetting(key: "site.name", value: "\"T2\"", origin: "site.toml:2"),
            ConfigSetting(key: "site.placement", value: "\"pack\"", origin: nil),
        ]), "ConfigResponse")
        try check(ConfigResponse(directory: nil, settings: []), "ConfigResponse")
        var diagnostics = Diagnostics()
        try check(diagnostics, "Diagnostics")
        diagnostics.cycle(.milliseconds(3), placements: 2, backfilled: 1, preemptions: 0, at: 1_700_000_000.5)
        diagnostics.commits.add(.microseconds(1500))
        diagnostics.api["GET /v1/jobs/{id}"] = Diagnostics.Tally()
        diagnostics.api["GET /v1/jobs/{id}"]?.add(.milliseconds(1), failed: true)
        diagnostics.libvirt["wn1"] = Diagnostics.Tally()
        diagnostics.connected = ["wn1": true, "wn2": false]
        try check(diagnostics, "Diagnostics")
        #expect(document["paths"]?["/metrics"]?["get"]?["responses"]?["200"]?["content"]?["text/plain"] != nil)
        try check(ImagePushResult(node: "wn1", uploadedBytes: 10, seconds: 0.5, error: "refused"), "ImagePushResult")
        try check(NodeInfo(name: "wn1", uri: "qemu+tls://wn1/system", slots: 4, freeSlots: 2, memoryMB: 8192,
                           freeMemoryMB: 4096, enabled: false, environments: ["el9"], jobs: [7], note: "drained",
                           pools: [PoolInfo(name: "p", environment: "el9", size: 2, idle: 1, booting: 1)],
                           link: "unreachable", fenced: true,
                           cache: NodeCacheInfo(images: ["el9"], bytes: 10, capBytes: 100, uploads: 1, transfers: ["x"])),
                  "NodeInfo")
        let record = AccountingRecord(jobID: 7, name: "sim", owner: "alice", uid: 1000, vo: "cms", submitQueue: "grid",
                                      queue: "short", environment: "el9", node: "wn1", cores: 2, memoryMB: 2048,
                                      walltimeLimit: 3600, submitTime: 1, startTime: 2, endTime: 12, wallSeconds: 10,
                                      cpuSeconds: 19.5, maxRSSKiB: 1024, state: .completed, exitCode: 0, reason: "exited",
                                      gridSubject: "/DC=org/CN=alice")
        let report = AccountingReport(since: 0, until: 100, records: [record], site: "T2", submitHost: "ce", machineName: "m",
                                      benchmarkType: "HEPscore23", benchmark: 10.5)
        let summary = AccountingSummary([record], by: .vo)
        try check(report, "AccountingReport")
        try check(summary, "AccountingSummary")
        // The accounting route answers one or the other: each matches exactly one branch of its oneOf.
        let accounting = try #require(document["paths"]?["/v1/accounting"]?["get"]?["responses"]?["200"]?["content"]?["application/json"]?["schema"])
        try check(report, accounting)
        try check(summary, accounting)

        // Queues and nodes as an engine reports them (routing and execution queues).
        let directory = NSTemporaryDirectory() + "vbatch-openapi-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: directory) }
        let driver = SimulatedDriver(clock: .manual(start: 0))
        let engine = try await Engine(configuration: Self.configuration, store: try JobStore(path: directory + "/vbatch.sqlite"),
                                      driver: driver, spoolRoot: directory + "/spool", logger: Logger(label: "openapi-test"))
        try check(await engine.queues(), .object(["type": .string("array"), "items": ref("QueueInfo")]))
        try check(await engine.nodes(), .object(["type": .string("array"), "items": ref("NodeInfo")]))
        await driver.shutdown()

        let token = TokenInfo(id: 3, user: "alice", scope: .read, name: "ce01", createdBy: "root", created: 1_700_000_000.5,
                              expires: 1_700_086_400.5, revoked: 1_700_000_100)
        try check(TokenCreated(token: "vbt_3_secret", info: token), "TokenCreated")
        try check(TokenInfo(id: 4, user: "bob", scope: .operator, name: nil, createdBy: "bob", created: 1, expires: 2, revoked: nil),
                  "TokenInfo")

        // Each documented error status is described with the code the daemon sends with it.
        for (path, item) in document["paths"]?.object ?? [:] {
            for method in Self.methods {
                for (key, response) in item[method]?["responses"]?.object ?? [:] {
                    guard let status = Int(key), status >= 400 else { continue }
                    let code = ErrorResponse.Code(status: status).rawValue
                    let resolved = response["$ref"]?.string.flatMap(resolve) ?? response
                    #expect(resolved["description"]?.string?.contains("(code \(code)") == true,
                            "\(method.uppercased()) \(path): the \(status) response does not name code \(code)")
                }
            }
        }
        for code in ErrorResponse.Code.allCases { try check(ErrorResponse(error: "x", code: code), "ErrorResponse") }
    }

    /// The checker itself finds what it is meant to find.
    @Test func schemaCheckerFindsDrift() throws {
        func problems(_ json: String, _ schema: String) throws -> [String] {
            self.problems(try JSONDecoder().decode(OpenAPIJSON.self, from: Data(json.utf8)), ref(schema), at: "$")
        }
        #expect(try problems(#"{"user":"a","uid":1,"isOperator":false}"#, "WhoAmI").isEmpty)
        #expect(try problems(#"{"user":"a","isOperator":false}"#, "WhoAmI") == ["$: required uid is missing"])
        #expect(try problems(#"{"user":"a","uid":1,"isOperator":false,"groups":[]}"#, "WhoAmI") == ["$: groups is not in the schema"])
        #expect(try problems(#"{"user":"a","uid":1.5,"isOperator":1}"#, "WhoAmI").count == 2)
        #expect(try problems(#"{"error":"x","code":"teapot"}"#, "ErrorResponse").count == 1)
        #expect(try problems(#"{"time":1,"state":"lost","reason":"r"}"#, "JobEvent").count == 1)
    }

    // MARK: - Support

    static let configuration = Configuration(
        nodes: [NodeConfig(name: "wn1", slots: 4, memoryMB: 8192)],
        queues: [
            .routing(RoutingQueue(name: "grid", destinations: ["short"])),
            .execution(ExecutionQueue(name: "short", environments: ["el9"], walltimeMax: 3600, maxCores: 4)),
        ],
        images: [ImageConfig(name: "el9", kernel: "k")])

    func ref(_ name: String) -> OpenAPIJSON { .object(["$ref": .string("#/components/schemas/\(name)")]) }

    /// The value a JSON pointer `#/…` names in the document.
    func resolve(_ reference: String) -> OpenAPIJSON? {
        guard reference.hasPrefix("#/") else { return nil }
        var value: OpenAPIJSON? = document
        for token in reference.dropFirst(2).split(separator: "/", omittingEmptySubsequences: false) {
            let key = token.replacingOccurrences(of: "~1", with: "/").replacingOccurrences(of: "~0", with: "~")
            value = value?[key]
        }
        return value
    }

    func operation(withID id: String) -> OpenAPIJSON? {
        for item in document["paths"]?.object?.values.map({ $0 }) ?? [] {
            for method in Self.methods where item[method]?["operationId"]?.string == id { return item[method] }
        }
        return nil
    }

    func check<T: Encodable>(_ value: T, _ schemaName: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try check(value, ref(schemaName), sourceLocation: sourceLocation)
    }

    func check<T: Encodable>(_ value: T, _ schema: OpenAPIJSON, sourceLocation: SourceLocation = #_sourceLocation) throws {
        try check(try JSONEncoder().encode(value), schema, sourceLocation: sourceLocation)
    }

    func check(_ data: Data, _ schema: OpenAPIJSON, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let instance = try JSONDecoder().decode(OpenAPIJSON.self, from: data)
        let problems = self.problems(instance, schema, at: "$")
        #expect(problems.isEmpty, "\(String(decoding: data, as: UTF8.self))\n\(problems.joined(separator: "\n"))",
                sourceLocation: sourceLocation)
    }

    /// What is wrong with `value` under `schema`: the subset of JSON Schema the document uses
    /// (`$ref`, `allOf`, `oneOf`, `type`, `enum`, `required`, `properties`, `items`,
    /// `additionalProperties`). Stricter than the document on one point: a property the
    /// schema does not declare is a problem, so that a field added to a type is documented.
    func problems(_ value: OpenAPIJSON, _ schema: OpenAPIJSON, at path: String) -> [String] {
        if let target = schema["$ref"]?.string {
            guard let resolved = resolve(target) else { return ["\(path): unresolved \(target)"] }
            return problems(value, resolved, at: path)
        }
        if let all = schema["allOf"]?.array { return all.flatMap { problems(value, $0, at: path) } }
        if let one = schema["oneOf"]?.array {
            let matching = one.filter { problems(value, $0, at: path).isEmpty }.count
            return matching == 1 ? [] : ["\(path): matches \(matching) branches of oneOf"]
        }
        var found: [String] = []
        if let cases = schema["enum"]?.array, !cases.contains(value) { found.append("\(path): \(value) is not one of \(cases)") }
        switch (schema["type"]?.string, value) {
        case (nil, _), ("string", .string), ("integer", .integer), ("number", .integer), ("number", .number),
             ("boolean", .bool):
            break
        case ("array", .array(let items)):
            if let itemSchema = schema["items"] {
                for (index, item) in items.enumerated() { found += problems(item, itemSchema, at: "\(path)[\(index)]") }
            }
        case ("object", .object(let object)):
            for key in schema["required"]?.array?.compactMap(\.string) ?? [] where object[key] == nil {
                found.append("\(path): required \(key) is missing")
            }
            let properties = schema["properties"]?.object ?? [:]
            for (key, member) in object.sorted(by: { $0.key < $1.key }) {
                if let property = properties[key] {
                    found += problems(member, property, at: "\(path).\(key)")
                } else if let additional = schema["additionalProperties"], case .object = additional {
                    found += problems(member, additional, at: "\(path).\(key)")
                } else if schema["properties"] != nil {
                    found.append("\(path): \(key) is not in the schema")
                }
            }
        case (let type?, _):
            found.append("\(path): \(value) is not of type \(type)")
        }
        return found
    }
}

/// A JSON value that keeps integers, other numbers and booleans apart.
enum OpenAPIJSON: Decodable, Equatable, CustomStringConvertible {
    case null
    case bool(Bool)
    case integer(Int64)
    case number(Double)
    case string(String)
    case array([OpenAPIJSON])
    case object([String: OpenAPIJSON])

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .integer(value)
        } else if let value = try? container.decode(Double.self) {
            self = .number(value)
        } else if let value = try? container.decode(String.self) {
            self = .string(value)
        } else if let value = try? container.decode([OpenAPIJSON].self) {
            self = .array(value)
        } else {
            self = .object(try container.decode([String: OpenAPIJSON].self))
        }
    }

    subscript(key: String) -> OpenAPIJSON? {
        if case .object(let object) = self { object[key] } else { nil }
    }

    var string: String? { if case .string(let s) = self { s } else { nil } }
    var array: [OpenAPIJSON]? { if case .array(let a) = self { a } else { nil } }
    var object: [String: OpenAPIJSON]? { if case .object(let o) = self { o } else { nil } }

    var description: String {
        switch self {
        case .null: "null"
        case .bool(let b): "\(b)"
        case .integer(let i): "\(i)"
        case .number(let d): "\(d)"
        case .string(let s): "\"\(s)\""
        case .array(let a): "[\(a.map(\.description).joined(separator: ","))]"
        case .object(let o): "{\(o.keys.sorted().joined(separator: ","))}"
        }
    }
}
