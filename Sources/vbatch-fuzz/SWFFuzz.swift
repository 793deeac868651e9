import VBatchCore
import VBatchDrivers

/// `swf`: bytes as an SWF workload log (`vbatch simulate --trace`), then the replay's
/// arrivals. The reader walks the bytes by index with unsafe buffer pointers and turns
/// numbers into `Int`s, both places where hostile input can trap; the replay converts
/// times to walltimes.
enum SWFFuzz {
    static let target = FuzzTarget(
        name: "swf",
        summary: "SWF workload log: SWFTrace(parsingUTF8:), then the replay's arrivals and walltimes",
        run: { bytes in
            let trace = SWFTrace(parsingUTF8: bytes)
            let arrivals = trace.arrivals(SWFTrace.ReplayOptions(queue: "grid", maxCores: 16))
            FuzzCheck.require(arrivals.count == trace.jobs.count, "one arrival per job")
            for arrival in arrivals {
                FuzzCheck.require((arrival.request.walltime ?? 0) >= 1, "walltime at least 1 s")
                FuzzCheck.require((1...16).contains(arrival.request.cores ?? 0), "cores within 1...16")
            }
            _ = trace.widerThan(16)
            _ = trace.maxNodes
            _ = trace.maxProcessors
            _ = trace.skipped.map(\.description)
        })
}
