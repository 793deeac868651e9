import CLibvirt
import Foundation
import Synchronization

/// A connection to one libvirt URI (`qemu:///system`, `qemu+ssh://wn07/system`, `test:///default`)
/// that survives libvirtd restarts and never blocks its callers.
///
/// - Every call runs on a worker thread owned by the connection and fails with a timeout error
///   (``LibvirtError/isTimeout``) after `callTimeout`, even if libvirtd hangs. A call that timed
///   out may still take effect later (a domain created after all): resynchronise from
///   ``activeDomains()`` and domain metadata rather than assume either outcome.
/// - Domain lifecycle events and connection changes arrive on ``events``, one stream for the
///   connection's whole life. When the connection breaks (libvirtd killed or restarted,
///   keepalive timeout, a call failing on a dead connection) the stream gets `.disconnected`,
///   calls fail at once with a connection error, the connection reopens itself with backoff
///   (0.5 s doubling to 5 s), registers its callbacks again, and the stream gets `.reconnected`.
/// - Domains are named by ``DomainRef`` (name and UUID); every call looks the domain up by UUID.
public final class LibvirtConnection: Sendable {
    /// The libvirt URI this connection opens (and reopens).
    public let uri: String
    /// How long a caller waits for any one libvirt call.
    public let callTimeout: Duration
    /// Lifecycle events and connection changes, from open until ``close()``. A single consumer
    /// should iterate it; events are buffered without limit until consumed.
    public let events: AsyncStream<ConnectionEvent>

    let eventSink: AsyncStream<ConnectionEvent>.Continuation
    /// The process-wide executor for this connection's purpose, and this connection's lane in it.
    let executor: BlockingExecutor
    let lane = BlockingExecutor.Lane()
    /// Asked before every open and reopen; a reason means "do not try now" (see ``init(uri:callTimeout:purpose:precheck:)``).
    let precheck: (@Sendable () async -> String?)?
    /// Told of every call's operation, duration and success (for metrics), if given.
    let observer: CallObserver?
    let state: Mutex<ConnectionState>

    /// Receives each libvirt call's operation (the C function's name), how long it took
    /// (waiting for a thread included) and whether it succeeded.
    public typealias CallObserver = @Sendable (_ operation: String, _ duration: Duration, _ succeeded: Bool) -> Void

    /// What a connection is for: which shared worker threads run its calls.
    public enum Purpose: Sendable {
        /// Short calls: domains, events, volume management.
        case control
        /// Volume uploads and downloads, kept apart so they never queue in front of control calls.
        case bulk
    }

    struct ConnectionState {
        var handle: ConnectionHandle?
        /// Generation of the newest connection opened or being opened.
        var lastGeneration: UInt64 = 1
        /// Generation of `handle`, or of the last handle installed.
        var installedGeneration: UInt64 = 0
        /// Close notifications for a generation that was still being opened.
        var lostBeforeInstall: Set<UInt64> = []
        var closed = false
        var reconnectTask: Task<Void, Never>?
    }

    /// Opens `uri` (starting libvirt's event loop first if needed), turns on keepalive
    /// (5 s × 3) and registers the close and lifecycle callbacks.
    ///
    /// `precheck`, if given, runs before this open and every reopen, without a thread (e.g. a
    /// TCP probe of the node): a reason it returns fails the open at once, so a node that never
    /// answers never holds a thread inside `virConnectOpen`.
    public init(uri: String, callTimeout: Duration = .seconds(30), purpose: Purpose = .control,
                precheck: (@Sendable () async -> String?)? = nil, observer: CallObserver? = nil) async throws {
        LibvirtEventLoop.start()
        self.uri = uri
        self.callTimeout = callTimeout
        self.precheck = precheck
        self.observer = observer
        let (stream, continuation) = AsyncStream.makeStream(of: ConnectionEvent.self, bufferingPolicy: .unbounded)
        events = stream
        eventSink = continuation
        executor = purpose == .bulk ? .bulk : .control
        state = Mutex(ConnectionState())
        if let precheck, let reason = await precheck() {
            throw LibvirtError(kind: .notConnected, code: Int32(VIR_ERR_NO_CONNECT.rawValue), domain: 0, message: reason,
                               operation: "virConnectOpen")
        }
        let handle = try await perform("virConnectOpen", discard: { $0.dispose() }) {
            [self] in
            try ConnectionHandle.open(uri: uri, generation: 1, owner: self, events: continuation)
        }
        state.withLock { state in
            state.handle = handle
            state.installedGeneration = 1
        }
    }

