import VBatchAPI
import VBatchCore
import VBatchDrivers
import VBatchStore

/// Recording transitions when the store cannot write (its filesystem is full).
///
/// The scheduler acts on a job's end at once, whether or not the store could record it;
/// a transition the store refused is kept in ``Engine/unrecorded`` and written again, in
/// order and before any later transition, at the start of every scheduling cycle (each
/// second) until the store takes it. Reads of one job show the kept transitions on top of
/// what the store says; listings show the store.
extension Engine {
    /// Records one transition now, or keeps it (after the ones already kept) to be recorded
    /// when the store can write again.
    func record(_ transition: Transition) {
        record([transition])
    }

    /// Records transitions in one transaction, after any kept ones; if the store refuses,
    /// they are kept too.
    func record(_ transitions: [Transition]) {
        guard !transitions.isEmpty else { return }
        do {
            try recordNow(transitions)
        } catch {
            unrecorded += transitions
        }
    }

    /// Records the kept transitions and then `transitions` in one transaction, or throws
    /// and records none of them (the kept ones stay kept). For decisions that are undone
    /// when they cannot be recorded: placements, cancelling or holding a waiting job.
    func recordNow(_ transitions: [Transition]) throws {
        let all = unrecorded + transitions
        guard !all.isEmpty else { return }
        do {
            try store.record(all)
        } catch {
            storeRefused(error, keeping: all.count)
            throw error
        }
        if let since = storeRefusingSince {
            logger.notice("""
                the job store records again after \(Int(WallClock.now() - since)) s: \
                \(unrecorded.count) kept transitions written
                """)
            storeRefusingSince = nil
        }
        unrecorded.removeAll()
    }

    /// Writes the kept transitions if there are any (each scheduling cycle).
    func recordKept() {
        guard !unrecorded.isEmpty else { return }
        try? recordNow([])
    }

    /// Logs a refused write once per episode (until the store records again), not per retry.
    private func storeRefused(_ error: any Error, keeping count: Int) {
        guard storeRefusingSince == nil else { return }
        storeRefusingSince = WallClock.now()
        logger.error("""
            the job store cannot record job transitions (\(error)); no job is placed, and ends \
            are kept in memory and written once it can (\(count) now)
            """)
    }

    /// A job as the engine knows it: the store's row with the transitions not yet recorded
    /// applied, and the history with their events.
    func withUnrecorded(_ job: JobInfo, history: [JobEvent]) -> (JobInfo, [JobEvent]) {
        let kept = unrecorded.filter { $0.id == job.id }
        guard !kept.isEmpty, !job.state.isTerminal else { return (job, history) }
        var job = job
        var history = history
        for t in kept {
            job.state = t.state
            job.reason = t.reason + " (not yet recorded: the job store cannot write)"
            if let node = t.node { job.node = node }
            if let code = t.exitCode { job.exitCode = code }
            if t.state.isTerminal { job.endTime = t.time }
            history.append(JobEvent(time: t.time, state: t.state, reason: t.reason))
            if t.state.isTerminal { break }
        }
        return (job, history)
    }

    /// What a store error means for a request that changed nothing: a full state directory
    /// said so, anything else as the store said it.
    func refusal(_ error: any Error, _ what: String) -> EngineError {
        if case StoreError.full = error {
            return .unavailable("\(error): \(what) not recorded; try again once space is freed")
        }
        return .unavailable("the job store could not record the \(what): \(error)")
    }
}
