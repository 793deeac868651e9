import CLibvirt
import Foundation

/// The calls that stop a VM without ending it: pause and continue its vCPUs, save its memory
/// and device state to a file on its node and start it again from there, and move it live to
/// another node. Saves, restores and migrations take as long as copying the VM's memory, so
/// they take their own timeout instead of the connection's call timeout.
extension LibvirtConnection {
    /// Pauses the domain's vCPUs (`virDomainSuspend`); its memory and devices stay as they are.
    public func suspend(_ domain: DomainRef) async throws {
        try await withDomain(domain, "virDomainSuspend") { handle in
            guard virDomainSuspend(handle) == 0 else { throw LibvirtError.last(operation: "virDomainSuspend") }
        }
    }

    /// Lets a paused domain's vCPUs run again (`virDomainResume`).
    public func resume(_ domain: DomainRef) async throws {
        try await withDomain(domain, "virDomainResume") { handle in
            guard virDomainResume(handle) == 0 else { throw LibvirtError.last(operation: "virDomainResume") }
        }
    }

    /// The domain's state (`virDomainGetState`), or nil if the node has no such domain.
    public func state(_ domain: DomainRef) async throws -> DomainState? {
        let uuid = domain.uuid
        return try await call("virDomainGetState") { connection in
            guard let handle = virDomainLookupByUUIDString(connection, uuid) else {
                let error = LibvirtError.last(operation: "virDomainLookupByUUIDString")
                if error.isNoDomain { return nil }
                throw error
            }
            defer { virDomainFree(handle) }
            var state: Int32 = 0, reason: Int32 = 0
            guard virDomainGetState(handle, &state, &reason, 0) == 0 else {
                throw LibvirtError.last(operation: "virDomainGetState")
            }
            return DomainState(rawValue: state)
        }
    }

    /// Writes the domain's memory and device state to `path` on the node and stops the domain
    /// (`virDomainSaveFlags`, restored running). If the save fails the domain keeps running.
    public func save(_ domain: DomainRef, to path: String, timeout: Duration) async throws {
        try await withDomain(domain, "virDomainSaveFlags", timeout: timeout) { handle in
            guard virDomainSaveFlags(handle, path, nil, VIR_DOMAIN_SAVE_RUNNING.rawValue) == 0 else {
                throw LibvirtError.last(operation: "virDomainSaveFlags")
            }
        }
    }

    /// The domain definition stored in the state file `path` on the node
    /// (`virDomainSaveImageGetXMLDesc`): the base for ``restore(from:xml:name:timeout:)``'s `xml`.
    public func savedDomainXML(path: String) async throws -> String {
        try await call("virDomainSaveImageGetXMLDesc") { connection in
            guard let xml = virDomainSaveImageGetXMLDesc(connection, path, 0) else {
                throw LibvirtError.last(operation: "virDomainSaveImageGetXMLDesc")
            }
            defer { free(xml) }
            return String(cString: xml)
        }
    }

    /// Starts the domain saved in `path` on the node (`virDomainRestoreFlags`), running. `xml`
    /// replaces the saved definition: the same devices, but CPU pinning and metadata may differ
    /// (a restore on another node pins the vCPUs to that node's CPUs). Returns the domain
    /// named `name` it started; one that starts after the call timed out is destroyed, as with
    /// ``createTransient(xml:)``.
    public func restore(from path: String, xml: String, name: String, timeout: Duration) async throws -> DomainRef {
        try await call("virDomainRestoreFlags", timeout: timeout, discard: { $0.destroyUnclaimed() }) { connection in
            guard virDomainRestoreFlags(connection, path, xml, VIR_DOMAIN_SAVE_RUNNING.rawValue) == 0 else {
                throw LibvirtError.last(operation: "virDomainRestoreFlags")
            }
            guard let handle = virDomainLookupByName(connection, name) else {
                throw LibvirtError.last(operation: "virDomainLookupByName")
            }
            return try StartedDomain(handle, operation: "virDomainGetUUIDString")
        }.claim()
    }

    /// Moves the running domain to the node of `destination` while it runs (`virDomainMigrate3`,
    /// live, managed by this client over both connections). With `copyStorage`, the contents of
    /// its writable disks are copied to files of the same paths, which must already exist on
    /// the destination (`VIR_MIGRATE_NON_SHARED_INC`: a qcow2 overlay copies only its own
    /// clusters, its backing file must be there). `xml` is the definition on the destination.
    /// Returns the domain on the destination; the source's is gone. ``abortJob(_:)`` from
    /// another call ends a migration that takes too long, leaving the domain on the source.
    public func migrate(_ domain: DomainRef, to destination: LibvirtConnection, xml: String, copyStorage: Bool,
                        timeout: Duration) async throws -> DomainRef {
        try await withDomain(domain, "virDomainMigrate3", timeout: timeout) { handle in
            guard let target = destination.acquire() else {
                throw LibvirtError.notConnected(uri: destination.uri, operation: "virDomainMigrate3")
            }
            defer { virConnectClose(target.pointer) }
            var params: virTypedParameterPtr?
            var count: Int32 = 0, capacity: Int32 = 0
            defer { virTypedParamsFree(params, count) }
            guard virTypedParamsAddString(&params, &count, &capacity, "destination_xml", xml) == 0 else {
                throw LibvirtError.last(operation: "virTypedParamsAddString")
            }
            var flags = VIR_MIGRATE_LIVE.rawValue
            if copyStorage { flags |= VIR_MIGRATE_NON_SHARED_INC.rawValue }
            guard let moved = virDomainMigrate3(handle, target.pointer, params, UInt32(count), flags) else {
                throw LibvirtError.last(operation: "virDomainMigrate3")
            }
            defer { virDomainFree(moved) }
            guard let ref = DomainRef(handle: moved) else { throw LibvirtError.last(operation: "virDomainGetUUIDString") }
            return ref
        }
    }

    /// Ends the domain's running job (a migration or save) early (`virDomainAbortJob`).
    public func abortJob(_ domain: DomainRef) async throws {
        try await withDomain(domain, "virDomainAbortJob") { handle in
            guard virDomainAbortJob(handle) == 0 else { throw LibvirtError.last(operation: "virDomainAbortJob") }
        }
    }
}

/// The first bytes of a QEMU save file written by libvirt: complete saves begin with
/// ``complete``, while ``partial`` marks one still being written (or cut short).
public enum SaveFileMagic {
    public static let complete = Array("LibvirtQemudSave".utf8)
    public static let partial = Array("LibvirtQemudPart".utf8)
}
