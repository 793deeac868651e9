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

    /// Records transitions in one transaction, after any kept ones; if the store refuses
    /// them for now (full, busy, an I/O error), they are kept too.
    func record(_ transitions: [Transition]) {
        guard !transitions.isEmpty else { return }
        do {
            try recordNow(transitions)
        } catch where JobStore.mayRecordLater(error) {
            unrecorded += transitions
        } catch {
            logger.error("could not record \(transitions.map { "job \($0.id) → \($0.state.rawValue)" }): \(error)")
        }
    }

    /// Records the kept transitions, then `transitions` in one transaction, or throws; the
    /// kept ones stay kept until recorded, `transitions` are not recorded. For decisions that
    /// are undone when they cannot be recorded: placements, cancelling or holding a waiting job.
    func recordNow(_ transitions: [Transition]) throws {
        try recordKeptOrThrow()
        guard !transitions.isEmpty else { return }
        do {
            try store.record(transitions)
        } catch {
            storeRefused(error, keeping: unrecorded.count + transitions.count)
            throw error
        }
        storeRecordsAgain(kept: 0)
    }

    /// Records the change a caller asked for, or undoes it in the scheduler and refuses with
    /// the store's reason: a change that cannot be recorded is not made.
    func recordOrRefuse(_ transitions: [Transition], _ what: String, undo: () -> Void) throws {
        do {
            try recordNow(transitions)
        } catch {
            undo()
            throw refusal(error, what)
        }
    }

    /// Writes the kept transitions if there are any (each scheduling cycle).
    func recordKept() {
        try? recordKeptOrThrow()
    }

    private func recordKeptOrThrow() throws {
        guard !unrecorded.isEmpty else { return }
        do {
            try store.record(unrecorded)
        } catch where JobStore.mayRecordLater(error) {
            storeRefused(error, keeping: unrecorded.count)
            throw error
        } catch {
            // Trying again cannot help (the data breaks a constraint): give them up, as before
            // keeping existed, rather than stop every later write.
            logger.error("could not record \(unrecorded.count) kept transitions, dropped: \(error)")
            unrecorded.removeAll()
            return
        }
        storeRecordsAgain(kept: unrecorded.count)
        unrecorded.removeAll()
    }

    /// Ends an episode of refused writes, if one is under way (logged once).
    private func storeRecordsAgain(kept: Int) {
        guard let since = storeRefusingSince else { return }
        storeRefusingSince = nil
        logger.notice("the job store records again after \(Int(WallClock.now() - since)) s: \(kept) kept transitions written")
    }

    /// Tries the kept transitions a last time as the engine stops (shutdown or reload); says
    /// which jobs lose them: the next start finds those as the store has them (still running).
    func recordBeforeStopping() {
        recordKept()
        guard !unrecorded.isEmpty else { return }
        let jobs = Set(unrecorded.map(\.id)).sorted().map(String.init).joined(separator: ", ")
        logger.error("""
            stopping with \(unrecorded.count) transitions the job store could not record (jobs \(jobs)); \
            these jobs start again as the store has them
            """)
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
