import Foundation
import Synchronization
import Testing
import VBatchAPI
import VBatchClient
import VBatchCore
import VBatchLibvirt

/// Concurrency (docs/reliability.md, R5): 16 clients submitting, cancelling, holding and
/// releasing at once while jobs start and end. Only the refusals the races make expected
/// (409: the job moved on meanwhile) may come back; no request fails otherwise, the store
/// never reports SQLITE_BUSY, and a sampler finds no CPU given to two jobs at once — from the
/// daemon's own listing on simulated nodes, from the vCPU pins of the running domains on libvirt.
///
/// `VBATCH_R5_SECONDS` sets how long the clients run (default 20 s simulated, 45 s on VMs);
/// scripts/reliability.sh runs it for minutes.
@Suite("Concurrency (R5)", .serialized)
struct ConcurrencyTests {
    static let seconds = ProcessInfo.processInfo.environment["VBATCH_R5_SECONDS"].flatMap(Double.init).flatMap { $0 > 0 ? $0 : nil }

    /// What the clients and the sampler saw.
    final class Tally: @unchecked Sendable {
        private let lock = NSLock()
        private(set) var requests = 0, refusals = 0, samples = 0
        private(set) var errors: [String] = []
        private(set) var oversubscriptions: [String] = []

        func request(_ error: ClientError?) {
            lock.withLock {
                requests += 1
                guard let error else { return }
                if error.kind == .server, error.status == 409 { refusals += 1 } else { errors.append(error.message) }
            }
        }
        func sample(_ problems: [String]) {
            let at = String(format: "%.2f", Date().timeIntervalSince1970)
            lock.withLock { samples += 1; oversubscriptions += problems.map { "at \(at): \($0)" } }
        }
        var checks: [String: Int] {
            lock.withLock {
                ["requests": requests, "refusals_409": refusals, "errors": errors.count, "samples": samples,
                 "oversubscribed": oversubscriptions.count]
            }
        }
    }

    @Test func simulatedNodes() throws {
        let d = try DaemonHarness(nodes: 4, slots: 8, queues: ["crash.toml": CrashMatrixTests.queue])
        try d.start()
        let slots = Set(0..<8)
        let tally = try run(d, seconds: Self.seconds ?? 20,
                            request: { n in
                                SubmitRequest(name: "r5", queue: "crash", script: "#!/bin/sh\ntrue\n",
                                              variables: ["VBATCH_SIM_RUNTIME": String(0.2 + Double(n % 10) * 0.2)],
                                              count: 1 + n % 3, held: n % 7 == 0)
                            },
                            sample: { Self.listingProblems(try d.client.jobs(all: true), cpus: slots) })
        try finish(d, tally: tally, subject: "16 clients, simulated nodes, \(Int(Self.seconds ?? 20)) s")
    }

    @Test func realVMs() throws {
        let d = try DaemonHarness(site: DaemonHarness.libvirtSite())
        try d.start()
        let tally = try run(d, seconds: Self.seconds ?? 45,
                            request: { n in
                                SubmitRequest(name: "r5", queue: "two-way", walltime: 600,
                                              script: "#!/bin/sh\nsleep \(n % 3)\necho done\n", held: n % 7 == 0)
                            },
                            sample: { try Self.pinProblems(cpus: [0, 1]) })
        try finish(d, tally: tally, subject: "16 clients, real VMs on one node, \(Int(Self.seconds ?? 45)) s")
        #expect(try LibvirtLeftovers.findNow().isEmpty)
    }

    // MARK: - The clients

    /// 16 clients for `seconds`, each submitting, cancelling, holding or releasing one of its
    /// own jobs at random; a sampler checks the CPUs every 50 ms meanwhile.
    func run(_ d: DaemonHarness, seconds: Double, request: @escaping @Sendable (Int) -> SubmitRequest,
             sample: @escaping @Sendable () throws -> [String]) throws -> Tally {
        let tally = Tally()
        let deadline = Date().addingTimeInterval(seconds)
        let socket = d.socket
        let clients = (0..<16).map { client in
            Thread {
                let api = VBatchClient(socketPath: socket)
                var mine: [Int64] = []
                var n = client
                while Date() < deadline {
                    n += 16
                    let roll = Int.random(in: 0..<100)
                    do {
                        if roll < 45 || mine.isEmpty {
                            mine += try api.submit(request(n)).ids
                        } else if roll < 65 {
                            _ = try api.cancel(mine.randomElement()!)
                        } else if roll < 80 {
                            _ = try api.hold(mine.randomElement()!)
                        } else if roll < 95 {
                            _ = try api.release(mine.randomElement()!)
                        } else {
                            _ = try api.jobs(all: false)
                        }
                        tally.request(nil)
                    } catch let error as ClientError {
                        tally.request(error)
                    } catch {
                        tally.request(ClientError(.transport, "\(error)"))
                    }
                    if mine.count > 200 { mine.removeFirst(100) }
                }
            }
        }
        let sampler = Thread {
            while Date() < deadline {
                do { tally.sample(try sample()) } catch { tally.sample(["sampling failed: \(error)"]) }
                usleep(50_000)
            }
        }
        clients.forEach { $0.start() }
        sampler.start()
        while clients.contains(where: { !$0.isFinished }) || !sampler.isFinished { usleep(50_000) }
        return tally
    }

