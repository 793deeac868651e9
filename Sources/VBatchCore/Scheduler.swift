/// The pure scheduler: queue state, ordering, placement and EASY backfill.
///
/// It is fed events (a job queued, held, cancelled, started elsewhere, ended) and asked for
/// decisions (`schedule(now:)`); it never does I/O and never reads a clock, so the same code
/// runs in the daemon, on the simulated driver at 10,000 nodes and in trace replays.
///
/// Order: queue priority, then the VO's fair-share factor, then submit time, then id.
/// Placement: filter (node enabled, serves the queue, allows the environment, below the
/// queue's per-node cap, free slots and memory), then score (pack or spread, per site).
/// The first job that cannot start for lack of resources gets a reservation; later jobs
/// start only if they leave it intact.
public struct Scheduler: Sendable {
    public let configuration: Configuration
    /// Execution queues, in configuration order.
    public let queues: [ExecutionQueue]
    /// Catalogue names, in configuration order.
    public let environments: [String]
    /// VO names; index 0 is the empty name of users outside any VO.
    public let voNames: [String]

    private let queueIndex: [String: Int32]
    private let environmentIndex: [String: Int32]
    private let voIndex: [String: Int32]
    private let nodeIndex: [String: Int]
    private var userNames: [String] = []
    private var userIndex: [String: Int32] = [:]

    // Nodes.
    var nodeEnabled: [Bool]
    /// Answers its hypervisor (a drained node may still be a saved VM's source).
    var nodeReachable: [Bool]
    var freeSlots: [CPUSet]
    var freeMemory: [Int]
    /// Running jobs of each queue on each node, `[node * queues.count + queue]`.
    var nodeQueueJobs: [Int32]
    var nodeJobs: [[Int64]]
    /// Index keys (`queue * environments.count + environment`) each node may serve.
    let nodeKeys: [[Int]]
    /// Nodes that may serve each key, whatever their current load.
    let keyNodes: [[Int]]
    var indexes: [FreeSlotIndex?]

    // Jobs.
    var pending: [Int64: PendingJob] = [:]
    private var lists: [JobList]
    var running: [Int64: RunningJob] = [:]
    /// Waiting jobs that preemptions are making room for, with the victims still to go.
    var preemptionsFor: [Int64: Set<Int64>] = [:]
    var queueRunning: [Int]
    private var queueWaiting: [Int]
    /// Waiting jobs held (or saved and held) per queue, among `queueWaiting`.
    private var queueHeld: [Int]
    var userRunning: [Int64: Int] = [:]
    var queueStarted: [Bool]
    private var ledger: FairShareLedger

    // Pools.
    private var poolVMs: [Int64: PoolVM] = [:]
    /// Idle (ready) pooled VMs per pool, oldest first.
    private var idlePoolVMs: [[Int64]]
    /// Pooled VMs (booting or idle) per `[pool * nodes + node]`.
    private var poolVMCount: [Int]
    private var nextPoolVMID: Int64 = 1

    /// The reservation made by the last cycle, if any.
    public private(set) var lastReservation: Reservation?

