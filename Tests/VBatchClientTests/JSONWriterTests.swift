import FoundationEssentials
import Testing
import VBatchAPI
import VBatchCore

@Suite("JSON writer for job lists")
struct JSONWriterTests {
    @Test func jobListDecodesBackExactly() throws {
        let jobs = [
            JobInfo(id: 1, name: "plain", owner: "alice", vo: "cms", submitQueue: "grid", queue: "one-way",
                    environment: "testguest", cores: 2, memoryMB: 2048, walltime: 7200, state: .running,
                    submitTime: 1_795_306_426.533424, startTime: 1_795_306_427, node: "wn01", cpus: [2, 3],
                    reason: "placed on wn01 (cpus 2,3)"),
            JobInfo(id: 9_007_199_254, name: "x", owner: "bob", vo: nil, submitQueue: "two-way", queue: "two-way",
                    environment: "el9", cores: 1, memoryMB: 1, walltime: 1, state: .completed, submitTime: 0.5,
                    endTime: 12.000001, exitCode: -3, reason: "quote \" backslash \\ newline \n tab \t nul \u{0} bell \u{7} é ✓"),
        ]
        let bytes = JSONWriter.jobs(jobs)
        let decoded = try JSONDecoder().decode([JobInfo].self, from: Data(bytes))
        #expect(decoded == jobs)
        #expect(try JSONDecoder().decode([JobInfo].self, from: Data(JSONWriter.jobs([]))).isEmpty)
    }

    @Test func integersAndTimes() {
        var w = JSONWriter()
        w.int(0); w.raw(","); w.int(-42); w.raw(","); w.int(Int64.max); w.raw(","); w.int(Int64.min)
        w.raw(","); w.double(3); w.raw(","); w.double(-1.25); w.raw(","); w.double(0.000001)
        #expect(String(decoding: w.bytes, as: UTF8.self)
            == "0,-42,9223372036854775807,-9223372036854775808,3,-1.25,0.000001")
    }
}
