import CLibvirt

/// An open libvirt connection with its callbacks registered; one per (re)connection.
///
/// `@unchecked Sendable`: libvirt connection objects are reference counted and safe to use from
/// several threads at once. The pointer never leaves this module.
struct ConnectionHandle: @unchecked Sendable {
    let pointer: OpaquePointer
    /// Which (re)connection this is; close notifications for older generations are ignored.
    let generation: UInt64
    let lifecycleCallbackID: Int32

    /// Keepalive: a ping after 5 s without traffic from libvirtd, the connection declared dead
    /// after 3 unanswered pings, so a hung or unreachable libvirtd is noticed in about 20 s.
    static let keepAliveInterval: Int32 = 5
    static let keepAliveCount: UInt32 = 3

    /// Opens `uri`, turns on keepalive and registers the close and lifecycle callbacks.
    /// Blocking: call it on a worker thread.
    static func open(uri: String, generation: UInt64, owner: LibvirtConnection,
                     events: AsyncStream<ConnectionEvent>.Continuation) throws -> ConnectionHandle {
        guard let pointer = virConnectOpen(uri) else {
            throw LibvirtError.last(operation: "virConnectOpen")
        }
        // Drivers that run inside the client library (test:///) have no keepalive: fine.
        if virConnectSetKeepAlive(pointer, keepAliveInterval, keepAliveCount) < 0 {
            virResetLastError()
        }
        let closeContext = Unmanaged.passRetained(CloseContext(owner: owner, generation: generation)).toOpaque()
        if virConnectRegisterCloseCallback(pointer, connectionClosed, closeContext, releaseCloseContext) < 0 {
            Unmanaged<CloseContext>.fromOpaque(closeContext).release()
            virResetLastError()
        }
        let lifecycleContext = Unmanaged.passRetained(LifecycleContext(events: events)).toOpaque()
        let callbackID = clibvirt_register_lifecycle_callback(pointer, domainLifecycleEvent, lifecycleContext,
                                                              releaseLifecycleContext)
        if callbackID < 0 {
            let error = LibvirtError.last(operation: "virConnectDomainEventRegisterAny")
            Unmanaged<LifecycleContext>.fromOpaque(lifecycleContext).release()
            virConnectUnregisterCloseCallback(pointer, connectionClosed)
            virConnectClose(pointer)
            virResetLastError()
            throw error
        }
        return ConnectionHandle(pointer: pointer, generation: generation, lifecycleCallbackID: callbackID)
    }

    /// Deregisters the callbacks and drops this handle's reference to the connection. Blocking
    /// (may talk to libvirtd): call it on a worker thread. Calls still running keep their own
    /// reference; libvirt closes the connection when the last one is dropped.
    func dispose() {
        if virConnectDomainEventDeregisterAny(pointer, lifecycleCallbackID) < 0 {
            virResetLastError()
        }
        if virConnectUnregisterCloseCallback(pointer, connectionClosed) < 0 {
            virResetLastError()
        }
        if virConnectClose(pointer) < 0 {
            virResetLastError()
        }
    }
}

/// The close callback's context: which connection and generation to tell.
/// `weak let` so that a connection dropped without `close()` is not kept alive by libvirt.
private final class CloseContext: Sendable {
    weak let owner: LibvirtConnection?
    let generation: UInt64

    init(owner: LibvirtConnection, generation: UInt64) {
        self.owner = owner
        self.generation = generation
    }
}

/// The lifecycle callback's context: where events go.
private final class LifecycleContext: Sendable {
    let events: AsyncStream<ConnectionEvent>.Continuation

    init(events: AsyncStream<ConnectionEvent>.Continuation) {
        self.events = events
    }
}

/// `virConnectCloseFunc`, on the event-loop thread. It must not close the connection itself:
/// the owner reconnects on a background task.
private func connectionClosed(_ connection: OpaquePointer?, _ reason: Int32, _ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    let context = Unmanaged<CloseContext>.fromOpaque(opaque).takeUnretainedValue()
    context.owner?.connectionLost(generation: context.generation, reason: closeReason(reason))
}

private func releaseCloseContext(_ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    Unmanaged<CloseContext>.fromOpaque(opaque).release()
}

/// `virConnectDomainEventCallback` for lifecycle events, on the event-loop thread.
private func domainLifecycleEvent(_ connection: OpaquePointer?, _ domain: OpaquePointer?, _ event: Int32,
                                  _ detail: Int32, _ opaque: UnsafeMutableRawPointer?) -> Int32 {
    guard let domain, let opaque, let ref = DomainRef(handle: domain) else { return 0 }
    let context = Unmanaged<LifecycleContext>.fromOpaque(opaque).takeUnretainedValue()
    context.events.yield(.lifecycle(ref, LifecycleEvent(rawValue: event), detail: detail))
    return 0
}

private func releaseLifecycleContext(_ opaque: UnsafeMutableRawPointer?) {
    guard let opaque else { return }
    Unmanaged<LifecycleContext>.fromOpaque(opaque).release()
}

private func closeReason(_ reason: Int32) -> String {
    switch UInt32(bitPattern: reason) {
    case VIR_CONNECT_CLOSE_REASON_ERROR.rawValue: return "connection error"
    case VIR_CONNECT_CLOSE_REASON_EOF.rawValue: return "libvirtd closed the connection (EOF)"
    case VIR_CONNECT_CLOSE_REASON_KEEPALIVE.rawValue: return "keepalive timed out (libvirtd not answering)"
    case VIR_CONNECT_CLOSE_REASON_CLIENT.rawValue: return "closed by the client"
    default: return "closed (reason \(reason))"
    }
}