    deinit {
        let (handle, task) = state.withLock { state in
            state.closed = true
            defer {
                state.handle = nil
                state.reconnectTask = nil
            }
            return (state.handle, state.reconnectTask)
        }
        task?.cancel()
        if let handle {
            Thread { handle.dispose() }.start()  // may talk to libvirtd: never inline in deinit
        }
        eventSink.finish()
    }

    /// Whether the connection is open now (false while reconnecting and after ``close()``).
    public var isConnected: Bool {
        state.withLock { !$0.closed && $0.handle != nil }
    }

    /// Deregisters the callbacks, closes the connection, stops reconnecting and finishes
    /// ``events``. Running domains are left alone.
    public func close() async {
        let (handle, task, wasOpen) = state.withLock { state in
            let wasOpen = !state.closed
            state.closed = true
            defer {
                state.handle = nil
                state.reconnectTask = nil
            }
            return (state.handle, state.reconnectTask, wasOpen)
        }
        guard wasOpen else { return }
        task?.cancel()
        if let handle {
            _ = try? await perform("virConnectClose") { handle.dispose() }
        }
        eventSink.finish()
    }

    // MARK: Domains

    /// Creates and starts a transient domain from `xml` (`virDomainCreateXML`). The domain is
    /// gone from libvirt once it stops.
    /// If the call times out and libvirt creates the domain after all, the domain is destroyed
    /// as soon as the call returns: nobody tracks it, and its CPUs may be given to another VM.
    public func createTransient(xml: String) async throws -> DomainRef {
        try await call("virDomainCreateXML", discard: { $0.destroyUnclaimed() }) { connection in
            guard let domain = virDomainCreateXML(connection, xml, 0) else {
                throw LibvirtError.last(operation: "virDomainCreateXML")
            }
            return try StartedDomain(domain, operation: "virDomainCreateXML")
        }.claim()
    }

    /// The running domains (`virConnectListAllDomains` with `VIR_CONNECT_LIST_DOMAINS_ACTIVE`).
    public func activeDomains() async throws -> [DomainRef] {
        try await call("virConnectListAllDomains") { connection in
            var list: UnsafeMutablePointer<virDomainPtr?>?
            let count = virConnectListAllDomains(connection, &list, VIR_CONNECT_LIST_DOMAINS_ACTIVE.rawValue)
            guard count >= 0 else {
                throw LibvirtError.last(operation: "virConnectListAllDomains")
            }
            defer { free(list) }
            var refs: [DomainRef] = []
            for index in 0..<Int(count) {
                guard let domain = list?[index] else { continue }
                if let ref = DomainRef(handle: domain) {
                    refs.append(ref)
                }
                virDomainFree(domain)
            }
            return refs
        }
    }

    /// The domain with this UUID, or nil if libvirt has none.
    public func lookup(uuid: String) async throws -> DomainRef? {
        try await call("virDomainLookupByUUIDString") { connection in
            guard let domain = virDomainLookupByUUIDString(connection, uuid) else {
                let error = LibvirtError.last(operation: "virDomainLookupByUUIDString")
                if error.isNoDomain {
                    return nil
                }
                throw error
            }
            defer { virDomainFree(domain) }
            guard let ref = DomainRef(handle: domain) else { throw LibvirtError.last(operation: "virDomainLookupByUUIDString") }
            return ref
        }
    }

    /// State, memory, vCPUs and CPU time (`virDomainGetInfo`).
    public func info(_ domain: DomainRef) async throws -> DomainInfo {
        try await withDomain(domain, "virDomainGetInfo") { handle in
            var info = virDomainInfo()
            guard virDomainGetInfo(handle, &info) == 0 else {
                throw LibvirtError.last(operation: "virDomainGetInfo")
            }
            return DomainInfo(info)
        }
    }

