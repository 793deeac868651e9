/// What a job's VM looks like, in vbatch's terms; ``DomainXML`` turns it into libvirt domain XML.
/// Strings may hold anything (they are escaped); values libvirt would misread are rejected.
public struct DomainSpec: Sendable {
    public var name: String
    /// Canonical UUID string; libvirt generates one when nil.
    public var uuid: String?
    /// Domain type: `qemu` (TCG), `kvm`, or `test` for the `test:///` driver.
    public var type: String
    public var arch: String
    /// Machine type (`pc`); nil leaves it to libvirt.
    public var machine: String?
    public var memoryMB: Int
    /// Host CPUs reserved for the VM: one vCPU per entry, vCPU i pinned to `hostCPUs[i]`.
    public var hostCPUs: [Int]
    public var boot: Boot
    public var disks: [Disk]
    /// File receiving the guest's serial console (ttyS0), if any.
    public var consoleLogPath: String?
    /// An element placed in `<metadata>` in namespace `namespaceURI`; the element and its
    /// descendants get `prefix:` (e.g. `<vbatch:job xmlns:vbatch="…">`).
    public var metadata: (namespaceURI: String, prefix: String, element: XMLElement)?

    /// How the guest boots.
    public enum Boot: Sendable {
        /// Direct kernel boot.
        case kernel(kernel: String, initrd: String?, cmdline: String)
        /// From the first disk (BIOS).
        case disk
    }

    /// A file-backed virtio disk.
    public struct Disk: Sendable {
        public var path: String
        /// `raw` or `qcow2`, always written explicitly so libvirt never probes the format.
        public var format: String
        /// Guest device name: `vda`, `vdb`, …
        public var target: String
        /// Disk serial the guest sees (`/dev/disk/by-id/virtio-<serial>`).
        public var serial: String?
        public var readOnly: Bool

        public init(path: String, format: String, target: String, serial: String? = nil, readOnly: Bool = false) {
            self.path = path
            self.format = format
            self.target = target
            self.serial = serial
            self.readOnly = readOnly
        }
    }

    public init(name: String, uuid: String? = nil, type: String = "qemu", arch: String = "x86_64",
                machine: String? = "pc", memoryMB: Int, hostCPUs: [Int], boot: Boot, disks: [Disk] = [],
                consoleLogPath: String? = nil,
                metadata: (namespaceURI: String, prefix: String, element: XMLElement)? = nil) {
        self.name = name
        self.uuid = uuid
        self.type = type
        self.arch = arch
        self.machine = machine
        self.memoryMB = memoryMB
        self.hostCPUs = hostCPUs
        self.boot = boot
        self.disks = disks
        self.consoleLogPath = consoleLogPath
        self.metadata = metadata
    }
}

/// Why a ``DomainSpec`` cannot become domain XML.
public struct DomainSpecError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The offending field, e.g. `disks[1].format`.
    public let field: String
    public let reason: String

    public init(field: String, reason: String) {
        self.field = field
        self.reason = reason
    }

    public var description: String { "domain spec: \(field): \(reason)" }
}