    public init(configuration: Configuration, now: Double) {
        self.configuration = configuration
        queues = configuration.executionQueues
        environments = configuration.images.map(\.name)
        voNames = [""] + configuration.vos.map(\.name)
        queueIndex = Dictionary(uniqueKeysWithValues: queues.enumerated().map { ($1.name, Int32($0)) })
        environmentIndex = Dictionary(uniqueKeysWithValues: environments.enumerated().map { ($1, Int32($0)) })
        voIndex = Dictionary(uniqueKeysWithValues: voNames.enumerated().map { ($1, Int32($0)) })
        nodeIndex = Dictionary(uniqueKeysWithValues: configuration.nodes.enumerated().map { ($1.name, $0) })

        let nodes = configuration.nodes
        nodeEnabled = nodes.map(\.enabled)
        nodeReachable = Array(repeating: true, count: nodes.count)
        freeSlots = nodes.map { CPUSet(count: $0.slots, full: true) }
        freeMemory = nodes.map(\.memoryMB)
        nodeQueueJobs = Array(repeating: 0, count: nodes.count * queues.count)
        nodeJobs = Array(repeating: [], count: nodes.count)

        let envCount = environments.count
        var nodeKeys = Array(repeating: [Int](), count: nodes.count)
        var keyNodes = Array(repeating: [Int](), count: queues.count * envCount)
        for (q, queue) in queues.enumerated() {
            for envName in queue.environments {
                guard let e = environmentIndex[envName] else { continue }
                let key = q * envCount + Int(e)
                for (n, node) in nodes.enumerated() where queue.serves(node: node.name)
                    && (node.environments?.contains(envName) ?? true) {
                    nodeKeys[n].append(key)
                    keyNodes[key].append(n)
                }
            }
        }
        self.nodeKeys = nodeKeys
        self.keyNodes = keyNodes
        let maxSlots = nodes.map(\.slots).max() ?? 0
        indexes = keyNodes.map { $0.isEmpty ? nil : FreeSlotIndex(maxSlots: maxSlots, nodeCount: nodes.count) }
        lists = Array(repeating: JobList(), count: queues.count * voNames.count)
        queueRunning = Array(repeating: 0, count: queues.count)
        queueWaiting = Array(repeating: 0, count: queues.count)
        queueHeld = Array(repeating: 0, count: queues.count)
        queueStarted = queues.map(\.started)
        let shares = [configuration.site.localShare] + configuration.vos.map(\.share)
        ledger = FairShareLedger(shares: shares, halfLife: Double(configuration.site.fairShareHalfLife), now: now)
        idlePoolVMs = Array(repeating: [], count: configuration.pools.count)
        poolVMCount = Array(repeating: 0, count: configuration.pools.count * nodes.count)
        for n in nodes.indices { refreshIndexes(node: n) }
    }

    // MARK: - Names

    public func queue(named name: String) -> Int32? { queueIndex[name] }
    public func environment(named name: String) -> Int32? { environmentIndex[name] }
    public func node(named name: String) -> Int? { nodeIndex[name] }
    /// VO index for a VO name; `nil` or unknown names map to 0 (no VO).
    public func vo(named name: String?) -> Int32 { name.flatMap { voIndex[$0] } ?? 0 }

    /// Interns a user name; the scheduler only compares users, it never needs their names.
    public mutating func user(named name: String) -> Int32 {
        if let i = userIndex[name] { return i }
        let i = Int32(userNames.count)
        userNames.append(name)
        userIndex[name] = i
        return i
    }

    /// Builds the compact pending form of a routed job.
    public mutating func pendingJob(id: Int64, routed: RoutedJob, user: String, vo: String?,
                                    submitTime: Double, held: Bool = false) -> PendingJob? {
        guard let q = queueIndex[routed.queue], let e = environmentIndex[routed.environment] else { return nil }
        return PendingJob(id: id, submitTime: submitTime, queue: q, environment: e, user: self.user(named: user),
                          vo: self.vo(named: vo), cores: Int32(routed.cores), memoryMB: Int32(routed.memoryMB),
                          walltime: Int32(routed.walltime), held: held)
    }

    // MARK: - Events

    /// Adds a job to its queue. Jobs keep their place by submit time and id.
    public mutating func enqueue(_ job: PendingJob) {
        pending[job.id] = job
        queueWaiting[Int(job.queue)] += 1
        if job.held { queueHeld[Int(job.queue)] += 1 }
        lists[listKey(job)].insert(job)
    }

    /// Removes a waiting job (cancelled); returns it if it was waiting.
    @discardableResult
    public mutating func removePending(_ id: Int64) -> PendingJob? {
        guard let job = pending.removeValue(forKey: id) else { return nil }
        preemptionsFor[id] = nil
        queueWaiting[Int(job.queue)] -= 1
        if job.held { queueHeld[Int(job.queue)] -= 1 }
        lists[listKey(job)].stale += 1
        return job
    }

    /// Holds or releases a waiting job; returns false if it is not waiting.
    @discardableResult
    public mutating func setHeld(_ id: Int64, _ held: Bool) -> Bool {
        guard let job = pending[id] else { return false }
        if job.held != held { queueHeld[Int(job.queue)] += held ? 1 : -1 }
        pending[id]!.held = held
        return true
    }

    /// Records a job already holding `slots` on `node` (a restart re-adopting its VMs).
    public mutating func adopt(_ job: PendingJob, node: Int, slots: [Int], startTime: Double) {
        if pending[job.id] != nil { removePending(job.id) }
        for s in slots { freeSlots[node].remove(s) }
        allocate(RunningJob(job: job, node: node, slots: slots, startTime: startTime))
    }