    /// CPU time and resident memory of every running domain, in one call
    /// (`virConnectGetAllDomainStats`): the sum of the `vcpu.<n>.time` fields, or `cpu.time`
    /// where libvirt gives no per-vCPU times, and `balloon.rss`.
    ///
    /// The vCPU times are what the guest ran, read from the vCPU threads themselves; `cpu.time`
    /// is the whole QEMU process, emulator threads too. For a domain whose QEMU is exiting,
    /// libvirt can report another process's time: callers must not trust a sample then.
    public func domainUsage() async throws -> [DomainUsage] {
        try await call("virConnectGetAllDomainStats") { connection in
            var records: UnsafeMutablePointer<virDomainStatsRecordPtr?>?
            let stats = VIR_DOMAIN_STATS_VCPU.rawValue | VIR_DOMAIN_STATS_CPU_TOTAL.rawValue | VIR_DOMAIN_STATS_BALLOON.rawValue
            let count = virConnectGetAllDomainStats(connection, stats, &records,
                                                    VIR_CONNECT_GET_ALL_DOMAINS_STATS_ACTIVE.rawValue)
            guard count >= 0 else { throw LibvirtError.last(operation: "virConnectGetAllDomainStats") }
            defer { virDomainStatsRecordListFree(records) }
            var usage: [DomainUsage] = []
            for index in 0..<Int(count) {
                guard let record = records?[index]?.pointee, let domain = record.dom,
                      let ref = DomainRef(handle: domain) else { continue }
                func field(_ name: String) -> UInt64? {
                    var value: UInt64 = 0
                    return virTypedParamsGetULLong(record.params, record.nparams, name, &value) == 1 ? value : nil
                }
                func count(_ name: String) -> Int? {
                    var value: UInt32 = 0
                    return virTypedParamsGetUInt(record.params, record.nparams, name, &value) == 1 ? Int(value) : nil
                }
                let vcpuTimes = (0..<(count("vcpu.maximum") ?? 0)).compactMap { field("vcpu.\($0).time") }
                let cpu = vcpuTimes.isEmpty ? field("cpu.time") : vcpuTimes.reduce(0, +)
                usage.append(DomainUsage(domain: ref, cpuTimeNanoseconds: cpu, rssKiB: field("balloon.rss")))
            }
            return usage
        }
    }

    /// The domain's live XML (`virDomainGetXMLDesc`); with `migratable`, in the form another host accepts for it.
    public func xmlDescription(_ domain: DomainRef, migratable: Bool = false) async throws -> String {
        try await withDomain(domain, "virDomainGetXMLDesc") { handle in
            guard let xml = virDomainGetXMLDesc(handle, migratable ? VIR_DOMAIN_XML_MIGRATABLE.rawValue : 0) else {
                throw LibvirtError.last(operation: "virDomainGetXMLDesc")
            }
            defer { free(xml) }
            return String(cString: xml)
        }
    }

    /// The domain's metadata element in `namespaceURI` (`VIR_DOMAIN_METADATA_ELEMENT`), or nil
    /// if it has none. libvirt returns the element without its namespace prefix or declaration.
    public func metadata(_ domain: DomainRef, namespaceURI: String) async throws -> String? {
        try await withDomain(domain, "virDomainGetMetadata") { handle in
            guard let xml = virDomainGetMetadata(handle, Int32(VIR_DOMAIN_METADATA_ELEMENT.rawValue), namespaceURI,
                                                 VIR_DOMAIN_AFFECT_CURRENT.rawValue) else {
                let error = LibvirtError.last(operation: "virDomainGetMetadata")
                if error.isNoDomainMetadata {
                    return nil
                }
                throw error
            }
            defer { free(xml) }
            return String(cString: xml)
        }
    }

    /// Asks the guest to power off through ACPI (`virDomainShutdown`); returns once the request
    /// is sent, not when the guest is down (watch for `.stopped`).
    public func shutdown(_ domain: DomainRef) async throws {
        try await withDomain(domain, "virDomainShutdown") { handle in
            guard virDomainShutdown(handle) == 0 else {
                throw LibvirtError.last(operation: "virDomainShutdown")
            }
        }
    }

    /// Stops the domain at once (`virDomainDestroy`); a transient domain is then gone.
    public func destroy(_ domain: DomainRef) async throws {
        try await withDomain(domain, "virDomainDestroy") { handle in
            guard virDomainDestroy(handle) == 0 else {
                throw LibvirtError.last(operation: "virDomainDestroy")
            }
        }
    }

    /// Hot-plugs a device into the running domain (`virDomainAttachDeviceFlags` with
    /// `VIR_DOMAIN_AFFECT_LIVE`); see ``DomainXML/diskXML(_:)``.
    public func attachDevice(_ domain: DomainRef, xml: String) async throws {
        try await withDomain(domain, "virDomainAttachDeviceFlags") { handle in
            guard virDomainAttachDeviceFlags(handle, xml, VIR_DOMAIN_AFFECT_LIVE.rawValue) == 0 else {
                throw LibvirtError.last(operation: "virDomainAttachDeviceFlags")
            }
        }
    }

