import Foundation
import GRDB

/// Group commit for single submissions.
///
/// Callers append their submission and a continuation to a lock-protected list. One writer
/// task at a time, on a serial dispatch queue, takes everything pending, commits it in one
/// transaction (one fsync) and resumes every caller with its ids. While it commits, new
/// callers accumulate for the next round, so under load each commit carries many
/// submissions; an idle store commits a lone submission at once, on its caller's thread.
final class GroupCommitter: @unchecked Sendable {
    typealias Waiter = (submission: NewSubmission, continuation: CheckedContinuation<[Int64], any Error>)

    /// Largest number of jobs one group-commit transaction takes (a submission is never split).
    static let maxJobsPerCommit = 20_000

    private let pool: DatabasePool
    private let queue = DispatchQueue(label: "vbatch.store.group-commit", qos: .userInitiated)
    private let lock = NSLock()
    // Guarded by `lock`.
    private var pending: [Waiter] = []
    private var draining = false

    private let observeCommit: JobStore.CommitObserver?
    /// Turns a failed commit's error into the one callers get (a full disk said so).
    private let classify: @Sendable (any Error) -> any Error

    init(pool: DatabasePool, observeCommit: JobStore.CommitObserver?, classify: @escaping @Sendable (any Error) -> any Error) {
        self.pool = pool
        self.observeCommit = observeCommit
        self.classify = classify
    }

    func submit(_ submission: NewSubmission) async throws -> [Int64] {
        // An idle store commits a lone submission on the caller's thread. Handing it to the
        // writer queue and resuming the caller afterwards costs two thread wake-ups, about as
        // long as the commit itself: a CE submitting one job per process waits for both.
        let alone = lock.withLock {
            guard !draining else { return false } // not draining: nothing is pending either
            draining = true
            return true
        }
        if alone {
            defer { handOver() }
            return try write([submission]).get()[0]
        }
        return try await withCheckedThrowingContinuation { continuation in
            let startWriter = lock.withLock {
                pending.append((submission, continuation))
                if draining { return false }
                draining = true
                return true
            }
            if startWriter {
                queue.async { self.drain() }
            }
        }
    }

    /// After a commit on a caller's thread: the submissions that arrived meanwhile go to the writer queue.
    private func handOver() {
        let startWriter = lock.withLock {
            if pending.isEmpty { draining = false }
            return draining
        }
        if startWriter {
            queue.async { self.drain() }
        }
    }

    /// Commits rounds until nothing is pending.
    private func drain() {
        while true {
            let round: [Waiter] = lock.withLock {
                if pending.isEmpty {
                    draining = false
                    return []
                }
                var jobs = 0
                var taken = 0
                while taken < pending.count && (taken == 0 || jobs + pending[taken].submission.count <= Self.maxJobsPerCommit) {
                    jobs += pending[taken].submission.count
                    taken += 1
                }
                let round = Array(pending.prefix(taken))
                pending.removeFirst(taken)
                return round
            }
            if round.isEmpty { return }
            commit(round)
        }
    }

    private func commit(_ round: [Waiter]) {
        switch write(round.map(\.submission)) {
        case .success(let ids):
            for (waiter, ids) in zip(round, ids) {
                waiter.continuation.resume(returning: ids)
            }
        case .failure(let error) where round.count == 1:
            round[0].continuation.resume(throwing: error)
        case .failure:
            // The transaction rolled back as a whole: retry each submission alone, so one
            // bad submission fails only its own caller.
            for waiter in round {
                waiter.continuation.resume(with: write([waiter.submission]).map { $0[0] })
            }
        }
    }

    /// One transaction of `submissions` (their ids, in order), timed for the commit observer;
    /// a failure is the error callers get.
    private func write(_ submissions: [NewSubmission]) -> Result<[[Int64]], any Error> {
        let started = ContinuousClock.now
        defer { observeCommit?(ContinuousClock.now - started) }
        do {
            return .success(try SubmissionWriter.submit(submissions, to: pool))
        } catch {
            return .failure(classify(error))
        }
    }
}
