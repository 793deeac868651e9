import Foundation
import VBatchAPI
import VBatchClient

/// P3, P3_cli, P6 and P8: the real daemon over its Unix socket, with simulated nodes.
enum DaemonBenchmarks {
    static let script = "#!/bin/sh\necho hello from vbatch\n"

    static func request(count: Int = 1) -> SubmitRequest {
        SubmitRequest(name: "bench", queue: "bench", walltime: 3600, script: script, count: count)
    }

    /// P3 batched: array submissions of 1,000 jobs, each acknowledged once durable.
    static func batched(_ daemon: DaemonProcess, batches: Int = 20, size: Int = 1000) throws -> Double {
        let client = daemon.client
        _ = try client.submit(request(count: size)) // warm-up
        var rates: [Double] = []
        for _ in 0..<batches {
            let t = try measure { _ = try client.submit(request(count: size)) }
            rates.append(Double(size) / t)
        }
        return Stats.median(rates)
    }

    /// P3 concurrent: 16 clients, each submitting single jobs back to back.
    static func concurrent(_ daemon: DaemonProcess, clients: Int = 16, perClient: Int = 250, runs: Int = 3) throws -> Double {
        var rates: [Double] = []
        for _ in 0..<runs {
            let failures = LockedCounter()
            let socket = daemon.socket
            let t = measure {
                DispatchQueue.concurrentPerform(iterations: clients) { _ in
                    let client = VBatchClient(socketPath: socket)
                    for _ in 0..<perClient where (try? client.submit(request())) == nil { failures.increment() }
                }
            }
            guard failures.value == 0 else { throw BenchError("\(failures.value) concurrent submissions failed") }
            rates.append(Double(clients * perClient) / t)
        }
        return Stats.median(rates)
    }

    /// P3_cli: a shell loop running one `vbatch submit` process per job, as a CE does.
    static func cli(_ daemon: DaemonProcess, jobs: Int = 500, runs: Int = 3) throws -> Double {
        let scriptFile = daemon.directory + "/job.sh"
        try script.write(toFile: scriptFile, atomically: true, encoding: .utf8)
        var rates: [Double] = []
        for _ in 0..<runs {
            let loop = Process()
            loop.executableURL = URL(fileURLWithPath: "/bin/sh")
            loop.arguments = ["-c", "i=0; while [ $i -lt \(jobs) ]; do \"$VBATCH\" submit \"$SCRIPT\" -q bench >/dev/null || exit 1; i=$((i+1)); done"]
            loop.environment = ["VBATCH": Binaries.path("vbatch"), "SCRIPT": scriptFile, "VBATCH_SOCKET": daemon.socket,
                                "PATH": "/usr/bin:/bin"]
            let t = try measure {
                try loop.run()
                loop.waitUntilExit()
            }
            guard loop.terminationStatus == 0 else { throw BenchError("vbatch submit loop failed") }
            rates.append(Double(jobs) / t)
        }
        return Stats.median(rates)
    }

    /// P8: wall time of `vbatch status --all --json` with 10,000 pending jobs.
    static func statusLatency(_ daemon: DaemonProcess, pending: Int = 10_000, runs: Int = 21) throws -> Double {
        var left = pending
        while left > 0 {
            let n = min(left, 5000)
            _ = try daemon.client.submit(request(count: n))
            left -= n
        }
        var times: [Double] = []
        let vbatch = Binaries.path("vbatch")
        for _ in 0..<runs {
            var status: Int32 = 0
            let t = measure {
                status = spawnAndWait(vbatch, ["status", "--all", "--json", "--socket", daemon.socket], environment: [:])
            }
            guard status == 0 else { throw BenchError("vbatch status failed (\(status))") }
            times.append(t * 1000)
        }
        return Stats.median(times)
    }

    /// P6: growth of the daemon's resident memory per pending job, at `pending` jobs.
    static func memoryPerPending(_ daemon: DaemonProcess, pending: Int, batch: Int = 10_000) throws -> Double {
        _ = try daemon.client.submit(request(count: 1000))
        let before = daemon.residentBytes()
        var left = pending
        while left > 0 {
            let n = min(left, batch)
            _ = try daemon.client.submit(request(count: n))
            left -= n
        }
        let after = daemon.residentBytes()
        return Double(after - before) / Double(pending)
    }
}

final class LockedCounter: @unchecked Sendable {
    private let lock = NSLock()
    private var count = 0
    var value: Int { lock.withLock { count } }
    func increment() { lock.withLock { count += 1 } }
}
