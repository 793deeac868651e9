import ServiceLifecycle
import VBatchDrivers

/// Runs scheduling cycles when asked (a submission, a job end) and at least every second
/// (fair-share decay, time-based backfill windows).
struct SchedulerLoop: Service {
    let engine: Engine

    func run() async throws {
        let ticker = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(1))
                engine.requestCycle()
            }
        }
        defer { ticker.cancel() }
        await cancelWhenGracefulShutdown {
            for await _ in engine.cycleRequests {
                await engine.runCycle()
            }
        }
    }
}

/// Feeds the driver's events to the engine in order.
struct DriverEventPump: Service {
    let engine: Engine
    let driver: any HypervisorDriver

    func run() async throws {
        await cancelWhenGracefulShutdown {
            for await event in driver.events {
                await engine.handle(event)
            }
        }
    }
}