    /// The libvirt version of the library on the other end (`virConnectGetLibVersion`),
    /// e.g. `9.0.0`.
    public func libvirtVersion() async throws -> String {
        try await call("virConnectGetLibVersion") { connection in
            var version: UInt = 0
            guard virConnectGetLibVersion(connection, &version) == 0 else {
                throw LibvirtError.last(operation: "virConnectGetLibVersion")
            }
            return "\(version / 1_000_000).\(version / 1000 % 1000).\(version % 1000)"
        }
    }

    // MARK: Calls

    /// Runs `body` with the live connection on a worker thread, with the call timeout. If the
    /// call fails and libvirt says the connection is dead, reconnecting starts.
    /// `discard` gets the result of a call that returned after its caller gave up.
    func call<T: Sendable>(_ operation: String, timeout: Duration? = nil, discard: (@Sendable (T) -> Void)? = nil,
                           _ body: @escaping @Sendable (_ connection: OpaquePointer) throws -> T) async throws -> T {
        if let error = unavailable(operation) {
            throw error
        }
        return try await perform(operation, timeout: timeout, discard: discard) { [self] in
            guard let handle = acquire() else {
                throw unavailable(operation) ?? LibvirtError.notConnected(uri: uri, operation: operation)
            }
            defer { virConnectClose(handle.pointer) }  // drops the reference `acquire` took
            do {
                return try body(handle.pointer)
            } catch let error as LibvirtError where error.kind == .libvirt {
                if virConnectIsAlive(handle.pointer) == 0 {
                    virResetLastError()
                    connectionLost(generation: handle.generation, reason: error.description)
                }
                throw error
            }
        }
    }

    /// Runs `body` on this connection's executor, in its lane, with the call timeout (or
    /// `timeout`, for the long calls that move a VM).
    func perform<T: Sendable>(_ operation: String, timeout: Duration? = nil, discard: (@Sendable (T) -> Void)? = nil,
                              _ body: @escaping @Sendable () throws -> T) async throws -> T {
        guard let observer else {
            return try await executor.run(operation, timeout: timeout ?? callTimeout, lane: lane, discard: discard, body)
        }
        let started = ContinuousClock.now
        do {
            let result = try await executor.run(operation, timeout: timeout ?? callTimeout, lane: lane, discard: discard, body)
            observer(operation, ContinuousClock.now - started, true)
            return result
        } catch {
            observer(operation, ContinuousClock.now - started, false)
            throw error
        }
    }

    /// `call` with the domain looked up by UUID; the handle is freed afterwards.
    func withDomain<T: Sendable>(_ domain: DomainRef, _ operation: String, timeout: Duration? = nil,
                                 _ body: @escaping @Sendable (_ domain: OpaquePointer) throws -> T) async throws -> T {
        let uuid = domain.uuid
        return try await call(operation, timeout: timeout) { connection in
            guard let handle = virDomainLookupByUUIDString(connection, uuid) else {
                throw LibvirtError.last(operation: operation)
            }
            defer { virDomainFree(handle) }
            return try body(handle)
        }
    }

    /// The live handle with an extra reference (`virConnectRef`) the caller must drop with
    /// `virConnectClose`, so that a reconnect cannot free it under a running call.
    func acquire() -> ConnectionHandle? {
        state.withLock { state in
            guard !state.closed, let handle = state.handle else { return nil }
            virConnectRef(handle.pointer)
            return handle
        }
    }

    /// Why a call cannot be made now, if it cannot.
    private func unavailable(_ operation: String) -> LibvirtError? {
        state.withLock { state in
            if state.closed {
                return LibvirtError.closed(uri: uri, operation: operation)
            }
            return state.handle == nil ? LibvirtError.notConnected(uri: uri, operation: operation) : nil
        }
    }
}

/// A domain a call started, its handle still held until someone claims it. A call that
/// times out may still start its VM later; then nobody waits for it, nothing tracks it and its
/// pinned CPUs may already belong to another VM, so it is destroyed rather than left running.
struct StartedDomain: @unchecked Sendable {
    let handle: OpaquePointer
    let ref: DomainRef

    /// Takes ownership of `handle` (freed on failure).
    init(_ handle: OpaquePointer, operation: String) throws {
        guard let ref = DomainRef(handle: handle) else {
            let error = LibvirtError.last(operation: operation)
            virDomainFree(handle)
            throw error
        }
        self.handle = handle
        self.ref = ref
    }

    /// The caller got it: the reference, the handle released.
    func claim() -> DomainRef {
        virDomainFree(handle)
        return ref
    }

    /// The caller had given up: the VM is destroyed (a failure leaves it to the driver's resync).
    func destroyUnclaimed() {
        if virDomainDestroy(handle) != 0 { virResetLastError() }
        virDomainFree(handle)
    }
}