    /// Frees the resources of a running job; returns it if it was running.
    @discardableResult
    public mutating func finish(_ id: Int64, now: Double) -> RunningJob? {
        guard let run = running.removeValue(forKey: id) else { return nil }
        if let target = run.moveTarget { releaseMoveTarget(target, of: run.job) }
        victimGone(id)
        ledger.advance(to: now)
        ledger.jobEnded(vo: Int(run.job.vo), cores: Int(run.job.cores))
        let q = Int(run.job.queue)
        queueRunning[q] -= 1
        userRunning[userKey(run.job), default: 1] -= 1
        nodeQueueJobs[run.node * queues.count + q] -= 1
        for s in run.slots { freeSlots[run.node].insert(s) }
        freeMemory[run.node] += Int(run.job.memoryMB)
        if let i = nodeJobs[run.node].firstIndex(of: id) { nodeJobs[run.node].remove(at: i) }
        refreshIndexes(node: run.node)
        return run
    }

    /// Puts a running job back in its queue at its original place (its VM failed to start).
    public mutating func requeue(_ id: Int64, now: Double) {
        guard let run = finish(id, now: now) else { return }
        enqueue(run.job)
    }

    /// Counts usage of a job that ended before this scheduler existed (rebuild after restart).
    public mutating func recordPastUsage(vo: String?, coreSeconds: Double, endedAgo: Double) {
        ledger.addPastUsage(vo: Int(self.vo(named: vo)), coreSeconds: coreSeconds, age: endedAgo)
    }

    public mutating func setNodeEnabled(_ node: Int, _ enabled: Bool) {
        nodeEnabled[node] = enabled
        refreshIndexes(node: node)
    }

    public mutating func setQueueStarted(_ queue: Int32, _ started: Bool) {
        queueStarted[Int(queue)] = started
    }

    // MARK: - Queries

    public var pendingCount: Int { pending.count }
    public var runningCount: Int { running.count }
    public func pendingJob(_ id: Int64) -> PendingJob? { pending[id] }
    public func runningJob(_ id: Int64) -> RunningJob? { running[id] }
    public func waitingCount(queue: Int32) -> Int { queueWaiting[Int(queue)] }
    /// Waiting jobs of the queue that are held (by a hold, or saved until released).
    public func heldCount(queue: Int32) -> Int { queueHeld[Int(queue)] }
    public func runningCount(queue: Int32) -> Int { queueRunning[Int(queue)] }
    public func isNodeEnabled(_ node: Int) -> Bool { nodeEnabled[node] }
    public func freeSlotCount(node: Int) -> Int { freeSlots[node].count }
    public func freeMemoryMB(node: Int) -> Int { freeMemory[node] }
    public func runningJobs(node: Int) -> [Int64] { nodeJobs[node] }
    public func fairShareFactors() -> [Double] { ledger.factors() }
    /// The fair-share ledger as of its last update: shares, decayed usage, factors per VO index.
    public var fairShare: FairShareLedger { ledger }
    /// The name of an interned user (see ``user(named:)``).
    public func userName(_ user: Int32) -> String { userNames[Int(user)] }

    // MARK: - Scheduling

