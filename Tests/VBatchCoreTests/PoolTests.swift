import Testing
import VBatchCore

@Suite("Pooled VMs")
struct PoolTests {
    func site() -> Configuration {
        var config = exampleConfiguration(nodes: 2, slots: 4)
        config.pools = [PoolConfig(name: "el9-small", environment: "el9", nodes: ["wn2"], size: 2, cores: 1, memoryMB: 512)]
        return config
    }

    @Test func poolsAreBookedAndHoldTheirSlots() {
        var h = Harness(site())
        let vms = h.scheduler.poolVMsToStart()
        #expect(vms.count == 2)
        #expect(vms.allSatisfy { $0.node == 1 && $0.slots.count == 1 && !$0.ready })
        #expect(h.scheduler.freeSlotCount(node: 1) == 2)
        #expect(h.scheduler.freeMemoryMB(node: 1) == 8192 - 1024)
        #expect(h.scheduler.poolVMsToStart().isEmpty, "the pool is full")
        #expect(Set(vms.flatMap(\.cpus)).count == 2, "each pooled VM has CPUs of its own")
    }

    @Test func jobTakesAnIdlePooledVMOnItsNode() throws {
        var h = Harness(site())
        let vms = h.scheduler.poolVMsToStart()
        // Booting VMs are not used yet.
        let early = try h.submit("cms-long", vo: "cms")
        #expect(h.cycle().placements.first?.pooledVM == nil)
        h.scheduler.finish(early, now: h.now)
        vms.forEach { h.scheduler.poolVMReady($0.id) }
        let id = try h.submit("cms-long", vo: "cms")
        let placement = try #require(h.cycle().placements.first)
        #expect(placement.jobID == id)
        #expect(placement.pooledVM == vms[0].id)
        #expect(placement.nodeName == "wn2", "the node with the idle VM wins over an empty one")
        #expect(placement.cpus == vms[0].cpus)
        // The pool is one short now and refills from free slots.
        let refill = h.scheduler.poolVMsToStart()
        #expect(refill.count == 1 && refill[0].node == 1)
        #expect(!Set(refill[0].cpus).contains(placement.cpus[0]))
    }

    @Test func onlyMatchingJobsUsePooledVMs() throws {
        var h = Harness(site())
        h.scheduler.poolVMsToStart().forEach { h.scheduler.poolVMReady($0.id) }
        try h.submit("cms-long", cores: 2, vo: "cms")            // more cores than a pooled VM has
        try h.submit("cms-long", vo: "cms", env: "el8")          // another environment
        try h.submit("cms-long", memoryMB: 1024, vo: "cms")      // more memory than a pooled VM has
        let placements = h.cycle().placements
        #expect(placements.count == 3)
        #expect(placements.allSatisfy { $0.pooledVM == nil })
    }

    @Test func releasedPooledVMFreesItsSlots() {
        var h = Harness(site())
        let vms = h.scheduler.poolVMsToStart()
        h.scheduler.releasePoolVM(vms[0].id)
        #expect(h.scheduler.freeSlotCount(node: 1) == 3)
        #expect(h.scheduler.poolVMsToStart().count == 1)
    }
}
