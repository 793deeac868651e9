import FoundationEssentials
import Testing
import VBatchAPI
import VBatchCore

/// The hand-written JSON of the CLI's hot wire types (`JSONReader`, `WireJSON.swift`) against
/// Foundation's `JSONEncoder`/`JSONDecoder`: the same values out, the same inputs refused.
@Suite("Hand-written wire JSON")
struct WireJSONTests {
    // MARK: - Helpers

    static func foundation<T: Decodable>(_ type: T.Type, _ bytes: [UInt8]) -> T? {
        try? JSONDecoder().decode(type, from: Data(bytes))
    }

    static func encoded<T: Encodable>(_ value: T) throws -> [UInt8] {
        Array(try JSONEncoder().encode(value))
    }

    static func bytes(_ s: String) -> [UInt8] { Array(s.utf8) }

    /// The byte offset of the first `needle` in `text`.
    static func offset(of needle: String, in text: String) -> Int {
        let hay = Array(text.utf8), n = Array(needle.utf8)
        return (0...(hay.count - n.count)).first { Array(hay[$0..<($0 + n.count)]) == n }!
    }

    /// Both decoders give the same jobs, or both refuse; true if they decoded.
    @discardableResult
    static func agreeOnList(_ bytes: [UInt8], _ comment: Comment? = nil, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let theirs = foundation([JobInfo].self, bytes)
        let ours = try? [JobInfo](json: bytes)
        #expect(ours == theirs, comment ?? "\(String(decoding: bytes, as: UTF8.self))", sourceLocation: sourceLocation)
        return ours != nil
    }

    @discardableResult
    static func agreeOnJob(_ json: String, sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        let bytes = bytes(json)
        let theirs = foundation(JobInfo.self, bytes)
        let ours = try? JobInfo(json: bytes)
        #expect(ours == theirs, "\(json)", sourceLocation: sourceLocation)
        return ours != nil
    }