    /// Runs one scheduling cycle at time `now` and applies its placements to the state.
    public mutating func schedule(now: Double) -> CycleResult {
        ledger.advance(to: now)
        let factors = ledger.factors()
        var result = CycleResult()
        var reservation: ReservationState?
        var failures = Array(repeating: [Failure](), count: indexes.count)
        var cursors = OrderHeap()
        for key in lists.indices {
            let q = key / voNames.count
            guard queueStarted[q] else { continue }
            lists[key].compactIfNeeded(isLive: { pending[$0] != nil })
            if let cursor = nextLive(in: key, from: lists[key].head) {
                cursors.push(cursor, priority: queues[q].priority, factor: factors[key % voNames.count])
            }
        }
        let envCount = environments.count
        // Whether a full site ends the cycle: not while a pooled VM is idle or a queue may preempt.
        let canStop = idlePoolVMs.allSatisfy(\.isEmpty) && queues.allSatisfy(\.preempts.isEmpty)
        // The placement count when some queue last still had a free slot.
        var stillStartable = -1
        while let (cursor, priority, factor) = cursors.pop() {
            // The job as nextLive found it: during a cycle only a started job leaves `pending`, a
            // job starts only when popped, and a list holds each job once (`JobList.insert`).
            let job = cursor.job
            let q = Int(job.queue)
            if let next = nextLive(in: cursor.list, from: cursor.position + 1) {
                cursors.push(next, priority: priority, factor: factor)
            }
            if job.held { continue }
            // A saved job's state file is on its node: nothing to restore while that node is away.
            if job.savedOn >= 0, !nodeReachable[Int(job.savedOn)] { continue }
            if let max = queues[q].maxRunning, queueRunning[q] >= max {
                cursors.removeAll { $0.list / voNames.count == q }
                continue
            }
            if let max = queues[q].maxRunningPerUser, userRunning[userKey(job), default: 0] >= max { continue }
            result.considered += 1

            let key = q * envCount + Int(job.environment)
            guard let index = indexes[key] else { continue }
            let short = reservation.map { now + Double(job.walltime) <= $0.startTime } ?? true
            if failures[key].contains(where: { $0.covers(job, short: short) }) { continue }

            let cap = queues[q].maxJobsPerNode
            // An idle pooled VM of the job's environment starts it without a boot, and holds
            // slots of its own, so it never delays the reservation.
            if job.savedOn < 0, let vm = idlePoolVM(for: job, key: key, cap: cap) {
                result.placements.append(startInPool(job, vm: vm, now: now))
                continue
            }
            func fits(_ n: Int) -> Bool {
                guard freeMemory[n] >= Int(job.memoryMB) else { return false }
                guard let r = reservation, r.node == n else { return true }
                if short { return true }
                return Int(job.cores) <= r.extraSlots && Int(job.memoryMB) <= r.extraMemory
                    && !(job.queue == r.queue && cap != nil)
            }
            // A saved job resumes where its state file is if it can: nothing to move.
            let home = job.savedOn >= 0 ? Int(job.savedOn) : nil
            let placed = home.flatMap { n in
                index.free(node: n).map { $0 >= Int(job.cores) } == true && fits(n) ? n : nil
            } ?? index.first(slots: Int(job.cores), policy: configuration.site.placement, where: fits)
            // Read here, before a start changes the index: a copy kept alive past it would be copied on write.
            let queueFull = placed == nil && !index.hasCapacity(slots: 1)
            if placed == nil, preemptionsFor[job.id] == nil, !queues[q].preempts.isEmpty,
               let plan = preemptionPlan(for: job, key: key, now: now) {
                preemptionsFor[job.id] = Set(plan.map(\.victim))
                for victim in plan { running[victim.victim]?.preemptible = false }
                result.preemptions += plan
                continue
            }
            if let n = placed {
                if let r = reservation, r.node == n, !short {
                    reservation!.extraSlots -= Int(job.cores)
                    reservation!.extraMemory -= Int(job.memoryMB)
                }
                result.placements.append(start(job, on: n, now: now, backfilled: reservation != nil))
            } else if reservation == nil {
                reservation = reserve(job, key: key, now: now)
                if let r = reservation {
                    result.reservation = Reservation(jobID: job.id, node: r.node, startTime: r.startTime)
                }
            } else {
                if failures[key].count < 8 { failures[key].append(Failure(cores: job.cores, memory: job.memoryMB, short: short)) }
            }
            // With the head job reserved and not one slot free anywhere, no later job can start
            // this cycle: stop rather than walk a deep queue to find that out job by job.
            // (Asked again only after a placement: nothing else frees or takes slots meanwhile.)
            if queueFull, reservation != nil, canStop, stillStartable != result.placements.count {
                if indexes.allSatisfy({ $0.map { !$0.hasCapacity(slots: 1) } ?? true }) { break }
                stillStartable = result.placements.count
            }
        }
        lastReservation = result.reservation
        return result
    }

    // MARK: - Pools

