import Foundation
import VBatchAPI
import VBatchClient

/// metrics_scrape: what one Prometheus scrape costs a large site. The real daemon on
/// simulated nodes, every slot held by a running job and as many jobs again waiting; the
/// figure is the wall time of `GET /metrics` over the Unix socket (one site snapshot on the
/// engine, the store's counts of active jobs, the exposition text), median of `runs`.
enum MetricsBenchmark {
    struct Result {
        var milliseconds: Double
        var bytes: Int
        var series: Int
    }

    static func scrape(nodes: Int, runs: Int = 21) throws -> Result {
        let daemon = try DaemonProcess(nodes: nodes, started: true)
        defer { daemon.stop() }
        let running = nodes * 32
        var left = running * 2
        while left > 0 {
            let n = min(left, 5000)
            _ = try daemon.client.submit(SubmitRequest(name: "bench", queue: "bench", walltime: 36000,
                                                       script: DaemonBenchmarks.script,
                                                       variables: ["VBATCH_SIM_RUNTIME": "36000"], count: n))
            left -= n
        }
        let deadline = Date().addingTimeInterval(120)
        while (try daemon.client.nodes()).reduce(0, { $0 + $1.freeSlots }) > 0 {
            guard Date() < deadline else { throw BenchError("the \(running) slots did not fill within 120 s") }
            usleep(100_000)
        }
        var times: [Double] = []
        var body: [UInt8] = []
        for _ in 0..<runs {
            times.append(try measure { body = try daemon.client.getJSON("/metrics") } * 1000)
        }
        let series = body.split(separator: UInt8(ascii: "\n")).filter { $0.first != UInt8(ascii: "#") }.count
        return Result(milliseconds: Stats.median(times), bytes: body.count, series: series)
    }
}