    /// Cancels what is left, waits for every job to end, and checks the whole run.
    func finish(_ d: DaemonHarness, tally: Tally, subject: String) throws {
        for job in try d.client.jobs(all: true) { _ = try? d.client.cancel(job.id) }
        let settled = try d.wait(timeout: 240) { try d.client.jobs(all: true).isEmpty }
        let ended = try d.client.history(all: true, limit: 1_000_000)
        var inconsistent: [String] = []
        var runs = 0
        for job in ended {
            let history = try d.client.job(job.id).history
            let problems = JobHistoryCheck.problems(history)
            if !problems.isEmpty { inconsistent.append("job \(job.id): \(problems)") }
            runs += JobHistoryCheck.runs(history)
        }
        let busy = d.daemonLog.split(separator: "\n").filter { $0.contains("SQLITE_BUSY") || $0.contains("database is locked") }
        var checks = tally.checks
        checks["jobs"] = ended.count
        checks["runs"] = runs
        checks["inconsistent"] = inconsistent.count
        checks["sqlite_busy"] = busy.count
        let summary = checks.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
        let clean = settled && tally.errors.isEmpty && tally.oversubscriptions.isEmpty && inconsistent.isEmpty && busy.isEmpty
        try ReliabilityRecord(id: "R5", subject: subject, rounds: 1, checks: checks, passed: clean).append()
        let left = (try? d.client.jobs(all: true)) ?? []
        #expect(settled, "jobs left: \(left.prefix(5).map { "\($0.id) \($0.state.rawValue)" })")
        #expect(tally.errors.isEmpty, "\(summary): \(tally.errors.prefix(5))")
        let explanation = tally.oversubscriptions.isEmpty ? "" : (try? Self.explain(tally.oversubscriptions, d)) ?? ""
        #expect(tally.oversubscriptions.isEmpty, "\(tally.oversubscriptions.prefix(5))\n\(explanation)")
        #expect(inconsistent.isEmpty, "\(inconsistent.prefix(5))")
        #expect(busy.isEmpty, "\(busy.prefix(3))")
        #expect(tally.samples > 10 && ended.count > 16, "\(summary)")
    }

    // MARK: - Samplers

    /// For a failure: the histories of the jobs a CPU was found shared by, and what the
    /// daemon logged about them.
    static func explain(_ problems: [String], _ d: DaemonHarness) throws -> String {
        let ids = Set(problems.flatMap { $0.matches(of: /(?:vbatch-job-|jobs? )(\d+)/).compactMap { Int64($0.output.1) } })
        var lines: [String] = []
        for id in ids.sorted().prefix(4) {
            let history = try d.client.job(id).history
            lines.append("job \(id): " + history.map { "\(String(format: "%.2f", $0.time)) \($0.state.rawValue): \($0.reason)" }
                .joined(separator: " | "))
            lines += d.daemonLog.split(separator: "\n").filter { $0.contains("job \(id)") || $0.contains("job-\(id)") }
                .suffix(20).map(String.init)
        }
        return lines.joined(separator: "\n")
    }

    /// CPUs the daemon's listing gives to two jobs at once, or that its node does not have.
    static func listingProblems(_ jobs: [JobInfo], cpus: Set<Int>) -> [String] {
        var holders: [String: [Int: Int64]] = [:]
        var problems: [String] = []
        for job in jobs where [.starting, .running, .suspended].contains(job.state) {
            guard let node = job.node, let pinned = job.cpus else { continue }
            for cpu in pinned {
                if !cpus.contains(cpu) { problems.append("job \(job.id) on \(node) has cpu \(cpu)") }
                if let other = holders[node, default: [:]][cpu] { problems.append("cpu \(cpu) of \(node): jobs \(other) and \(job.id)") }
                holders[node, default: [:]][cpu] = job.id
            }
        }
        return problems
    }

    /// CPUs the running domains' vCPU pins give to two VMs at once, or that the node does not have.
    static func pinProblems(cpus: Set<Int>) throws -> [String] {
        let pins = try LibvirtLeftovers.pinsNow()
        var holder: [Int: String] = [:]
        var problems: [String] = []
        for (domain, pinned) in pins {
            for cpu in pinned {
                if !cpus.contains(cpu) { problems.append("\(domain) pinned to cpu \(cpu)") }
                if let other = holder[cpu] { problems.append("cpu \(cpu): \(other) and \(domain)") }
                holder[cpu] = domain
            }
        }
        return problems
    }
}