    /// Books slots and memory for the pooled VMs each pool is missing on each node, as far
    /// as free capacity allows; the caller boots them and reports ``poolVMReady(_:)``.
    /// Call it after ``schedule(now:)``, so waiting jobs get freed slots first.
    public mutating func poolVMsToStart() -> [PoolVM] {
        var started: [PoolVM] = []
        for (p, pool) in configuration.pools.enumerated() {
            guard environmentIndex[pool.environment] != nil else { continue }
            for (n, node) in configuration.nodes.enumerated() where nodeEnabled[n] && pool.covers(node: node) {
                while poolVMCount[p * configuration.nodes.count + n] < pool.size,
                      freeMemory[n] >= pool.memoryMB, let slots = freeSlots[n].take(pool.cores) {
                    let vm = PoolVM(id: nextPoolVMID, pool: p, node: n, slots: slots, cpus: slots.map { node.cpus[$0] },
                                    ready: false)
                    nextPoolVMID += 1
                    poolVMs[vm.id] = vm
                    freeMemory[n] -= pool.memoryMB
                    poolVMCount[p * configuration.nodes.count + n] += 1
                    refreshIndexes(node: n)
                    started.append(vm)
                }
            }
        }
        return started
    }

    /// A pooled VM finished booting and waits for a job.
    public mutating func poolVMReady(_ id: Int64) {
        guard let vm = poolVMs[id], !vm.ready else { return }
        poolVMs[id]!.ready = true
        idlePoolVMs[vm.pool].append(id)
    }

    /// A pooled VM is gone without a job (failed to boot, destroyed): its slots are free.
    @discardableResult
    public mutating func releasePoolVM(_ id: Int64) -> PoolVM? {
        guard let vm = poolVMs.removeValue(forKey: id) else { return nil }
        if let i = idlePoolVMs[vm.pool].firstIndex(of: id) { idlePoolVMs[vm.pool].remove(at: i) }
        for s in vm.slots { freeSlots[vm.node].insert(s) }
        freeMemory[vm.node] += configuration.pools[vm.pool].memoryMB
        poolVMCount[vm.pool * configuration.nodes.count + vm.node] -= 1
        refreshIndexes(node: vm.node)
        return vm
    }

    public func poolVM(_ id: Int64) -> PoolVM? { poolVMs[id] }

    /// Pooled VMs on a node: (pool index, idle, booting).
    public func poolVMs(node: Int) -> [(pool: Int, idle: Int, booting: Int)] {
        configuration.pools.indices.compactMap { p in
            let vms = poolVMs.values.filter { $0.pool == p && $0.node == node }
            guard !vms.isEmpty || configuration.pools[p].covers(node: configuration.nodes[node]) else { return nil }
            let idle = vms.filter(\.ready).count
            return (p, idle, vms.count - idle)
        }
    }

    /// Ids of the pooled VMs (booting or idle) on a node.
    public func poolVMIDs(node: Int) -> [Int64] {
        poolVMs.values.filter { $0.node == node }.map(\.id).sorted()
    }

    /// The first idle pooled VM that fits the job: same environment, exactly its cores,
    /// enough memory, on a node that may run the job now.
    private func idlePoolVM(for job: PendingJob, key: Int, cap: Int?) -> PoolVM? {
        for (p, pool) in configuration.pools.enumerated() where !idlePoolVMs[p].isEmpty
            && environmentIndex[pool.environment] == job.environment && pool.cores == Int(job.cores)
            && pool.memoryMB >= Int(job.memoryMB) {
            for id in idlePoolVMs[p] {
                guard let vm = poolVMs[id], nodeEnabled[vm.node], nodeKeys[vm.node].contains(key) else { continue }
                if let cap, Int(nodeQueueJobs[vm.node * queues.count + Int(job.queue)]) >= cap { continue }
                return vm
            }
        }
        return nil
    }

    private mutating func startInPool(_ job: PendingJob, vm: PoolVM, now: Double) -> Placement {
        poolVMs.removeValue(forKey: vm.id)
        idlePoolVMs[vm.pool].removeAll { $0 == vm.id }
        poolVMCount[vm.pool * configuration.nodes.count + vm.node] -= 1
        freeMemory[vm.node] += configuration.pools[vm.pool].memoryMB
        pending.removeValue(forKey: job.id)
        queueWaiting[Int(job.queue)] -= 1
        lists[listKey(job)].stale += 1
        var run = RunningJob(job: job, node: vm.node, slots: vm.slots, startTime: now)
        run.pooled = true
        allocate(run)
        preemptionsFor[job.id] = nil
        return Placement(jobID: job.id, node: vm.node, nodeName: configuration.nodes[vm.node].name, cpus: vm.cpus,
                         slots: vm.slots, backfilled: false, pooledVM: vm.id)
    }

