import Foundation

/// Runs blocking libvirt calls on dedicated threads, so an awaiting caller is never blocked and
/// gets a timeout error after a deadline even if libvirtd never answers.
///
/// Up to `maxWorkers` threads run calls concurrently (libvirt connections are thread-safe). A
/// call that times out while running leaves its thread stuck inside libvirt: that thread stops
/// counting towards `maxWorkers`, so a fresh thread serves the calls behind it, and it rejoins
/// the pool (or exits, if the pool is full) when the call returns. At most `maxStuck` threads may
/// be stuck at once; past that, calls fail immediately with a timeout error rather than pile up.
///
/// Calls may belong to a ``Lane`` (one per connection) that allows only a few stuck calls of its
/// own: a hung node then fails its own calls at once and cannot take the shared stuck budget
/// from the others.
///
/// Two executors serve every connection of the process, so the number of threads does not grow
/// with the number of nodes: ``control`` for short calls and ``bulk`` for volume transfers.
///
/// `@unchecked Sendable`: every mutable property is read and written only with `condition` held.
final class BlockingExecutor: @unchecked Sendable {
    /// Short calls of every connection (domains, volumes, events set-up).
    static let control = BlockingExecutor(name: "libvirt-calls", maxWorkers: 6, maxStuck: 24)
    /// Chunks of volume uploads and downloads of every bulk connection.
    static let bulk = BlockingExecutor(name: "libvirt-bulk", maxWorkers: 3, maxStuck: 8)

    /// The calls of one connection. `@unchecked Sendable`: `stuck` is guarded by the executor's condition.
    final class Lane: @unchecked Sendable {
        let maxStuck: Int
        /// Calls of this lane whose caller gave up while they run.
        var stuck = 0

        init(maxStuck: Int = 2) { self.maxStuck = maxStuck }
    }

    private let condition = NSCondition()
    private let name: String
    private let maxWorkers: Int
    private let maxStuck: Int

    private var queue: [ExecutorJob] = []
    private var queueHead = 0
    /// Queued jobs not yet abandoned.
    private var liveQueued = 0
    /// Threads started and not exited.
    private var workers = 0
    /// Threads running a job (stuck ones included).
    private var busy = 0
    /// Threads running a job whose caller has given up on it.
    private var stuck = 0
    private var isShutdown = false

    init(name: String, maxWorkers: Int = 4, maxStuck: Int = 16) {
        precondition(maxWorkers > 0 && maxStuck >= 0)
        self.name = name
        self.maxWorkers = maxWorkers
        self.maxStuck = maxStuck
    }

