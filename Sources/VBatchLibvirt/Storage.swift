import CLibvirt
import Foundation

/// A storage volume as libvirt describes it.
public struct VolumeInfo: Sendable, Hashable {
    public var name: String
    /// The volume's path on the node (what a domain's `<source file>` names).
    public var path: String
    /// Size the guest sees (for qcow2, the virtual size).
    public var capacityBytes: UInt64
    /// Size of the file on the node (`VIR_STORAGE_VOL_GET_PHYSICAL`).
    public var physicalBytes: UInt64
    /// `raw`, `qcow2`, … as libvirt's volume XML says; nil if it says nothing.
    public var format: String?

    public init(name: String, path: String, capacityBytes: UInt64, physicalBytes: UInt64, format: String?) {
        self.name = name
        self.path = path
        self.capacityBytes = capacityBytes
        self.physicalBytes = physicalBytes
        self.format = format
    }
}

/// libvirt's storage API: pools and volumes on the node at the other end of the connection.
/// Nothing here touches a file of the node directly; the only files read or written are the
/// local ones passed to ``upload(file:toVolume:inPool:progress:)`` and
/// ``download(volume:inPool:to:offset:maxBytes:)``.
extension LibvirtConnection {
    /// Makes sure a `dir` pool `name` exists at `path`, is built and started, and starts with
    /// libvirtd: defines, builds (creates the directory), starts and marks it autostart as
    /// needed. Fails if a pool of that name exists at another path.
    public func ensureDirectoryPool(name: String, path: String) async throws {
        let xml = try StorageXML.directoryPool(name: name, path: path)
        try await call("virStoragePoolLookupByName") { connection in
            var pool = virStoragePoolLookupByName(connection, name)
            if pool == nil {
                let error = LibvirtError.last(operation: "virStoragePoolLookupByName")
                guard error.code == Int32(VIR_ERR_NO_STORAGE_POOL.rawValue) else { throw error }
                guard let defined = virStoragePoolDefineXML(connection, xml, 0) else {
                    throw LibvirtError.last(operation: "virStoragePoolDefineXML")
                }
                pool = defined
                if virStoragePoolBuild(defined, 0) < 0 { throw LibvirtError.last(operation: "virStoragePoolBuild") }
            }
            guard let pool else { return }
            defer { virStoragePoolFree(pool) }
            if let desc = virStoragePoolGetXMLDesc(pool, 0) {
                defer { free(desc) }
                let existing = String(cString: desc)
                guard existing.contains("<path>\(path)</path>") else {
                    throw LibvirtError(code: Int32(VIR_ERR_CONFIG_UNSUPPORTED.rawValue), domain: 0,
                                       message: "storage pool \(name) exists but not at \(path)",
                                       operation: "virStoragePoolGetXMLDesc")
                }
            }
            if virStoragePoolIsActive(pool) == 0 {
                if virStoragePoolCreate(pool, UInt32(VIR_STORAGE_POOL_CREATE_WITH_BUILD.rawValue)) < 0 {
                    throw LibvirtError.last(operation: "virStoragePoolCreate")
                }
            }
            if virStoragePoolSetAutostart(pool, 1) < 0 { virResetLastError() }
        }
    }

    /// Every volume of the pool, with sizes and formats.
    public func volumes(inPool pool: String) async throws -> [VolumeInfo] {
        try await withPool(pool, "virStoragePoolListAllVolumes") { handle in
            var list: UnsafeMutablePointer<virStorageVolPtr?>?
            let count = virStoragePoolListAllVolumes(handle, &list, 0)
            guard count >= 0 else { throw LibvirtError.last(operation: "virStoragePoolListAllVolumes") }
            defer { free(list) }
            var volumes: [VolumeInfo] = []
            for index in 0..<Int(count) {
                guard let volume = list?[index] else { continue }
                defer { virStorageVolFree(volume) }
                // A volume deleted meanwhile is simply not listed.
                if let info = try? volumeInfo(volume) { volumes.append(info) }
            }
            return volumes
        }
    }