    // MARK: - Internals

    private func listKey(_ job: PendingJob) -> Int { Int(job.queue) * voNames.count + Int(job.vo) }
    func userKey(_ job: PendingJob) -> Int64 { Int64(job.queue) << 32 | Int64(job.user) }

    private func nextLive(in list: Int, from position: Int) -> Cursor? {
        let ids = lists[list].ids
        var p = position
        while p < ids.count {
            if let job = pending[ids[p]] { return Cursor(list: list, position: p, job: job) }
            p += 1
        }
        return nil
    }

    private mutating func start(_ job: PendingJob, on node: Int, now: Double, backfilled: Bool) -> Placement {
        pending.removeValue(forKey: job.id)
        queueWaiting[Int(job.queue)] -= 1
        lists[listKey(job)].stale += 1
        let slots = freeSlots[node].take(Int(job.cores))!
        var started = job
        started.savedOn = -1
        started.walltimeUsed = 0
        allocate(RunningJob(job: started, node: node, slots: slots, startTime: now - Double(job.walltimeUsed)))
        let config = configuration.nodes[node]
        preemptionsFor[job.id] = nil
        return Placement(jobID: job.id, node: node, nodeName: config.name, cpus: slots.map { config.cpus[$0] },
                         slots: slots, backfilled: backfilled, pooledVM: nil,
                         restoreFrom: job.savedOn >= 0 ? Int(job.savedOn) : nil)
    }

    /// Books a running job whose slots are already taken out of `freeSlots`.
    mutating func allocate(_ run: RunningJob) {
        let q = Int(run.job.queue)
        running[run.job.id] = run
        freeMemory[run.node] -= Int(run.job.memoryMB)
        queueRunning[q] += 1
        userRunning[userKey(run.job), default: 0] += 1
        nodeQueueJobs[run.node * queues.count + q] += 1
        nodeJobs[run.node].append(run.job.id)
        ledger.jobStarted(vo: Int(run.job.vo), cores: Int(run.job.cores))
        refreshIndexes(node: run.node)
    }

    /// Re-files `node` in every index it may serve, under its current free slot count.
    mutating func refreshIndexes(node: Int) {
        let envCount = max(1, environments.count)
        let free = freeSlots[node].count
        for key in nodeKeys[node] {
            let q = key / envCount
            let eligible = nodeEnabled[node]
                && (queues[q].maxJobsPerNode.map { Int(nodeQueueJobs[node * queues.count + q]) < $0 } ?? true)
            indexes[key]!.set(node: node, free: eligible ? free : nil)
        }
    }

    /// Earliest node and time at which `job` fits, assuming running jobs end at their walltime.
    private func reserve(_ job: PendingJob, key: Int, now: Double) -> ReservationState? {
        var best: ReservationState?
        let q = Int(job.queue)
        let cap = queues[q].maxJobsPerNode
        let needSlots = Int(job.cores), needMemory = Int(job.memoryMB)
        for n in keyNodes[key] where nodeEnabled[n] {
            guard configuration.nodes[n].slots >= needSlots, configuration.nodes[n].memoryMB >= needMemory else { continue }
            var slots = freeSlots[n].count, memory = freeMemory[n]
            var sameQueue = Int(nodeQueueJobs[n * queues.count + q])
            let ends = nodeJobs[n].compactMap { running[$0] }.sorted { $0.expectedEnd < $1.expectedEnd }
            var time = now
            var i = 0
            func fits() -> Bool { slots >= needSlots && memory >= needMemory && (cap.map { sameQueue < $0 } ?? true) }
            while !fits(), i < ends.count {
                let run = ends[i]
                time = max(now, run.expectedEnd)
                slots += run.slots.count
                memory += Int(run.job.memoryMB)
                if Int(run.job.queue) == q { sameQueue -= 1 }
                i += 1
            }
            // Jobs ending at the same instant free their slots together.
            while i < ends.count, ends[i].expectedEnd <= time {
                slots += ends[i].slots.count
                memory += Int(ends[i].job.memoryMB)
                i += 1
            }
            guard fits() else { continue }
            if best == nil || time < best!.startTime {
                best = ReservationState(node: n, startTime: time, queue: job.queue,
                                        extraSlots: slots - needSlots, extraMemory: memory - needMemory)
            }
        }
        return best
    }
}

