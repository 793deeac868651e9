import Foundation
import VBatchAPI
import VBatchCore
import VBatchDrivers
import VBatchStore

/// A job as the dashboard lists it: its record, and why it waits if it does.
struct DashboardJob: Sendable {
    var job: JobInfo
    var waiting: String?
}

/// What the dashboard's overview shows besides the snapshot.
struct DashboardOverview: Sendable {
    var snapshot: SiteSnapshot
    var queues: [QueueInfo]
    var startsLastMinute: Int
    var lastDay: FinishedSummary
}

extension Engine {
    /// Jobs a caller may see (an operator every user's, others their own): the active ones
    /// and those that ended in the last day, newest first; waiting reasons for queued ones.
    func dashboardJobs(caller: Caller, limit: Int = 500) throws -> [DashboardJob] {
        let owner = caller.isOperator ? nil : caller.user
        let now = WallClock.now()
        let active = try store.jobs(owner: owner, active: true, limit: nil)
        let ended = try store.jobs(owner: owner, active: false, limit: limit, endedSince: now - 86400)
        return (active.sorted { $0.id > $1.id } + ended).prefix(limit).map { job in
            DashboardJob(job: job, waiting: job.state == .queued || job.state == .held
                            ? scheduler.waitingReason(job.id, now: now) : nil)
        }
    }

    /// The overview: the site now, the queue tree, starts in the last minute and the last day's outcomes.
    func dashboardOverview() throws -> DashboardOverview {
        let now = WallClock.now()
        return DashboardOverview(snapshot: try snapshot(), queues: queues(),
                                 startsLastMinute: try store.startCount(since: now - 60),
                                 lastDay: try store.finishedSummary(since: now - 86400))
    }

    /// Job events after `id` that `caller` may see (operators: all; others: their own jobs),
    /// and the id of the last event read (where to go on from, seen or not).
    func dashboardEvents(after id: Int64, caller: Caller) throws -> (events: [JobEventRecord], through: Int64) {
        let events = try store.events(after: id, limit: 500)
        return (events.filter { caller.isOperator || $0.owner == caller.user }, events.last?.id ?? id)
    }

    /// Where a live view starts following the job-event table.
    func lastEventID() throws -> Int64 { try store.lastEventID() }
}
