import Foundation

/// What the factory puts into every image besides the recipe: the guest agent, the boot
/// glue of `images/factory/`, and the test guest's kernel and initramfs (Debian's cloud
/// kernel with busybox and the virtio/ACPI modules, built by `images/testguest/build.sh`).
public struct FactoryInputs: Sendable, Equatable {
    /// `images/vbatch-guest`.
    public var agent: String
    /// `images/factory/`: `initramfs-init`, `init`, `power-button`, `build-root`.
    public var glueDirectory: String
    /// `images/testguest/out/vmlinuz`.
    public var kernel: String
    /// `images/testguest/out/initrd.img`.
    public var initrd: String

    public init(agent: String, glueDirectory: String, kernel: String, initrd: String) {
        self.agent = agent
        self.glueDirectory = glueDirectory
        self.kernel = kernel
        self.initrd = initrd
    }

    /// The glue files, in the order they enter the build key.
    public static let glueFiles = ["initramfs-init", "init", "power-button", "build-root"]

    /// The inputs under `root` (a vbatch source tree or installation: `root/images/…`).
    public init(root: String) {
        let images = root + "/images"
        self.init(agent: images + "/vbatch-guest", glueDirectory: images + "/factory",
                  kernel: images + "/testguest/out/vmlinuz", initrd: images + "/testguest/out/initrd.img")
    }

    /// The first of `roots` that holds the agent and the glue; its test guest must be built.
    public static func locate(searching roots: [String]) throws -> FactoryInputs {
        for root in roots {
            let inputs = FactoryInputs(root: root)
            guard FileManager.default.fileExists(atPath: inputs.agent),
                  FileManager.default.fileExists(atPath: inputs.glueDirectory + "/build-root") else { continue }
            try inputs.check()
            return inputs
        }
        throw FactoryError.missing("cannot find images/vbatch-guest and images/factory/ (looked in "
            + roots.joined(separator: ", ") + "); set VBATCH_HOME to the vbatch source tree")
    }

    /// Throws when any input is missing.
    public func check() throws {
        for path in [agent] + Self.glueFiles.map({ glueDirectory + "/" + $0 }) {
            guard FileManager.default.isReadableFile(atPath: path) else { throw FactoryError.missing("\(path) not found") }
        }
        for path in [kernel, initrd] where !FileManager.default.isReadableFile(atPath: path) {
            throw FactoryError.missing("\(path) not found: build the test guest first (images/testguest/build.sh)")
        }
    }
}