private struct ReservationState {
    var node: Int
    var startTime: Double
    var queue: Int32
    /// Slots and memory left on the reserved node at `startTime` once the head job is in.
    var extraSlots: Int
    var extraMemory: Int
}

/// A shape that found no node this cycle: any job at least as large fails too, since
/// placements within a cycle only take capacity away.
private struct Failure {
    var cores: Int32
    var memory: Int32
    var short: Bool

    func covers(_ job: PendingJob, short jobIsShort: Bool) -> Bool {
        job.cores >= cores && job.memoryMB >= memory && (short || !jobIsShort)
    }
}

/// Ids of one (queue, VO) pair in submit order; removed jobs are skipped, then compacted.
struct JobList: Sendable {
    var ids: [Int64] = []
    var head = 0
    var stale = 0
    private var lastTime = -Double.infinity
    private var lastID: Int64 = .min
    private var times: [Double] = []

    mutating func insert(_ job: PendingJob) {
        if (job.submitTime, job.id) > (lastTime, lastID) || ids.isEmpty {
            ids.append(job.id)
            times.append(job.submitTime)
            lastTime = job.submitTime
            lastID = job.id
            return
        }
        // Out of order (a requeued job): keep submit-time order.
        var lo = head, hi = ids.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if (times[mid], ids[mid]) < (job.submitTime, job.id) { lo = mid + 1 } else { hi = mid }
        }
        if lo < ids.count, ids[lo] == job.id {
            stale -= 1 // its old entry, left behind when it started, is live again
            return
        }
        ids.insert(job.id, at: lo)
        times.insert(job.submitTime, at: lo)
    }

    mutating func compactIfNeeded(isLive: (Int64) -> Bool) {
        guard stale > 64, stale * 2 > ids.count - head else {
            while head < ids.count, !isLive(ids[head]) { head += 1; stale -= 1 }
            return
        }
        var newIDs: [Int64] = [], newTimes: [Double] = []
        newIDs.reserveCapacity(ids.count - head - stale)
        for i in head..<ids.count where isLive(ids[i]) {
            newIDs.append(ids[i])
            newTimes.append(times[i])
        }
        ids = newIDs
        times = newTimes
        head = 0
        stale = 0
    }
}

private struct Cursor {
    var list: Int
    var position: Int
    /// The waiting job at `position` (a copy: plain values, no references).
    var job: PendingJob
    var id: Int64 { job.id }
    var submitTime: Double { job.submitTime }
}

/// Binary heap of list cursors ordered by (priority desc, fair-share factor desc, submit time, id).
private struct OrderHeap {
    private var items: [(cursor: Cursor, priority: Int, factor: Double)] = []

    private func before(_ a: Int, _ b: Int) -> Bool {
        let x = items[a], y = items[b]
        if x.priority != y.priority { return x.priority > y.priority }
        if x.factor != y.factor { return x.factor > y.factor }
        if x.cursor.submitTime != y.cursor.submitTime { return x.cursor.submitTime < y.cursor.submitTime }
        return x.cursor.id < y.cursor.id
    }

    mutating func push(_ cursor: Cursor, priority: Int, factor: Double) {
        items.append((cursor, priority, factor))
        var i = items.count - 1
        while i > 0 {
            let parent = (i - 1) / 2
            guard before(i, parent) else { break }
            items.swapAt(i, parent)
            i = parent
        }
    }

    mutating func pop() -> (Cursor, Int, Double)? {
        guard !items.isEmpty else { return nil }
        items.swapAt(0, items.count - 1)
        let top = items.removeLast()
        siftDown(0)
        return (top.cursor, top.priority, top.factor)
    }

    mutating func removeAll(where drop: (Cursor) -> Bool) {
        let before = items.count
        items.removeAll { drop($0.cursor) }
        guard items.count != before else { return }
        for i in stride(from: items.count / 2, through: 0, by: -1) { siftDown(i) }
    }

    private mutating func siftDown(_ start: Int) {
        var i = start
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count, before(l, m) { m = l }
            if r < items.count, before(r, m) { m = r }
            guard m != i else { return }
            items.swapAt(i, m)
            i = m
        }
    }
}