    /// A valid job object's members as raw JSON, in declaration order.
    static let members: [(String, String)] = [
        ("id", "1"), ("name", #""n""#), ("owner", #""o""#), ("submitQueue", #""q""#), ("queue", #""q""#),
        ("environment", #""e""#), ("cores", "1"), ("memoryMB", "2"), ("walltime", "3"), ("state", #""queued""#),
        ("submitTime", "0.5"),
    ]

    /// The minimal job with `key`'s value replaced by `value` (added if absent, removed if nil).
    static func job(_ key: String, _ value: String?) -> String {
        var pairs = members
        if let i = pairs.firstIndex(where: { $0.0 == key }) {
            if let value { pairs[i].1 = value } else { pairs.remove(at: i) }
        } else if let value {
            pairs.append((key, value))
        }
        return "{" + pairs.map { "\"\($0.0)\":\($0.1)" }.joined(separator: ",") + "}"
    }

    /// The daemon's job list as `JobListJSON` writes it from SQLite's columns: the same
    /// `JSONWriter` calls, `cpus` copied as text, `pausedSeconds` only when positive.
    static func daemonList(_ jobs: [JobInfo]) -> [UInt8] {
        var w = JSONWriter(capacity: 1 << 16)
        func string(_ key: StaticString, _ value: String?) {
            guard var value else { return }
            w.raw(key)
            value.withUTF8 { w.string(utf8: $0) }
        }
        func double(_ key: StaticString, _ value: Double?) {
            guard let value else { return }
            w.raw(key)
            // JSONWriter.double traps converting microseconds of |v| ≥ ~9.2e12 s to Int64 (it
            // writes null only from 1e15): no time gets there, but random doubles do.
            if abs(value) >= 9e12 { w.raw("null") } else { w.double(value) }
        }
        func int(_ key: StaticString, _ value: Int?) {
            guard let value else { return }
            w.raw(key)
            w.int(value)
        }
        w.raw("[")
        for (n, j) in jobs.enumerated() {
            w.raw(n == 0 ? "{" : ",\n{")
            w.raw("\"id\":"); w.int(j.id)
            string(",\"name\":", j.name)
            string(",\"owner\":", j.owner)
            string(",\"vo\":", j.vo)
            string(",\"submitQueue\":", j.submitQueue)
            string(",\"queue\":", j.queue)
            string(",\"environment\":", j.environment)
            int(",\"cores\":", j.cores)
            int(",\"memoryMB\":", j.memoryMB)
            int(",\"walltime\":", j.walltime)
            string(",\"state\":", j.state.rawValue)
            double(",\"submitTime\":", j.submitTime)
            double(",\"startTime\":", j.startTime)
            double(",\"endTime\":", j.endTime)
            string(",\"node\":", j.node)
            if let cpus = j.cpus {
                w.raw(",\"cpus\":[")
                Array(cpus.map(String.init).joined(separator: ",").utf8).withUnsafeBufferPointer { w.bytes($0) }
                w.raw("]")
            }
            int(",\"exitCode\":", j.exitCode)
            string(",\"reason\":", j.reason)
            double(",\"cpuTime\":", j.cpuTime)
            string(",\"savedNode\":", j.savedNode)
            if let p = j.pausedSeconds, p > 0 { double(",\"pausedSeconds\":", p) }
            w.raw("}")
        }
        w.raw("]\n")
        return w.bytes
    }

    static let hostileStrings: [String] = [
        "", " ", "plain", "\"", "\\", "\\\"", "\"\\\"", "/", "</script>", "\u{0}", "a\u{0}b",
        String((0..<32).map { Character(Unicode.Scalar(UInt8($0))) }), "\u{7F}", "\u{80}", "\u{7FF}", "\u{800}",
        "\u{FFFF}", "\u{FFFD}", "\u{FEFF}", "\u{10000}", "\u{10FFFF}", "\u{2028}\u{2029}", "é", "e\u{301}",
        "e\u{301}\u{302}\u{303}", "😀", "👩‍👩‍👧‍👦", "🇫🇷", "中文", "\t\n\r\u{8}\u{C}", "\\u0041", "\\ud800",
        "null", "true", "{\"a\":[1,2]}", String(repeating: "x", count: 100_000),
        String(repeating: "\"\\\u{1}é😀", count: 20_000),
    ]

    static let sampleJobs: [JobInfo] = {
        var jobs = [
            JobInfo(id: 1, name: "plain", owner: "alice", vo: "cms", submitQueue: "grid", queue: "one-way",
                    environment: "testguest", cores: 2, memoryMB: 2048, walltime: 7200, state: .running,
                    submitTime: 1_795_306_426.533424, startTime: 1_795_306_427, node: "wn01", cpus: [2, 3],
                    reason: "placed on wn01 (cpus 2,3)"),
            JobInfo(id: Int64.max, name: "x", owner: "bob", vo: nil, submitQueue: "two-way", queue: "two-way",
                    environment: "el9", cores: Int.max, memoryMB: Int.min, walltime: 0, state: .completed,
                    submitTime: 0.5, endTime: 12.000001, cpus: [], exitCode: -3, cpuTime: 0.25, savedNode: "wn02",
                    pausedSeconds: 30),
            JobInfo(id: Int64.min, name: "neg", owner: "o", vo: "", submitQueue: "", queue: "", environment: "",
                    cores: -1, memoryMB: 0, walltime: -7200, state: .failed, submitTime: -1.5, startTime: -0.0,
                    endTime: 1e-7, exitCode: Int.min, cpuTime: 1.7976931348623157e308, pausedSeconds: 0.1),
            JobInfo(id: 0, name: "tiny", owner: "o", vo: nil, submitQueue: "q", queue: "q", environment: "e",
                    cores: 1, memoryMB: 1, walltime: 1, state: .saved, submitTime: 5e-324,
                    startTime: 2.2250738585072014e-308, endTime: 123456789.123, cpuTime: 0.30000000000000004,
                    pausedSeconds: 9007199254740993),
        ]
        for (i, s) in hostileStrings.enumerated() {
            jobs.append(JobInfo(id: Int64(i), name: s, owner: s, vo: s, submitQueue: s, queue: s, environment: s,
                                cores: i, memoryMB: i, walltime: i, state: JobState.allCases[i % JobState.allCases.count],
                                submitTime: Double(i), node: s, reason: s, savedNode: s))
        }
        return jobs
    }()

    // MARK: - Job lists

    @Test func jobsEncodedByJSONEncoderDecodeEqual() throws {
        let bytes = try Self.encoded(Self.sampleJobs)
        #expect(try [JobInfo](json: bytes) == Self.sampleJobs)
        for job in Self.sampleJobs {
            #expect(try JobInfo(json: try Self.encoded(job)) == job)
        }
        #expect(try [JobInfo](json: Self.bytes("[]")).isEmpty)
        #expect(try [JobInfo](json: Self.bytes(" [ ]\n")).isEmpty)
    }

    @Test func doublesKeepEveryBitAndSign() throws {
        let bytes = try Self.encoded(Self.sampleJobs)
        let decoded = try [JobInfo](json: bytes)
        for (a, b) in zip(decoded, Self.sampleJobs) {
            #expect(a.submitTime.bitPattern == b.submitTime.bitPattern)
            #expect(a.startTime?.bitPattern == b.startTime?.bitPattern)
            #expect(a.cpuTime?.bitPattern == b.cpuTime?.bitPattern)
        }
    }

    @Test func theDaemonsJobListDecodesAsJSONDecoderDecodesIt() throws {
        let bytes = Self.daemonList(Self.sampleJobs)
        let theirs = try JSONDecoder().decode([JobInfo].self, from: Data(bytes))
        #expect(try [JobInfo](json: bytes) == theirs)
        // What survives the writer's microsecond times is exactly the job.
        #expect(try [JobInfo](json: Self.daemonList([Self.sampleJobs[0]])) == [Self.sampleJobs[0]])
        #expect(try [JobInfo](json: JSONWriter.jobs(Self.sampleJobs)) == JSONDecoder().decode(
            [JobInfo].self, from: Data(JSONWriter.jobs(Self.sampleJobs))))
        #expect(try [JobInfo](json: Self.daemonList([])).isEmpty)
    }

    @Test func aLongListDecodes() throws {
        let jobs = (0..<2000).map { (i: Int) -> JobInfo in
            let odd = i % 2 == 1
            let vo: String? = i % 3 == 0 ? nil : "atlas"
            let start: Double? = odd ? 1_795_306_500.25 : nil
            let cpus: [Int]? = odd ? [i % 32, i % 32 + 1] : nil
            let exit: Int? = i % 5 == 0 ? 0 : nil
            let submit: Double = 1_795_306_426.533424 + Double(i)
            let state: JobState = JobState.allCases[i % JobState.allCases.count]
            return JobInfo(id: Int64(i) * 977, name: "job-\(i).sh", owner: "user\(i % 13)", vo: vo,
                           submitQueue: "grid", queue: "grid-long", environment: "el9", cores: 1 + i % 8,
                           memoryMB: 2048, walltime: 86400, state: state, submitTime: submit, startTime: start,
                           node: "wn\(i % 40)", cpus: cpus, exitCode: exit, reason: "placed on wn\(i % 40)")
        }
        let bytes = Self.daemonList(jobs)
        #expect(try [JobInfo](json: bytes) == jobs)
        #expect(try [JobInfo](json: try Self.encoded(jobs)) == jobs)
    }

