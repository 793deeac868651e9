import Foundation
import VBatchCore
import VBatchDrivers

/// P7: replay of a 10,000-job SWF trace on a simulated site of the trace's own size — what
/// `vbatch simulate` does, without the configuration files. The Lublin trace models a
/// 256-processor machine, so the site is one node of 256 slots: every job fits as logged,
/// queues build up and backfill works. P7_deep replays the same trace with its arrivals
/// compressed to half the time, twice the load: the queue stays hundreds of jobs deep.
enum ReplayBenchmark {
    static let slots = 256
    static let jobCount = 10_000
    /// The trace the project keeps outside the repository; used when present.
    static let sharedTrace = "/work/shared/traces/lublin_256.swf"

    /// One node of 256 slots; one routing queue (`grid`, where the trace is submitted) → one
    /// execution queue taking up to the whole node for up to 7 days (the Lublin trace's
    /// longest job runs 35 h, × 1.5 for its walltime).
    static func site() -> Configuration {
        Configuration(
            site: SiteSettings(name: "p7", placement: .pack),
            nodes: [NodeConfig(name: "wn0", slots: slots, memoryMB: 1024 * 1024)],
            queues: [
                .routing(RoutingQueue(name: "grid", destinations: ["batch"])),
                .execution(ExecutionQueue(name: "batch", environments: ["el9"], walltimeMax: 7 * 86_400,
                                          maxCores: slots, maxMemoryMB: 4096)),
            ],
            images: [ImageConfig(name: "el9", kernel: "k")])
    }

    /// The trace's bytes and what they are: `path` if given, else the shared Lublin trace if
    /// it exists (and `synthetic` is false), else a synthetic one (``synthetic(jobs:seed:)``).
    static func trace(path: String?, synthetic wantsSynthetic: Bool) throws -> (bytes: [UInt8], source: String) {
        if let path {
            guard let data = FileManager.default.contents(atPath: path) else { throw BenchError("cannot read trace \(path)") }
            return (Array(data), path)
        }
        if !wantsSynthetic, let data = FileManager.default.contents(atPath: sharedTrace) { return (Array(data), sharedTrace) }
        return (Array(synthetic(jobs: jobCount).utf8), "synthetic (seeded, Lublin-like sizes and run times)")
    }

    struct Result {
        var seconds: Double
        var parseSeconds: Double
        var jobs: Int
        var report: SiteSimulation.Report
    }

    /// Parses the trace and replays it `runs` times, arrival times multiplied by
    /// `arrivalScale` (0.5: twice the load); the median of the whole (parse + replay) and of
    /// the parse alone.
    static func replay(_ bytes: [UInt8], runs: Int, arrivalScale: Double = 1) -> Result {
        var totals: [Double] = [], parses: [Double] = []
        var report = SiteSimulation.Report()
        var jobs = 0
        let configuration = site()
        for _ in 0..<runs {
            var arrivals: [SiteSimulation.Arrival] = []
            let parse = measure {
                let trace = bytes.withUnsafeBufferPointer { SWFTrace(parsingUTF8: $0) }
                jobs = trace.jobs.count
                arrivals = trace.arrivals(SWFTrace.ReplayOptions(queue: "grid", maxCores: slots))
                if arrivalScale != 1 { for i in arrivals.indices { arrivals[i].time *= arrivalScale } }
            }
            let run = measure { report = SiteSimulation(configuration: configuration).run(arrivals) }
            parses.append(parse)
            totals.append(parse + run)
        }
        return Result(seconds: Stats.median(totals), parseSeconds: Stats.median(parses), jobs: jobs, report: report)
    }

    /// A deterministic SWF trace shaped like the Lublin–Feitelson model's output on a
    /// 256-processor machine: a quarter serial jobs, most others powers of two up to 256;
    /// run times log-uniform in two modes (seconds to minutes, minutes to 35 hours); Poisson
    /// arrivals every 770 s on average. User ids are -1 and requested times too, as in
    /// the Lublin trace.
    static func synthetic(jobs: Int, seed: UInt64 = 7) -> String {
        var rng = SplitMix64(seed: seed)
        func uniform() -> Double { Double(rng.next() >> 11) / Double(1 << 53) }
        func logUniform(_ low: Double, _ high: Double) -> Double { exp(log(low) + uniform() * (log(high) - log(low))) }
        let sizes: [(share: Double, size: Int)] = [
            (0.25, 1), (0.09, 2), (0.12, 4), (0.11, 8), (0.10, 16), (0.10, 32), (0.03, 64), (0.03, 128), (0.02, 256),
        ]
        var text = """
            ; Version: 2
            ; Note: synthetic trace from vbatch-bench (seed \(seed)), shaped like lublin_256.swf
            ; MaxJobs: \(jobs)
            ; MaxRecords: \(jobs)
            ; MaxNodes: 256

            """
        var time = 0.0
        for number in 1...jobs {
            time += -log(1 - uniform()) * 770
            var pick = uniform()
            var size = 0
            for entry in sizes {
                if pick < entry.share { size = entry.size; break }
                pick -= entry.share
            }
            if size == 0 { size = 3 + Int(rng.next() % 253) }
            let runtime = uniform() < 0.55 ? logUniform(1, 1000) : logUniform(1000, 125_000)
            text += "\(number) \(Int(time)) -1 \(Int(runtime)) \(size) -1 -1 -1 -1 -1 1 -1 -1 -1 0 -1 -1 -1\n"
        }
        return text
    }
}
