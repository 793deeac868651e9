import Foundation

/// Reconnecting after the connection to libvirtd broke.
extension LibvirtConnection {
    /// First wait before reopening; doubled after each failed attempt up to `maxReconnectDelay`.
    static let initialReconnectDelay: Duration = .milliseconds(500)
    static let maxReconnectDelay: Duration = .seconds(5)

    /// The connection of `generation` broke (close callback on the event-loop thread, or a call
    /// that failed on a dead connection). Emits `.disconnected` and starts reconnecting, once per
    /// generation; never closes the connection itself (not allowed inside the close callback).
    func connectionLost(generation: UInt64, reason: String) {
        let lost: ConnectionHandle? = state.withLock { state in
            guard !state.closed else { return nil }
            guard let handle = state.handle, handle.generation == generation else {
                if generation > state.installedGeneration {
                    state.lostBeforeInstall.insert(generation)
                }
                return nil
            }
            state.handle = nil
            return handle
        }
        guard let lost else { return }
        eventSink.yield(.disconnected(reason: reason))
        let task = Task { [weak self] in
            await self?.dispose(lost)
            var delay = Self.initialReconnectDelay
            while !Task.isCancelled {
                try? await Task.sleep(for: delay)
                guard let self, !Task.isCancelled else { return }
                if await self.reconnectOnce() {
                    return
                }
                delay = min(delay * 2, Self.maxReconnectDelay)
            }
        }
        let closed = state.withLock { state in
            if !state.closed {
                state.reconnectTask = task
            }
            return state.closed
        }
        if closed {
            task.cancel()
        }
    }

    /// One attempt to reopen the connection. True when done (reconnected, or closed meanwhile).
    private func reconnectOnce() async -> Bool {
        let generation: UInt64? = state.withLock { state in
            guard !state.closed else { return nil }
            state.lastGeneration += 1
            return state.lastGeneration
        }
        guard let generation else { return true }
        if let precheck, await precheck() != nil { return false }
        let handle: ConnectionHandle
        do {
            let uri = uri, events = eventSink
            handle = try await perform("virConnectOpen", discard: { $0.dispose() }) {
                [self] in
                try ConnectionHandle.open(uri: uri, generation: generation, owner: self, events: events)
            }
        } catch {
            return false
        }
        enum Outcome { case installed, closed, alreadyLost }
        let outcome: Outcome = state.withLock { state in
            if state.closed {
                return .closed
            }
            if state.lostBeforeInstall.remove(generation) != nil {
                return .alreadyLost
            }
            state.handle = handle
            state.installedGeneration = generation
            state.lostBeforeInstall = state.lostBeforeInstall.filter { $0 > generation }
            state.reconnectTask = nil
            return .installed
        }
        switch outcome {
        case .installed:
            eventSink.yield(.reconnected)
            return true
        case .closed:
            await dispose(handle)
            return true
        case .alreadyLost:
            await dispose(handle)
            return false
        }
    }

    /// Disposes a handle on a worker thread, giving up waiting after the call timeout (or on a
    /// thread of its own once the connection is closed and its workers are gone).
    private func dispose(_ handle: ConnectionHandle) async {
        do {
            try await perform("virConnectClose") { handle.dispose() }
        } catch let error as LibvirtError where error.kind == .closed {
            Thread { handle.dispose() }.start()
        } catch {}
    }
}