    @Test func escapesDecodeAsJSONDecoderDecodesThem() {
        let strings = [
            #""\u00e9\/\b\f\n\r\t\"\\""#, #""\u00E9\u00C9""#, #""\u0000x\u001f""#, #""\ud83d\ude00""#,
            #""\uD83D\uDE00!""#, #""\ud800\udc00""#, #""\udbff\udfff""#, #""\uFFFF\uFEFF\u2028""#,
            #""a\u0022b\u005cc""#, #""""#, #""\\\\\\""#,
            // Refused by both: unpaired surrogates, bad escapes, raw control characters.
            #""\ud800""#, #""\udc00""#, #""\ud800x""#, #""\ud800\u0041""#, #""\ud800\ud800""#, #""\uDFFF""#,
            #""\x""#, #""\u12""#, #""\u12g4""#, #""\U0041""#, "\"a\nb\"", "\"a\tb\"", "\"\u{0}\"", "\"\u{1F}\"",
            #""\""#, #""abc"#,
        ]
        for s in strings {
            Self.agreeOnJob(Self.job("name", s))
            Self.agreeOnJob(Self.job("reason", s))
        }
        #expect(try! JobInfo(json: Self.bytes(Self.job("name", #""\ud83d\ude00\u00e9\n""#))).name == "😀é\n")
    }