    /// Runs `body` on a worker thread and returns its result, or throws a timeout error after
    /// `timeout`, or `CancellationError` if the calling task is cancelled first. A body that
    /// finishes after its caller gave up has its result passed to `discard` (to free resources).
    func run<T: Sendable>(_ operation: String, timeout: Duration, lane: Lane? = nil,
                          discard: (@Sendable (T) -> Void)? = nil,
                          _ body: @escaping @Sendable () throws -> T) async throws -> T {
        let job = TypedJob(body: body, discard: discard)
        job.lane = lane
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<T, any Error>) in
                submit(job, continuation: continuation, operation: operation, timeout: timeout)
            }
        } onCancel: {
            abandon(job, with: CancellationError())
        }
    }

    /// Lets the workers exit once the queue is empty. Calls submitted afterwards fail.
    func shutdown() {
        condition.lock()
        isShutdown = true
        condition.broadcast()
        condition.unlock()
    }

    private func submit<T>(_ job: TypedJob<T>, continuation: CheckedContinuation<T, any Error>,
                           operation: String, timeout: Duration) {
        condition.lock()
        let rejection: (any Error)?
        if job.state == .abandoned {  // cancelled before it was submitted
            rejection = CancellationError()
        } else if isShutdown {
            rejection = LibvirtError(kind: .closed, code: 0, domain: 0, message: "connection is closed", operation: operation)
        } else if let lane = job.lane, lane.stuck >= lane.maxStuck {
            rejection = LibvirtError(kind: .timeout, code: 0, domain: 0,
                                     message: "\(lane.stuck) earlier calls to this node are still waiting for it; not sending more",
                                     operation: operation)
        } else if stuck >= maxStuck {
            rejection = LibvirtError(kind: .timeout, code: 0, domain: 0,
                                     message: "\(stuck) earlier calls are still waiting for libvirt; not sending more",
                                     operation: operation)
        } else {
            rejection = nil
        }
        if let rejection {
            job.state = .abandoned
            condition.unlock()
            continuation.resume(throwing: rejection)
            return
        }
        job.continuation = continuation
        job.state = .queued
        queue.append(job)
        liveQueued += 1
        spawnWorkersIfNeeded()
        condition.signal()
        job.timer = Task { [weak self] in
            do { try await Task.sleep(for: timeout) } catch { return }
            self?.abandon(job, with: LibvirtError.timeout(operation: operation, seconds: timeout.seconds))
        }
        condition.unlock()
    }

    /// Gives up on `job`: its caller gets `error` now, whatever the job's thread is doing.
    private func abandon(_ job: ExecutorJob, with error: any Error) {
        condition.lock()
        switch job.state {
        case .new:
            job.state = .abandoned  // `submit` resumes the caller
            condition.unlock()
            return
        case .queued:
            job.state = .abandoned
            liveQueued -= 1
        case .running:
            job.state = .abandonedRunning
            stuck += 1
            job.lane?.stuck += 1
            spawnWorkersIfNeeded()
        case .done, .abandoned, .abandonedRunning:
            condition.unlock()
            return
        }
        let timer = job.timer
        job.timer = nil
        condition.unlock()
        timer?.cancel()
        job.resume(throwing: error)
    }

    /// With `condition` held: start threads while queued calls outnumber idle threads and fewer
    /// than `maxWorkers` threads are not stuck.
    private func spawnWorkersIfNeeded() {
        while liveQueued > workers - busy && workers - stuck < maxWorkers {
            workers += 1
            let thread = Thread { [self] in workerLoop() }
            thread.name = name
            thread.start()
        }
    }

    private func workerLoop() {
        condition.lock()
        while true {
            if let job = dequeue() {
                job.state = .running
                busy += 1
                condition.unlock()
                job.perform()
                condition.lock()
                busy -= 1
                if job.state == .running {
                    job.state = .done
                    let timer = job.timer
                    job.timer = nil
                    condition.unlock()
                    timer?.cancel()
                    job.resumeWithResult()
                } else {  // the caller gave up while we were stuck in libvirt
                    stuck -= 1
                    job.lane?.stuck -= 1
                    condition.unlock()
                    job.discardResult()
                }
                condition.lock()
                if workers - stuck > maxWorkers {
                    break
                }
                continue
            }
            if isShutdown {
                break
            }
            condition.wait()
        }
        workers -= 1
        condition.unlock()
    }

    /// With `condition` held: the next queued job not abandoned, if any.
    private func dequeue() -> ExecutorJob? {
        while queueHead < queue.count {
            let job = queue[queueHead]
            queueHead += 1
            if queueHead > 64 && queueHead * 2 > queue.count {
                queue.removeFirst(queueHead)
                queueHead = 0
            }
            if job.state == .queued {
                liveQueued -= 1
                return job
            }
        }
        return nil
    }
}

/// One call for ``BlockingExecutor``. `@unchecked Sendable`: `state`, `timer` and the
/// continuation are touched only with the executor's condition held, or by the single party
/// (worker or canceller) that moved `state` to a final value; `result` is written by the worker
/// before it takes the condition to publish completion.
class ExecutorJob: @unchecked Sendable {
    enum State { case new, queued, running, done, abandoned, abandonedRunning }
    var state = State.new
    var timer: Task<Void, Never>?
    var lane: BlockingExecutor.Lane?

    func perform() {}
    func resumeWithResult() {}
    func resume(throwing error: any Error) {}
    func discardResult() {}
}

final class TypedJob<T: Sendable>: ExecutorJob, @unchecked Sendable {
    private let body: @Sendable () throws -> T
    private let discard: (@Sendable (T) -> Void)?
    var continuation: CheckedContinuation<T, any Error>?
    private var result: Result<T, any Error>?

    init(body: @escaping @Sendable () throws -> T, discard: (@Sendable (T) -> Void)?) {
        self.body = body
        self.discard = discard
    }

    override func perform() {
        result = Result { try body() }
    }

    override func resumeWithResult() {
        continuation?.resume(with: result!)
        continuation = nil
    }

    override func resume(throwing error: any Error) {
        continuation?.resume(throwing: error)
        continuation = nil
    }

    override func discardResult() {
        if case .success(let value) = result {
            discard?(value)
        }
        result = nil
    }
}
