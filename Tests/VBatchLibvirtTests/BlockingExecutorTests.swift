import Foundation
import Synchronization
import Testing
@testable import VBatchLibvirt

/// The worker pool behind every libvirt call, with blocking bodies standing in for a hung libvirtd.
@Suite("BlockingExecutor")
struct BlockingExecutorTests {
    /// A gate bodies block on until it is opened.
    final class Gate: Sendable {
        private let semaphore = DispatchSemaphore(value: 0)
        func wait() { semaphore.wait() }
        func open(_ count: Int) { for _ in 0..<count { semaphore.signal() } }
    }

    @Test("results and errors come back from the worker")
    func results() async throws {
        let executor = BlockingExecutor(name: "test")
        defer { executor.shutdown() }
        #expect(try await executor.run("add", timeout: .seconds(5)) { 40 + 2 } == 42)
        let error = await #expect(throws: LibvirtError.self) {
            try await executor.run("fail", timeout: .seconds(5)) { () throws -> Int in
                throw LibvirtError(code: 42, domain: 10, message: "boom", operation: "fail")
            }
        }
        #expect(error?.code == 42)
    }

    @Test("stuck calls time out, calls behind them still run, and a full pool of stuck calls fails fast")
    func stuckCalls() async throws {
        let executor = BlockingExecutor(name: "test", maxWorkers: 2, maxStuck: 3)
        defer { executor.shutdown() }
        let gate = Gate()
        let discarded = Mutex(0)
        for _ in 0..<3 {
            let (error, seconds) = await measure {
                await #expect(throws: LibvirtError.self) {
                    try await executor.run("hang", timeout: .milliseconds(200),
                                           discard: { (_: Int) in discarded.withLock { $0 += 1 } }) {
                        gate.wait()
                        return 1
                    }
                }
            }
            #expect(error?.isTimeout == true)
            #expect(seconds < 3, "a 200 ms timeout, not the hang behind it")
        }
        // Three threads are stuck: no more are started, the next call fails at once.
        let (error, seconds) = await measure {
            await #expect(throws: LibvirtError.self) { try await executor.run("more", timeout: .seconds(5)) { 1 } }
        }
        #expect(error?.isTimeout == true)
        #expect(seconds < 2, "at once, not after its 5 s timeout")

        gate.open(3)
        var answered = false
        for _ in 0..<50 where !answered {
            answered = (try? await executor.run("after", timeout: .seconds(5)) { 7 }) == 7
            if !answered { try await Task.sleep(for: .milliseconds(20)) }
        }
        #expect(answered)
        for _ in 0..<50 where discarded.withLock({ $0 }) < 3 {
            try await Task.sleep(for: .milliseconds(20))
        }
        #expect(discarded.withLock { $0 } == 3)  // late results reach `discard`
    }

    @Test("a cancelled caller gets CancellationError at once")
    func cancellation() async throws {
        let executor = BlockingExecutor(name: "test")
        defer { executor.shutdown() }
        let gate = Gate()
        let task = Task { try await executor.run("hang", timeout: .seconds(30)) { gate.wait() } }
        try await Task.sleep(for: .milliseconds(50))
        task.cancel()
        let (result, seconds) = await measure { await task.result }
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(seconds < 3)
        gate.open(1)
    }

    @Test("many concurrent calls all complete")
    func concurrency() async throws {
        let executor = BlockingExecutor(name: "test", maxWorkers: 4)
        defer { executor.shutdown() }
        let sum = try await withThrowingTaskGroup(of: Int.self) { group in
            for value in 1...200 {
                group.addTask { try await executor.run("n", timeout: .seconds(10)) { usleep(100); return value } }
            }
            return try await group.reduce(0, +)
        }
        #expect(sum == 200 * 201 / 2)
    }
}
