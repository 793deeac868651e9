import Logging
import Synchronization
import Testing
@testable import VBatchService

/// logfmt and JSON lines: fields, quoting and escaping.
@Suite("Log lines")
struct LogLineTests {
    func entry(_ message: String, _ metadata: Logger.Metadata = [:]) -> LogEntry {
        LogEntry(time: "2026-12-06T08:00:00.123Z", level: .info, label: "vbatchd", message: message,
                 source: "VBatchDaemon", metadata: metadata)
    }

    @Test func logfmtLine() {
        #expect(entry("vbatchd listening on /run/vbatch/vbatchd.sock", ["node": "wn1", "jobs": "3"]).logfmt
            == "time=2026-12-06T08:00:00.123Z level=info label=vbatchd msg=\"vbatchd listening on /run/vbatch/vbatchd.sock\" jobs=3 node=wn1")
        #expect(entry("started").logfmt == "time=2026-12-06T08:00:00.123Z level=info label=vbatchd msg=started")
    }

    @Test(arguments: [
        ("plain", "plain"),
        ("", "\"\""),
        ("two words", "\"two words\""),
        ("a=b", "\"a=b\""),
        ("say \"hi\"", "\"say \\\"hi\\\"\""),
        ("back\\slash", "\"back\\\\slash\""),
        ("line1\nline2", "\"line1\\nline2\""),
        ("tab\there\r", "\"tab\\there\\r\""),
        ("bell\u{07}", "\"bell\\u0007\""),
        ("grüße→✓", "grüße→✓"),
        ("no\u{00A0}break", "\"no\u{00A0}break\""),
    ])
    func logfmtQuoting(value: String, written: String) {
        #expect(LogEntry.logfmtValue(value) == written)
    }

    @Test func logfmtKeysAndNestedMetadata() {
        let line = entry("x", ["bad key=": "v", "msg": "clash", "job": ["id": "7", "queue": "one-way"], "list": ["a", "b"]]).logfmt
        #expect(line.hasSuffix(" msg=x bad_key_=v job.id=7 job.queue=one-way list=\"[\\\"a\\\", \\\"b\\\"]\" metadata.msg=clash"))
    }

    @Test func jsonLine() {
        let line = entry("say \"hi\"\n\u{01}grüße", ["node": "wn1", "level": "x", "ids": ["1", "2"], "d": ["k": "v"]]).json
        #expect(line == #"{"time":"2026-12-06T08:00:00.123Z","level":"info","label":"vbatchd","msg":"say \"hi\"\n\u0001grüße","source":"VBatchDaemon","d":{"k":"v"},"ids":["1","2"],"metadata.level":"x","node":"wn1"}"#)
    }

    @Test func time() {
        #expect(LogEntry.format(seconds: 1_796_544_000, milliseconds: 7) == "2026-12-06T08:00:00.007Z")
        #expect(LogEntry.format(seconds: 0, milliseconds: 999) == "1970-01-01T00:00:00.999Z")
        let now = LogEntry.now()
        #expect(now.count == 24 && now.hasSuffix("Z") && now.hasPrefix("20"))
    }

    @Test func handlerWritesOneLinePerEntryWithMetadata() {
        let lines = Mutex<[String]>([])
        var handler = StructuredLogHandler(label: "vbatch-relay", format: .json,
                                           metadataProvider: .init { ["request": "r1"] },
                                           sink: .lines { line in lines.withLock { $0.append(line) } })
        handler.logLevel = .debug
        var logger = Logger(label: "vbatch-relay") { _ in handler }
        logger[metadataKey: "host"] = "ce1"
        logger.debug("forwarded", metadata: ["status": "200"])
        logger.trace("not written")
        let written = lines.withLock { $0 }
        #expect(written.count == 1)
        #expect(written.first?.hasSuffix("\"level\":\"debug\",\"label\":\"vbatch-relay\",\"msg\":\"forwarded\",\"source\":\"VBatchServiceTests\",\"host\":\"ce1\",\"request\":\"r1\",\"status\":\"200\"}\n") == true,
                "\(written)")
    }
}
