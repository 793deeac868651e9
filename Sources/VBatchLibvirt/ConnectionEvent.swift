import CLibvirt

/// `virDomainEventType`: what happened to a domain.
public enum LifecycleEvent: Sendable, Hashable {
    case defined, undefined, started, suspended, resumed, stopped, shutdown, pmsuspended, crashed
    /// An event type this wrapper does not know (newer libvirt).
    case unknown(Int32)

    public init(rawValue: Int32) {
        switch UInt32(bitPattern: rawValue) {
        case VIR_DOMAIN_EVENT_DEFINED.rawValue: self = .defined
        case VIR_DOMAIN_EVENT_UNDEFINED.rawValue: self = .undefined
        case VIR_DOMAIN_EVENT_STARTED.rawValue: self = .started
        case VIR_DOMAIN_EVENT_SUSPENDED.rawValue: self = .suspended
        case VIR_DOMAIN_EVENT_RESUMED.rawValue: self = .resumed
        case VIR_DOMAIN_EVENT_STOPPED.rawValue: self = .stopped
        case VIR_DOMAIN_EVENT_SHUTDOWN.rawValue: self = .shutdown
        case VIR_DOMAIN_EVENT_PMSUSPENDED.rawValue: self = .pmsuspended
        case VIR_DOMAIN_EVENT_CRASHED.rawValue: self = .crashed
        default: self = .unknown(rawValue)
        }
    }
}

/// Detail values of a ``LifecycleEvent/stopped`` event (`virDomainEventStoppedDetailType`).
public enum StoppedDetail {
    /// The guest powered off (`VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN`).
    public static let shutdown = Int32(VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN.rawValue)
    /// Destroyed by the host (`VIR_DOMAIN_EVENT_STOPPED_DESTROYED`).
    public static let destroyed = Int32(VIR_DOMAIN_EVENT_STOPPED_DESTROYED.rawValue)
    /// The guest crashed (`VIR_DOMAIN_EVENT_STOPPED_CRASHED`).
    public static let crashed = Int32(VIR_DOMAIN_EVENT_STOPPED_CRASHED.rawValue)
    /// The hypervisor process failed, e.g. QEMU died (`VIR_DOMAIN_EVENT_STOPPED_FAILED`).
    public static let failed = Int32(VIR_DOMAIN_EVENT_STOPPED_FAILED.rawValue)
}

/// What a ``LibvirtConnection`` reports on its ``LibvirtConnection/events`` stream.
public enum ConnectionEvent: Sendable, Hashable {
    /// A domain lifecycle event (`VIR_DOMAIN_EVENT_ID_LIFECYCLE`); `detail` is the raw
    /// `virDomainEvent*DetailType` value for the event (see ``StoppedDetail``).
    case lifecycle(DomainRef, LifecycleEvent, detail: Int32)
    /// The connection to libvirtd broke; calls fail with a connection error until `.reconnected`.
    /// Events may have been missed: resynchronise after `.reconnected`.
    case disconnected(reason: String)
    /// A new connection is open and the lifecycle callback is registered again.
    case reconnected
}
