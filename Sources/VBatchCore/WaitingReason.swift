/// Why a waiting job has not started, in the words a user or operator needs (Slurm's
/// "Reason" column): the first limit that holds it back, in the order the scheduler applies them.
extension Scheduler {
    /// Why job `id` waits, or nil if it is not waiting. `now` dates a reservation.
    public func waitingReason(_ id: Int64, now: Double) -> String? {
        guard let job = pending[id] else { return nil }
        let q = Int(job.queue)
        let queue = queues[q]
        let environment = environments[Int(job.environment)]
        if job.held {
            return job.savedOn >= 0
                ? "saved on \(configuration.nodes[Int(job.savedOn)].name): it is restored only once released"
                : "held: it starts only once released"
        }
        if !queueStarted[q] { return "queue \(queue.name) is stopped" }
        if job.savedOn >= 0, !nodeReachable[Int(job.savedOn)] {
            return "its saved VM is on \(configuration.nodes[Int(job.savedOn)].name), which cannot be reached now"
        }
        if let max = queue.maxRunning, queueRunning[q] >= max {
            return "queue \(queue.name) runs as many jobs as it allows (max_running = \(max))"
        }
        if let max = queue.maxRunningPerUser, userRunning[userKey(job), default: 0] >= max {
            return "its owner runs as many jobs as queue \(queue.name) allows per user (max_running_per_user = \(max))"
        }
        let key = q * environments.count + Int(job.environment)
        let serving = keyNodes[key]
        if serving.isEmpty { return "no node serves queue \(queue.name) with environment \(environment)" }
        let enabled = serving.filter { nodeEnabled[$0] }
        if enabled.isEmpty {
            return "every node serving queue \(queue.name) with environment \(environment) is drained or out of service"
        }
        let cores = Int(job.cores), memory = Int(job.memoryMB)
        let size = "\(cores) core\(cores == 1 ? "" : "s") and \(Quantities.formatMemory(memory))"
        if !enabled.contains(where: { configuration.nodes[$0].slots >= cores && configuration.nodes[$0].memoryMB >= memory }) {
            return "no node in service serving queue \(queue.name) has \(size) in all"
        }
        if let victims = preemptionsFor[id], !victims.isEmpty {
            return "making room: \(victims.count) job\(victims.count == 1 ? "" : "s") of lower-priority queues "
                + "being preempted (\(victims.sorted().map(String.init).joined(separator: ", ")))"
        }
        if let r = lastReservation, r.jobID == id {
            let wait = max(0, Int((r.startTime - now).rounded(.up)))
            return "next to start: \(size) reserved on \(configuration.nodes[r.node].name)"
                + (wait > 0 ? " in at most \(Quantities.formatWalltime(wait)), as running jobs reach their walltimes" : "")
        }
        let cap = queue.maxJobsPerNode
        let fitsNow = enabled.contains { n in
            freeSlots[n].count >= cores && freeMemory[n] >= memory
                && (cap.map { Int(nodeQueueJobs[n * queues.count + q]) < $0 } ?? true)
        }
        if fitsNow {
            return lastReservation != nil
                ? "a node has room, but starting it would delay job \(lastReservation!.jobID), which is next to start"
                : "a node has room: it starts at the next scheduling cycle"
        }
        return "waiting for resources: no node serving queue \(queue.name) has \(size) free"
            + (cap.map { " (and at most \($0) of the queue's jobs per node)" } ?? "")
    }
}