    /// The volume `name` of the pool, or nil if there is none.
    public func volume(named name: String, inPool pool: String) async throws -> VolumeInfo? {
        try await withVolume(name, inPool: pool, "virStorageVolLookupByName") { volume in
            try volume.map(volumeInfo)
        }
    }

    /// Creates a volume from `xml` (see ``StorageXML/volume(name:capacityBytes:format:backing:)``).
    @discardableResult
    public func createVolume(inPool pool: String, xml: String) async throws -> VolumeInfo {
        try await withPool(pool, "virStorageVolCreateXML") { handle in
            guard let volume = virStorageVolCreateXML(handle, xml, 0) else {
                throw LibvirtError.last(operation: "virStorageVolCreateXML")
            }
            defer { virStorageVolFree(volume) }
            return try volumeInfo(volume)
        }
    }

    /// Deletes the volume `name`; true if it existed.
    @discardableResult
    public func deleteVolume(named name: String, inPool pool: String) async throws -> Bool {
        try await withVolume(name, inPool: pool, "virStorageVolDelete") { volume in
            guard let volume else { return false }
            guard virStorageVolDelete(volume, 0) == 0 else { throw LibvirtError.last(operation: "virStorageVolDelete") }
            return true
        }
    }

    /// `withPool` with the volume looked up by name (nil if the pool has none); freed afterwards.
    func withVolume<T: Sendable>(_ name: String, inPool pool: String, _ operation: String,
                                 _ body: @escaping @Sendable (_ volume: OpaquePointer?) throws -> T) async throws -> T {
        try await withPool(pool, operation) { handle in
            guard let volume = virStorageVolLookupByName(handle, name) else {
                let error = LibvirtError.last(operation: "virStorageVolLookupByName")
                if error.isNoVolume { return try body(nil) }
                throw error
            }
            defer { virStorageVolFree(volume) }
            return try body(volume)
        }
    }

    /// `call` with the pool looked up by name; the handle is freed afterwards.
    func withPool<T: Sendable>(_ pool: String, _ operation: String,
                               _ body: @escaping @Sendable (_ pool: OpaquePointer) throws -> T) async throws -> T {
        try await call(operation) { connection in
            guard let handle = virStoragePoolLookupByName(connection, pool) else {
                throw LibvirtError.last(operation: operation)
            }
            defer { virStoragePoolFree(handle) }
            return try body(handle)
        }
    }
}

/// Name, path, sizes and format of a volume handle (blocking: two RPCs).
private func volumeInfo(_ volume: OpaquePointer) throws -> VolumeInfo {
    var info = virStorageVolInfo()
    guard virStorageVolGetInfoFlags(volume, &info, UInt32(VIR_STORAGE_VOL_GET_PHYSICAL.rawValue)) == 0 else {
        throw LibvirtError.last(operation: "virStorageVolGetInfoFlags")
    }
    guard let cName = virStorageVolGetName(volume), let cPath = virStorageVolGetPath(volume) else {
        throw LibvirtError.last(operation: "virStorageVolGetPath")
    }
    defer { free(cPath) }
    var format: String?
    if let xml = virStorageVolGetXMLDesc(volume, 0) {
        format = StorageXML.targetFormat(ofVolumeXML: String(cString: xml))
        free(xml)
    }
    return VolumeInfo(name: String(cString: cName), path: String(cString: cPath), capacityBytes: UInt64(info.capacity),
                      physicalBytes: UInt64(info.allocation), format: format)
}

extension LibvirtError {
    /// libvirt has no such storage volume (`VIR_ERR_NO_STORAGE_VOL`).
    public var isNoVolume: Bool { kind == .libvirt && code == Int32(VIR_ERR_NO_STORAGE_VOL.rawValue) }
}