    @Test func invalidUTF8IsRefusedLikeJSONDecoder() {
        let bad: [[UInt8]] = [[0xFF], [0xC3], [0xC3, 0x28], [0xC0, 0x80], [0xE0, 0x80, 0x80], [0xED, 0xA0, 0x80],
                              [0xF4, 0x90, 0x80, 0x80], [0xF5, 0x80, 0x80, 0x80], [0x80], [0xE2, 0x82]]
        let good: [[UInt8]] = [[0xC3, 0xA9], [0xE2, 0x82, 0xAC], [0xF0, 0x9F, 0x98, 0x80], [0xEF, 0xBF, 0xBF],
                               [0xF4, 0x8F, 0xBF, 0xBF], [0xED, 0x9F, 0xBF]]
        for b in bad + good {
            let json = Self.bytes(#"[{"name":""#) + b + Self.bytes(#"","#)
                + Self.bytes(String(Self.job("name", nil).dropFirst())) + Self.bytes("]")
            Self.agreeOnList(json, "\(b)")
            #expect((try? [JobInfo](json: json)) == nil || good.contains(b))
        }
    }

    @Test func wrongTypesMissingFieldsAndUnknownValues() throws {
        let cases: [(String, String?)] = [
            ("id", #""1""#), ("id", "1.5"), ("id", "null"), ("id", "true"), ("id", "[1]"), ("id", nil),
            ("name", "5"), ("name", "null"), ("name", nil), ("name", "{}"), ("cores", #""2""#), ("cores", nil),
            ("state", #""bogus""#), ("state", #""Queued""#), ("state", "1"), ("state", nil), ("state", #""\u0071ueued""#),
            ("submitTime", #""0""#), ("submitTime", "null"), ("submitTime", nil), ("submitTime", "1"),
            ("vo", "null"), ("vo", "1"), ("vo", #""cms""#), ("cpus", "null"), ("cpus", "[]"), ("cpus", "[1,2]"),
            ("cpus", "[1,null]"), ("cpus", #""1,2""#), ("cpus", "[1.5]"), ("cpus", "[1.0]"), ("cpus", "{}"),
            ("exitCode", "-0"), ("exitCode", "null"), ("exitCode", "1e2"), ("pausedSeconds", "null"),
            ("startTime", "-0"), ("startTime", "1E+2"), ("endTime", "false"),
            ("unknown", "1"), ("unknown", #"{"a":[1,{"b":null}],"c":"\ud83d\ude00"}"#), ("unknown", "null"),
            ("", "1"), ("ID", "2"), ("id ", "3"),
        ]
        var accepted = 0
        for (key, value) in cases where Self.agreeOnJob(Self.job(key, value)) { accepted += 1 }
        #expect(accepted == 20)
        #expect(try JobInfo(json: Self.bytes(Self.job("id", "1"))) == JobInfo(
            id: 1, name: "n", owner: "o", vo: nil, submitQueue: "q", queue: "q", environment: "e", cores: 1,
            memoryMB: 2, walltime: 3, state: .queued, submitTime: 0.5))
        Self.agreeOnJob("[]")
        Self.agreeOnJob("null")
        Self.agreeOnJob(#""job""#)
        Self.agreeOnList(Self.bytes("{}"))
        Self.agreeOnList(Self.bytes("[null]"))
        Self.agreeOnList(Self.bytes("[" + Self.job("name", nil) + "]"))
    }

    @Test func errorsSayWhatAndWhere() throws {
        let json = "[" + Self.job("id", "1") + ",\n" + Self.job("cores", #""two""#) + "]"
        let error = try #require(throws: JSONReader.Error.self) { try [JobInfo](json: Self.bytes(json)) }
        #expect(error.kind == .typeMismatch)
        #expect(error.path == "[1].cores")
        #expect(error.offset == Self.offset(of: #""two""#, in: json))
        #expect(error.description.hasPrefix("[1].cores: expected an integer, found a string (at byte "))

        let missing = try #require(throws: JSONReader.Error.self) {
            try [JobInfo](json: Self.bytes("[" + Self.job("owner", nil) + "]"))
        }
        #expect(missing.kind == .missingKey)
        #expect(missing.path == "[0]")
        #expect(missing.offset == 1)
        #expect(missing.message.contains("owner"))

        let state = try #require(throws: JSONReader.Error.self) { try JobInfo(json: Self.bytes(Self.job("state", #""zombie""#))) }
        #expect(state.kind == .invalidValue)
        #expect(state.path == "state")

        let cpu = try #require(throws: JSONReader.Error.self) { try JobInfo(json: Self.bytes(Self.job("cpus", "[1,2,x]"))) }
        #expect(cpu.kind == .syntax)
        #expect(cpu.path == "cpus[2]")
    }

    // MARK: - Numbers

    @Test func integersAcceptWhatJSONDecoderAccepts() {
        let numbers = [
            "0", "-0", "1", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808",
            "-9223372036854775809", "18446744073709551616", "99999999999999999999999", "1.0", "1.5", "-1.5", "1e2",
            "1E2", "1e+2", "1e-2", "100e-2", "120e-1", "0.1e1", "1.50e1", "-0.0", "1e18", "1e19",
            "9007199254740993", "9007199254740993.0", "9007199254740993e0", "0e400", "0.0e-5", "01", "1.", ".5",
            "+1", "-", "1e", "1e+", "--1", "0x10", "NaN", "Infinity", "1_000", "١",
        ]
        var accepted = 0
        for n in numbers {
            if Self.agreeOnJob(Self.job("id", n)) { accepted += 1 }
            Self.agreeOnJob(Self.job("cores", n))
            Self.agreeOnJob(Self.job("exitCode", n))
        }
        #expect(accepted == 21)
    }

    @Test func doublesAcceptWhatJSONDecoderAccepts() {
        let numbers = [
            "0", "-0", "0.1", "1e-7", "1E-7", "1e-07", "1.7976931348623157e308", "1.7976931348623157e+308",
            "1.7976931348623158e308", "1.7976931348623159e308", "1e308", "1e309", "1e400", "-1e400", "5e-324",
            "3e-324", "2.4703282292062328e-324", "2e-324", "1e-400", "0e-400", "0.0e5000", "1e-320",
            "2.2250738585072014e-308", "2.2250738585072011e-308", "123456789012345678901234567890", "0.30000000000000004",
            "1795306426.533424", "9007199254740993", "9007199254740992.5", "4.35", "1.0000000000000002",
            "0.1000000000000000055511151231257827", "100000000000000000000000", "1e22", "1e23", "-1e-22",
            "12345678901234567890.123456789", "0.000000000000000000000000000001", "1.", ".5", "+1", "-", "1e", "NaN",
        ]
        var accepted = 0
        for n in numbers {
            if Self.agreeOnJob(Self.job("submitTime", n)) { accepted += 1 }
            Self.agreeOnJob(Self.job("cpuTime", n))
        }
        #expect(accepted == 32)
    }

    @Test func randomDoublesKeepTheirBits() throws {
        var rng = SplitMix64(seed: 0x5EED_D0B1E)
        for i in 0..<3000 {
            let value: Double
            switch i % 4 {
            case 0: value = Double(bitPattern: rng.next())
            case 1: value = Double(rng.next() % 10_000_000_000_000) / 1_000_000
            case 2: value = Double.random(in: -1e-300...1e-300, using: &rng)
            default: value = Double.random(in: -1e20...1e20, using: &rng)
            }
            guard value.isFinite else { continue }
            let job = JobInfo(id: 1, name: "", owner: "", vo: nil, submitQueue: "", queue: "", environment: "",
                              cores: 0, memoryMB: 0, walltime: 0, state: .queued, submitTime: value)
            let decoded = try JobInfo(json: try Self.encoded(job))
            #expect(decoded.submitTime.bitPattern == value.bitPattern, "\(value)")
        }
    }

    @Test func numbersOutOfRangeAreErrors() throws {
        for (key, n) in [("id", "9223372036854775808"), ("cores", "1e19"), ("submitTime", "1e400"), ("submitTime", "2e-324"),
                         ("id", "-9223372036854775809"), ("walltime", "1" + String(repeating: "0", count: 400))] {
            let error = try #require(throws: JSONReader.Error.self) { try JobInfo(json: Self.bytes(Self.job(key, n))) }
            #expect(error.kind == .numberOutOfRange, "\(key) \(n)")
        }
        let fraction = try #require(throws: JSONReader.Error.self) { try JobInfo(json: Self.bytes(Self.job("cores", "1.5"))) }
        #expect(fraction.kind == .typeMismatch)
        #expect(try JobInfo(json: Self.bytes(Self.job("id", "-9223372036854775808"))).id == .min)
        #expect(try JobInfo(json: Self.bytes(Self.job("id", "9223372036854775807"))).id == .max)
        #expect(try JobInfo(json: Self.bytes(Self.job("id", "9.223372036854775807e18"))).id == .max)
    }

    // MARK: - Structure

    @Test func structureAsJSONDecoderSeesIt() {
        let base = Self.job("id", "1")
        let inner = String(base.dropFirst().dropLast())
        let documents = [
            base, " \t\r\n" + base + " \n", "\u{FEFF}" + base, base + "x", base + " {}", base + ",", base + "\u{0}",
            base + "\u{C}", "{" + inner + ",}", "{" + inner + ",,}", "{," + inner + "}", "{" + inner,
            #"{"id":1,"id":2,"# + String(Self.job("id", nil).dropFirst()), #"{"id":"x","id":2,"#
                + String(Self.job("id", nil).dropFirst()), #"{"\u0069d":7,"#
                + String(Self.job("id", nil).dropFirst()), #"{"i\u0000d":7,"#
                + String(Self.job("id", nil).dropFirst()), "{" + inner + #","x":[1,2,]}"#,
            "{" + inner + #","x":[,]}"#, "{" + inner + #","x":[1 2]}"#, "{" + inner + #","x" 1}"#,
            "{" + inner + #","x":1 "y":2}"#, "{" + inner + #","x":tru}"#, "{" + inner + #","x":True}"#,
            "{" + inner + #","x":{"a":1,}}"#, "{" + inner + #","x":/* c */1}"#, "{" + inner + #","x":[1]]}"#,
            "{" + inner + #","x":{"a":1]}"#, "{" + inner + #","x":{1:2}}"#, "{" + inner + #","x":'a'}"#, "",
            "   ", "{", "[", "nul",
        ]
        #expect(documents.filter { Self.agreeOnJob($0) }.count == 8)
        Self.agreeOnList(Self.bytes("[" + base + ",]"))
        Self.agreeOnList(Self.bytes("[" + base + ",,]"))
        Self.agreeOnList(Self.bytes("[," + base + "]"))
        Self.agreeOnList(Self.bytes("[" + base + "]]"))
        Self.agreeOnList(Self.bytes("[" + base + " " + base + "]"))
        Self.agreeOnList([0xEF, 0xBB, 0xBF] + Self.bytes("[]"))
    }

    @Test func everyTruncationIsAnEndOfInputError() throws {
        var odd = Self.sampleJobs[0]
        odd.name = "\u{0}\"é😀\\\n\u{1F}"
        let bytes = Self.daemonList(Array(Self.sampleJobs.prefix(4)) + [odd])
        // Everything but the final "]\n" (the "\n" alone may go).
        for count in 0..<(bytes.count - 1) {
            let prefix = Array(bytes[..<count])
            let error = try #require(throws: JSONReader.Error.self) { try [JobInfo](json: prefix) }
            #expect(error.kind == .unexpectedEnd, "\(count): \(error)")
        }
        #expect(try [JobInfo](json: Array(bytes.dropLast())).count == 5)
        // And inside escapes and multi-byte characters.
        for text in [#"{"name":"\ud83d\ude00"#, #"{"name":"😀"#, #"{"name":"\u00e9"#, "{\"name\":\"\\"] {
            let b = Self.bytes(text)
            for count in 9..<b.count {
                let error = try #require(throws: JSONReader.Error.self) { try JobInfo(json: Array(b[..<count])) }
                #expect(error.kind == .unexpectedEnd, "\(text) cut at \(count): \(error)")
            }
        }
    }

    @Test func hostileNestingNeitherCrashesNorPasses() throws {
        for depth in [513, 10_000, 100_000] {
            let arrays = Self.bytes(String(repeating: "[", count: depth))
            #expect(throws: JSONReader.Error.self) { try [JobInfo](json: arrays) }
            let skip = try #require(throws: JSONReader.Error.self) {
                try JSONReader.read(arrays) { (r) throws(JSONReader.Error) in try r.skipValue() }
            }
            #expect(skip.kind == .tooDeep)
            let unknown = Self.bytes(Self.job("extra", String(repeating: #"{"a":["#, count: depth)))
            let error = try #require(throws: JSONReader.Error.self) { try JobInfo(json: unknown) }
            #expect(error.kind == .tooDeep)
            #expect(error.path == "extra")
            let closed = Self.bytes(String(repeating: "[", count: depth) + String(repeating: "]", count: depth))
            let nested = try #require(throws: JSONReader.Error.self) {
                try JSONReader.read(closed) { (r) throws(JSONReader.Error) in try r.skipValue() }
            }
            #expect(nested.kind == .tooDeep)
        }
        // JSONDecoder's limit: 512 levels in all.
        for levels in [509, 510, 511, 512] {
            let extra = String(repeating: "[", count: levels) + String(repeating: "]", count: levels)
            Self.agreeOnList(Self.bytes("[" + Self.job("extra", extra) + "]"), "\(levels) levels inside")
        }
        let limit = Self.bytes(String(repeating: "[", count: 512) + String(repeating: "]", count: 512))
        try JSONReader.read(limit) { (r) throws(JSONReader.Error) in try r.skipValue() }
    }

    // MARK: - Other hot types

    @Test func submitResponse() throws {
        let response = SubmitResponse(ids: [7, 8, Int64.max, Int64.min], queue: "grid-short\u{0}\"é")
        #expect(try SubmitResponse(json: try Self.encoded(response)) == response)
        #expect(try SubmitResponse(json: Self.bytes(#"{"queue":"q","ids":[],"extra":{"x":null}}"#))
            == SubmitResponse(ids: [], queue: "q"))
        for bad in [#"{"ids":[1]}"#, #"{"queue":"q"}"#, #"{"ids":null,"queue":"q"}"#, #"{"ids":[1.5],"queue":"q"}"#,
                    #"{"ids":["1"],"queue":"q"}"#, #"{"ids":[1],"queue":null}"#, "[]", ""] {
            #expect(throws: JSONReader.Error.self, "\(bad)") { try SubmitResponse(json: Self.bytes(bad)) }
            #expect(Self.foundation(SubmitResponse.self, Self.bytes(bad)) == nil)
        }
    }

    @Test func jobDetail() throws {
        for job in Self.sampleJobs.prefix(6) {
            let detail = JobDetail(job: job, history: [JobEvent(time: 1.5, state: .queued, reason: "submitted"),
                                                        JobEvent(time: 2, state: .running, reason: "placed \"x\"")],
                                   waiting: job.id == 1 ? "held" : nil, node: job.id == 0 ? "wn01 unreachable" : nil)
            #expect(try JobDetail(json: try Self.encoded(detail)) == detail)
        }
        for bad in [#"{"history":[]}"#, #"{"job":null,"history":[]}"#, #"{"job":\#(Self.job("id", "1")),"history":[{"time":1,"state":"x","reason":""}]}"#] {
            #expect(throws: JSONReader.Error.self) { try JobDetail(json: Self.bytes(bad)) }
            #expect(Self.foundation(JobDetail.self, Self.bytes(bad)) == nil)
        }
    }

    @Test func errorBodies() throws {
        let full = ErrorResponse(error: "no such job 7 \"x\"", code: .notFound)
        #expect(try ErrorResponse(json: try Self.encoded(full)) == full)
        var old = full
        old.code = nil
        #expect(try ErrorResponse(json: try Self.encoded(old)) == old)
        #expect(try ErrorResponse(json: Self.bytes(#"{"error":"e","code":null}"#)) == old.with(error: "e"))
        #expect(try NestedErrorResponse(json: Self.bytes(#"{"error":{"message":"Not Found","x":1}}"#)).message == "Not Found")

        #expect(ErrorResponse.message(json: try Self.encoded(full)) == full.error)
        #expect(ErrorResponse.message(json: Self.bytes(#"{"error":{"message":"Payload Too Large"}}"#)) == "Payload Too Large")
        #expect(ErrorResponse.message(json: Self.bytes(#"{"error":""}"#)) == nil)
        #expect(ErrorResponse.message(json: Self.bytes(#"{"error":{"message":""}}"#)) == nil)
        #expect(ErrorResponse.message(json: Self.bytes(#"{"error":{}}"#)) == nil)
        #expect(ErrorResponse.message(json: Self.bytes("<html>bad gateway</html>")) == nil)
        #expect(ErrorResponse.message(json: []) == nil)
        #expect(ErrorResponse.message(json: Self.bytes(#"{"error":"x","code":5}"#)) == nil)
    }

    // MARK: - SubmitRequest

    static let sampleRequests: [SubmitRequest] = {
        var requests = [
            SubmitRequest(queue: "grid", script: "#!/bin/sh\necho hi\n"),
            SubmitRequest(name: "n", queue: "grid", cores: 2, memoryMB: 2048, walltime: 7200, environment: "el9",
                          script: "#!/bin/sh\necho <&'\">\n", arguments: ["a", "b c", ""], variables: ["A": "1", "B": ""],
                          count: 3, held: true),
            SubmitRequest(queue: "q", cores: Int.max, memoryMB: Int.min, walltime: 0, script: "x", count: Int.max),
            SubmitRequest(queue: "q", cores: -1, script: "x", count: Int.min),
        ]
        for s in hostileStrings {
            requests.append(SubmitRequest(name: s, queue: s, environment: s, script: s, arguments: [s, s],
                                          variables: [s: s, "K": s], count: s.count))
        }
        return requests
    }()

    @Test func submitRequestsDecodeEqualWithJSONDecoder() throws {
        for request in Self.sampleRequests {
            let bytes = request.json()
            #expect(try JSONDecoder().decode(SubmitRequest.self, from: Data(bytes)) == request)
        }
    }

    @Test func submitRequestsLeaveOutNilsAsJSONEncoderDoes() throws {
        let request = SubmitRequest(queue: "grid", script: "s", variables: ["B": "2", "A": "1"])
        #expect(String(decoding: request.json(), as: UTF8.self)
            == #"{"queue":"grid","script":"s","arguments":[],"variables":{"A":"1","B":"2"},"count":1,"held":false}"#)
        // The same members as JSONEncoder's, whatever is set.
        for r in Self.sampleRequests.prefix(4) {
            let ours = try JSONSerializationFree.keys(of: r.json())
            let theirs = try JSONSerializationFree.keys(of: try Self.encoded(r))
            #expect(ours == theirs)
        }
    }

    // MARK: - Randomized

    @Test func randomJobsFromJSONEncoderDecodeEqual() throws {
        var rng = SplitMix64(seed: 20_260_101)
        var jobs: [JobInfo] = []
        for _ in 0..<600 { jobs.append(rng.job()) }
        #expect(try [JobInfo](json: try Self.encoded(jobs)) == jobs)
        for job in jobs.prefix(200) {
            #expect(try JobInfo(json: try Self.encoded(job)) == job)
        }
        // The daemon's writer rounds times and writes large ones as null: the two decoders agree anyway.
        for chunk in stride(from: 0, to: jobs.count, by: 3) {
            Self.agreeOnList(Self.daemonList(Array(jobs[chunk..<min(chunk + 3, jobs.count)])), "jobs from \(chunk)")
        }
    }

    @Test func randomSubmitRequestsDecodeEqualWithJSONDecoder() throws {
        var rng = SplitMix64(seed: 77)
        for _ in 0..<400 {
            let request = rng.submitRequest()
            #expect(try JSONDecoder().decode(SubmitRequest.self, from: Data(request.json())) == request)
        }
    }

    @Test func randomMutationsAreJudgedAsJSONDecoderJudgesThem() {
        // Bytes dropped, doubled or replaced in a valid list: both decoders accept or refuse alike.
        var rng = SplitMix64(seed: 3)
        let base = Self.daemonList([Self.sampleJobs[0], Self.sampleJobs[1]])
        let alphabet = Self.bytes(#"{}[]",:\ 0123456789-+.eEtrufalsn"#) + [0x0A, 0x00, 0xC3, 0xA9, 0xFF]
        var compared = 0, accepted = 0
        for _ in 0..<3000 {
            var b = base
            for _ in 0..<Int(rng.next() % 3 + 1) {
                let i = Int(rng.next() % UInt64(b.count))
                switch rng.next() % 3 {
                case 0: b.remove(at: i)
                case 1: b.insert(b[i], at: i)
                default: b[i] = alphabet[Int(rng.next() % UInt64(alphabet.count))]
                }
            }
            let theirs = Self.foundation([JobInfo].self, b)
            let ours = try? [JobInfo](json: b)
            if Self.knownDifference(b) { continue }
            compared += 1
            if ours != nil { accepted += 1 }
            if ours != theirs {
                Issue.record("decoders disagree on \(String(decoding: b, as: UTF8.self).debugDescription)")
            }
        }
        #expect(compared > 1200)
        #expect(accepted > 200)
    }

    /// The cases where the reader is stricter than JSONDecoder on purpose (see below): a mutation
    /// that makes a number with a tiny fraction, or a malformed value under a member nobody reads.
    static func knownDifference(_ bytes: [UInt8]) -> Bool {
        JobInfoKeys.hasUnknownKey(bytes)
    }

    // MARK: - Documented differences

    /// JSONDecoder converts integers with a fraction or exponent through Double: a tiny
    /// fraction or an exponent making a non-zero value round to 0 passes there; the reader
    /// takes only exact whole numbers.
    @Test func integersMustBeExactlyWhole() {
        #expect(throws: JSONReader.Error.self) { try JobInfo(json: Self.bytes(Self.job("cores", "1.000000000000000001"))) }
        #expect(throws: JSONReader.Error.self) { try JobInfo(json: Self.bytes(Self.job("cores", "1e-400"))) }
        #expect(try! JobInfo(json: Self.bytes(Self.job("cores", "0e-400"))).cores == 0)
    }

    /// JSONDecoder does not look inside strings and numbers it never decodes; the reader checks
    /// skipped values as strictly as read ones.
    @Test func skippedValuesMustBeValidJSON() {
        for value in ["01", "1.", "-", "--1", #""\x""#, "\"\u{1}\"", #""\ud800""#] {
            #expect(throws: JSONReader.Error.self, "\(value)") { try JobInfo(json: Self.bytes(Self.job("extra", value))) }
        }
    }

    // MARK: - The reader on its own

    @Test func readerWalksAnyDocument() throws {
        let doc = Self.bytes(#" {"a": [1, -2.5e3, "x\ny", true, false, null, {}, [], {"b": [[]]}], "c\u0041": {"d": "😀"}} "#)
        let (keys, kinds, matched, depth) = try JSONReader.read(doc) {
            (r) throws(JSONReader.Error) -> ([String], [JSONReader.ValueKind], [Bool], Int) in
            var keys: [String] = [], kinds: [JSONReader.ValueKind] = [], matched: [Bool] = []
            kinds.append(try r.peek())
            try r.beginObject()
            while let key = try r.nextKey() {
                keys.append(key.string)
                matched += [key == "a", key == "cA", key == "c\\u0041"]
                if key == "a" {
                    try r.beginArray()
                    while try r.nextElement() {
                        kinds.append(try r.peek())
                        try r.skipValue()
                    }
                } else {
                    try r.skipValue()
                }
            }
            return (keys, kinds, matched, r.depth)
        }
        #expect(keys == ["a", "cA"])
        #expect(kinds == [.object, .number, .number, .string, .bool, .bool, .null, .object, .array, .object])
        #expect(matched == [true, false, false, false, true, false])
        #expect(depth == 0)

        let scalars = try JSONReader.read(Self.bytes(#"[1e2, "é", true, null, -0, 2.5]"#)) {
            (r) throws(JSONReader.Error) -> (Int64, String, Bool, Bool, Double, Bool, Double, Bool) in
            try r.beginArray()
            _ = try r.nextElement(); let i = try r.readInt64()
            _ = try r.nextElement(); let s = try r.readString()
            _ = try r.nextElement(); let b = try r.readBool()
            _ = try r.nextElement(); let n = try r.skipNull()
            _ = try r.nextElement(); let z = try r.readDouble()
            _ = try r.nextElement(); let notNull = try r.skipNull(); let d = try r.readDouble()
            let more = try r.nextElement()
            return (i, s, b, n, z, notNull, d, more)
        }
        #expect(scalars.0 == 100 && scalars.1 == "é" && scalars.2 && scalars.3)
        #expect(scalars.4 == 0 && scalars.4.sign == .minus && !scalars.5 && scalars.6 == 2.5 && !scalars.7)
    }
}

// MARK: - Test support

/// The top-level member names of a JSON object, without Foundation's JSONSerialization.
enum JSONSerializationFree {
    static func keys(of bytes: [UInt8]) throws -> Set<String> {
        try JSONReader.read(bytes) { (r) throws(JSONReader.Error) -> Set<String> in
            var keys: Set<String> = []
            try r.beginObject()
            while let key = try r.nextKey() {
                keys.insert(key.string)
                try r.skipValue()
            }
            return keys
        }
    }
}

/// Finds mutated documents where a member the decoders skip holds something malformed, or a
/// number JSONDecoder rounds; the randomized comparison leaves those out.
enum JobInfoKeys {
    static let known: Set<String> = [
        "id", "name", "owner", "vo", "submitQueue", "queue", "environment", "cores", "memoryMB", "walltime", "state",
        "submitTime", "startTime", "endTime", "node", "cpus", "exitCode", "reason", "cpuTime", "savedNode", "pausedSeconds",
    ]

    /// True if some object in the list has a member name that is not a JobInfo field (or
    /// repeats one), so that JSONDecoder skips its value unread.
    static func hasUnknownKey(_ bytes: [UInt8]) -> Bool {
        // A crude scan is enough: any quoted run followed by ':' that is not a known key.
        var i = 0
        var names: [String] = []
        while i < bytes.count {
            if bytes[i] == UInt8(ascii: "\"") {
                var j = i + 1
                while j < bytes.count, bytes[j] != UInt8(ascii: "\"") {
                    j += bytes[j] == UInt8(ascii: "\\") ? 2 : 1
                }
                guard j < bytes.count else { return false }
                var k = j + 1
                while k < bytes.count, bytes[k] == 0x20 || bytes[k] == 0x0A { k += 1 }
                if k < bytes.count, bytes[k] == UInt8(ascii: ":") {
                    names.append(String(decoding: bytes[(i + 1)..<j], as: UTF8.self))
                }
                i = j + 1
            } else {
                if bytes[i] == UInt8(ascii: "}") {
                    if Set(names).count != names.count || names.contains(where: { !known.contains($0) }) { return true }
                    names = []
                }
                i += 1
            }
        }
        return Set(names).count != names.count || names.contains(where: { !known.contains($0) })
    }
}

/// Random wire values from VBatchCore's seeded generator, so that a failure can be replayed.
extension SplitMix64 {
    static let pieces: [String] = [
        "a", "Z", "0", " ", "-", "_", ".", "\"", "\\", "/", "\u{0}", "\u{1}", "\u{8}", "\t", "\n", "\u{C}", "\r",
        "\u{1F}", "\u{7F}", "\u{80}", "é", "e\u{301}", "\u{301}", "中", "😀", "👩‍👩‍👧‍👦", "🇫🇷", "\u{FEFF}", "\u{2028}",
        "\u{FFFD}", "\u{FFFF}", "\u{10000}", "\u{10FFFF}", "\\u0041", "\\ud800",
    ]

    mutating func string() -> String {
        let length = next() % 50 == 0 ? Int(next() % 3000) : Int(next() % 12)
        var s = ""
        for _ in 0..<length { s += Self.pieces[Int(next() % UInt64(Self.pieces.count))] }
        return s
    }

    mutating func maybe<T>(_ make: (inout SplitMix64) -> T) -> T? {
        next() % 2 == 0 ? nil : make(&self)
    }

    mutating func int() -> Int {
        switch next() % 5 {
        case 0: Int(truncatingIfNeeded: next())
        case 1: [Int.min, Int.max, 0, -1, 1][Int(next() % 5)]
        default: Int(next() % 100_000) - 50_000
        }
    }

    mutating func double() -> Double {
        while true {
            let d: Double
            switch next() % 5 {
            case 0: d = Double(bitPattern: next())
            case 1: d = Double(next() % 4_000_000_000_000_000) / 1_000_000
            case 2: d = [0.1, 1e-7, 1.7976931348623157e308, 5e-324, -0.0, 0, 2.2250738585072014e-308][Int(next() % 7)]
            case 3: d = Double(Int64(truncatingIfNeeded: next()))
            default: d = Double(next() % 1000) / 8
            }
            if d.isFinite { return d }
        }
    }

    mutating func job() -> JobInfo {
        JobInfo(id: next() % 4 == 0 ? [Int64.min, Int64.max][Int(next() % 2)] : Int64(truncatingIfNeeded: next()),
                name: string(), owner: string(), vo: maybe { $0.string() }, submitQueue: string(), queue: string(),
                environment: string(), cores: int(), memoryMB: int(), walltime: int(),
                state: JobState.allCases[Int(next() % UInt64(JobState.allCases.count))], submitTime: double(),
                startTime: maybe { $0.double() }, endTime: maybe { $0.double() }, node: maybe { $0.string() },
                cpus: maybe { g in (0..<Int(g.next() % 5)).map { _ in g.int() } }, exitCode: maybe { $0.int() },
                reason: maybe { $0.string() }, cpuTime: maybe { $0.double() }, savedNode: maybe { $0.string() },
                pausedSeconds: maybe { $0.double() })
    }

    mutating func submitRequest() -> SubmitRequest {
        var variables: [String: String] = [:]
        for _ in 0..<Int(next() % 6) { variables[string()] = string() }
        return SubmitRequest(name: maybe { $0.string() }, queue: string(), cores: maybe { $0.int() },
                             memoryMB: maybe { $0.int() }, walltime: maybe { $0.int() },
                             environment: maybe { $0.string() }, script: string(),
                             arguments: (0..<Int(next() % 4)).map { _ in string() }, variables: variables,
                             count: int(), held: next() % 2 == 0)
    }
}

extension ErrorResponse {
    func with(error: String) -> ErrorResponse {
        var e = self
        e.error = error
        return e
    }
}
