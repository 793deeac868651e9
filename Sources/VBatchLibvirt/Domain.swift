import CLibvirt

/// A libvirt domain, identified by its UUID. No libvirt handle is kept: each call looks the
/// domain up by UUID and frees the handle afterwards.
public struct DomainRef: Sendable, Hashable, CustomStringConvertible {
    public let name: String
    /// Lower-case canonical form, e.g. `4dea22b3-1d52-d8f3-2516-782e98ab3fa0`.
    public let uuid: String

    public init(name: String, uuid: String) {
        self.name = name
        self.uuid = uuid.lowercased()
    }

    /// Reads name and UUID of a libvirt domain handle (local, no RPC).
    init?(handle: OpaquePointer) {
        guard let cName = virDomainGetName(handle) else { return nil }
        var buffer = [CChar](repeating: 0, count: Int(CLIBVIRT_UUID_STRING_BUFLEN))
        guard virDomainGetUUIDString(handle, &buffer) == 0 else { return nil }
        let uuid = buffer.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
        self.init(name: String(cString: cName), uuid: uuid)
    }

    public var description: String { "\(name) (\(uuid))" }
}

/// `virDomainState`.
public enum DomainState: Sendable, Hashable {
    case nostate, running, blocked, paused, shutdown, shutoff, crashed, pmsuspended
    /// A state this wrapper does not know (newer libvirt).
    case unknown(Int32)

    public init(rawValue: Int32) {
        switch UInt32(bitPattern: rawValue) {
        case VIR_DOMAIN_NOSTATE.rawValue: self = .nostate
        case VIR_DOMAIN_RUNNING.rawValue: self = .running
        case VIR_DOMAIN_BLOCKED.rawValue: self = .blocked
        case VIR_DOMAIN_PAUSED.rawValue: self = .paused
        case VIR_DOMAIN_SHUTDOWN.rawValue: self = .shutdown
        case VIR_DOMAIN_SHUTOFF.rawValue: self = .shutoff
        case VIR_DOMAIN_CRASHED.rawValue: self = .crashed
        case VIR_DOMAIN_PMSUSPENDED.rawValue: self = .pmsuspended
        default: self = .unknown(rawValue)
        }
    }
}

/// `virDomainInfo`: state and resources of a domain.
public struct DomainInfo: Sendable, Hashable {
    public var state: DomainState
    public var maxMemoryKiB: UInt64
    public var memoryKiB: UInt64
    public var vcpus: Int
    /// CPU time used by the domain, all vCPUs together.
    public var cpuTimeNanoseconds: UInt64

    public init(state: DomainState, maxMemoryKiB: UInt64, memoryKiB: UInt64, vcpus: Int, cpuTimeNanoseconds: UInt64) {
        self.state = state
        self.maxMemoryKiB = maxMemoryKiB
        self.memoryKiB = memoryKiB
        self.vcpus = vcpus
        self.cpuTimeNanoseconds = cpuTimeNanoseconds
    }

    init(_ info: virDomainInfo) {
        self.init(state: DomainState(rawValue: Int32(info.state)), maxMemoryKiB: UInt64(info.maxMem),
                  memoryKiB: UInt64(info.memory), vcpus: Int(info.nrVirtCpu), cpuTimeNanoseconds: UInt64(info.cpuTime))
    }
}

/// What a running domain has used so far (from `virConnectGetAllDomainStats`).
public struct DomainUsage: Sendable, Hashable {
    public var domain: DomainRef
    /// CPU time of all vCPUs together (see ``LibvirtConnection/domainUsage()``).
    public var cpuTimeNanoseconds: UInt64?
    /// Resident memory of the hypervisor process (`balloon.rss`).
    public var rssKiB: UInt64?

    public init(domain: DomainRef, cpuTimeNanoseconds: UInt64?, rssKiB: UInt64?) {
        self.domain = domain
        self.cpuTimeNanoseconds = cpuTimeNanoseconds
        self.rssKiB = rssKiB
    }
}
