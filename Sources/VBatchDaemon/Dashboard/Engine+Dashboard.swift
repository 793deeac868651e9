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
    /// The jobs of `query` a caller may see (an operator every user's, others their own), with
    /// waiting reasons for the queued and held ones, and how many the query selects in all.
    func dashboardJobs(_ query: JobQuery, caller: Caller) throws -> (jobs: [DashboardJob], total: Int) {
        var query = query
        if !caller.isOperator {
            if let owner = query.owner, owner != caller.user { return ([], 0) }
            query.owner = caller.user
        }
        let now = WallClock.now()
        let (jobs, total) = try store.jobs(matching: query)
        return (jobs.map { job in
            DashboardJob(job: job, waiting: job.state == .queued || job.state == .held
                            ? scheduler.waitingReason(job.id, now: now) : nil)
        }, total)
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

    /// The end of a job's VM console for its page (nil when there is none yet).
    func consoleTail(_ id: Int64, caller: Caller, maxBytes: Int) throws -> String? {
        _ = try authorizedJob(id, caller: caller)
        return Self.tail(of: "\(spoolRoot)/\(id)/console.log", maxBytes: maxBytes)
    }

    /// Where a live view starts following the job-event table.
    func lastEventID() throws -> Int64 { try store.lastEventID() }
}
