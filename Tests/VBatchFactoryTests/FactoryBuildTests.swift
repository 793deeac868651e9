import Foundation
import Testing
import VBatchConfig
import VBatchCore
import VBatchDrivers
import VBatchFactory
import VBatchLibvirt

/// The factory for real: debootstrap from the host's mirror, the images booted with
/// libvirt (TCG). The builds are shared (FactoryFixture); one VM at a time.
@Suite("Image factory, built and booted", .serialized)
struct FactoryBuildTests {
    @Test func debian12IsBuiltWithItsCatalogueEntry() async throws {
        let build = try await FactoryFixture.shared.build("debian12")
        let r = build.result
        #expect(!r.cached)
        #expect(build.progress.contains { $0.contains("debootstrap bookworm (minbase) from ") })
        #expect(build.progress.contains { $0.contains("installing packages: python3") })
        print("debian12: first build \(String(format: "%.1f", r.seconds)) s")

        // The entry: explicit qcow2, the disk's sha256, paths under images/built/.
        let catalogue = await FactoryFixture.shared.catalogueDirectory
        let entry = try String(contentsOfFile: r.catalogueEntry, encoding: .utf8)
        #expect(r.catalogueEntry == catalogue + "/debian12.toml")
        #expect(entry.hasPrefix("# Written by vbatch image build"))
        #expect(entry.contains("format = \"qcow2\"") && entry.contains("sha256 = \"\(r.sha256)\""))
        let image = try await FactoryFixture.shared.image("debian12")
        #expect(image.disk == r.disk && image.format == "qcow2" && image.sha256 == r.sha256)
        #expect(image.disk?.hasPrefix(catalogue + "/built/debian12-") == true)
        #expect(image.agent == .installed && image.boot == .kernel)
        try ImageCheck.verify(image, catalogueDirectory: catalogue)
        // Nothing of the build is left but the published directory (and the package cache).
        let built = try FileManager.default.contentsOfDirectory(atPath: catalogue + "/built")
        #expect(built.filter { $0.hasPrefix(".building") }.isEmpty)
        let packages = try String(contentsOfFile: r.imageDirectory + "/packages.txt", encoding: .utf8)
        #expect(packages.contains("python3 "))
    }

    @Test func buildingAgainIsACacheHit() async throws {
        let first = try await FactoryFixture.shared.build("debian12")
        let lines = ProgressLines()
        let factory = try await FactoryFixture.shared.factory(lines: lines)
        let recipe = try RecipeFile.load(path: repository + "/images/recipes/debian12.toml")
        let again = try factory.build(recipe, recipeFile: "images/recipes/debian12.toml")
        #expect(again.cached)
        #expect(again.buildKey == first.result.buildKey && again.disk == first.result.disk)
        #expect(again.sha256 == first.result.sha256)
        #expect(lines.all.contains { $0.contains("up to date") })
        #expect(!lines.all.contains { $0.contains("debootstrap") })
        #expect(again.seconds < 10)
        print("debian12: cached build \(String(format: "%.2f", again.seconds)) s")
    }

    @Test func aJobSeesDebian12AndPython() async throws {
        _ = try await FactoryFixture.shared.build("debian12")
        let image = try await FactoryFixture.shared.image("debian12")
        let run = try await JobRun.run(image, catalogueDirectory: FactoryFixture.shared.catalogueDirectory, jobID: 9101,
                                       script: """
                                           #!/bin/sh
                                           . /etc/os-release
                                           echo "os: $PRETTY_NAME"
                                           python3 -c 'print(6*7)'
                                           """)
        #expect(run.exitCode == 0, "console:\n\(run.console.suffix(2000))")
        #expect(run.stdout == "os: Debian GNU/Linux 12 (bookworm)\n42\n")
        print("debian12 job: domain created → payload started \(run.secondsToPayload.map { String(format: "%.2f", $0) } ?? "?") s,"
            + " → VM gone \(String(format: "%.2f", run.seconds)) s")
    }

    @Test func thePowerButtonStopsTheJob() async throws {
        _ = try await FactoryFixture.shared.build("debian12")
        let image = try await FactoryFixture.shared.image("debian12")
        let run = try await JobRun.run(image, catalogueDirectory: FactoryFixture.shared.catalogueDirectory, jobID: 9102,
                                       script: "#!/bin/sh\necho sleeping\nexec sleep 600\n",
                                       whenStarted: { connection, domain in
                                           try await Task.sleep(for: .milliseconds(500))
                                           try await connection.shutdown(domain)
                                       })
        #expect(run.exitCode == 143, "console:\n\(run.console.suffix(2000))")
        #expect(run.stdout == "sleeping\n")
        #expect(run.seconds < 60)
    }

    @Test func aPooledVMTakesAHotPluggedJob() async throws {
        _ = try await FactoryFixture.shared.build("debian12")
        let image = try await FactoryFixture.shared.image("debian12")
        let run = try await JobRun.run(image, catalogueDirectory: FactoryFixture.shared.catalogueDirectory, jobID: 9105,
                                       script: "#!/bin/sh\necho pooled\n", pooled: true)
        #expect(run.exitCode == 0, "console:\n\(run.console.suffix(2000))")
        #expect(run.stdout == "pooled\n")
        print("debian12 pooled: job disk attached → payload started \(run.secondsFromAttach.map { String(format: "%.2f", $0) } ?? "?") s")
    }

    @Test func theCloudInitImageGetsTheAgentFromCidata() async throws {
        let build = try await FactoryFixture.shared.build("debian12-cloudinit")
        #expect(build.progress.contains { $0.contains("cloud-init installs it at boot") })
        let image = try await FactoryFixture.shared.image("debian12-cloudinit")
        #expect(image.agent == .cloudInit)
        let run = try await JobRun.run(image, catalogueDirectory: FactoryFixture.shared.catalogueDirectory, jobID: 9103,
                                       script: """
                                           #!/bin/sh
                                           . /etc/os-release
                                           echo "os: $PRETTY_NAME"
                                           echo "agent: $(/usr/local/sbin/vbatch-guest --version)"
                                           """, timeout: 240)
        #expect(run.exitCode == 0, "console:\n\(run.console.suffix(3000))")
        #expect(run.stdout == "os: Debian GNU/Linux 12 (bookworm)\nagent: vbatch-guest contract 1\n")
        print("debian12-cloudinit job: domain created → payload started \(run.secondsToPayload.map { String(format: "%.2f", $0) } ?? "?") s,"
            + " → VM gone \(String(format: "%.2f", run.seconds)) s")
    }
}

extension FactoryBuildTests {
    /// A recipe on a catalogue image: files, a setup script, and the image still boots.
    @Test func anImageBuiltOnACatalogueImage() async throws {
        _ = try await FactoryFixture.shared.build("debian12")
        let lines = ProgressLines()
        let factory = try await FactoryFixture.shared.factory(lines: lines)
        let recipe = try RecipeFile.parse("""
            base = "image:debian12"
            description = "debian12 with a greeting"
            vos = ["cms"]
            setup = "echo built-by-setup >/etc/vbatch-derived"

            [files]
            "/usr/local/bin/hello" = { content = "#!/bin/sh\\necho \\"hello from $(cat /etc/vbatch-derived)\\"\\n", mode = 0o755 }
            "/etc/motd" = "derived\\n"
            """, path: "derived.toml")
        let result = try factory.build(recipe)
        #expect(!result.cached)
        #expect(lines.all.contains { $0.contains("copying the root file system of image debian12") })
        let image = try await FactoryFixture.shared.image("derived")
        #expect(image.vos == ["cms"])
        let run = try await JobRun.run(image, catalogueDirectory: FactoryFixture.shared.catalogueDirectory, jobID: 9104,
                                       script: "#!/bin/sh\nhello\ncat /etc/motd\npython3 -c 'print(6*7)'\n")
        #expect(run.exitCode == 0, "console:\n\(run.console.suffix(2000))")
        #expect(run.stdout == "hello from built-by-setup\nderived\n42\n")
    }

    /// A build that fails leaves no work directory, no image and no catalogue entry.
    @Test func aFailedBuildLeavesNothingBehind() async throws {
        _ = try await FactoryFixture.shared.build("debian12")
        let factory = try await FactoryFixture.shared.factory(lines: ProgressLines())
        let recipe = try RecipeFile.parse("""
            base = "image:debian12"
            setup = "echo the setup script fails; exit 3"
            """, path: "broken.toml")
        let error = #expect(throws: FactoryError.self) { try factory.build(recipe) }
        #expect(error?.description == "building the root file system failed (exit status 3): the setup script fails")
        let catalogue = await FactoryFixture.shared.catalogueDirectory
        let built = try FileManager.default.contentsOfDirectory(atPath: catalogue + "/built")
        #expect(built.filter { $0.hasPrefix("broken") || $0.hasPrefix(".building") }.isEmpty, "left: \(built)")
        #expect(!FileManager.default.fileExists(atPath: catalogue + "/broken.toml"))
        // Nothing stays mounted either: the build's mounts lived in its own namespace.
        let mounts = try String(contentsOfFile: "/proc/self/mountinfo", encoding: .utf8)
        #expect(!mounts.contains(catalogue))
    }
}

extension FactoryBuildTests {
    /// `vbatch image …` end to end (it execs vbatch-image).
    @Test func theCommandLine() async throws {
        _ = try await FactoryFixture.shared.build("debian12")
        let config = await FactoryFixture.shared.configDirectory
        let check = try runVBatch(["image", "check", "debian12", "--config", config])
        #expect(check.status == 0, "\(check)")
        #expect(check.stdout.hasPrefix("debian12: ok (qcow2 disk \(config)/images/built/debian12-"))
        #expect(check.stdout.hasSuffix(", sha256 verified, kernel boot, agent installed)\n"))
        let list = try runVBatch(["image", "list", "--config", config])
        #expect(list.status == 0)
        #expect(list.stdout.split(separator: "\n").contains { $0.hasPrefix("debian12 ") && $0.contains("recipe debian12.toml") })
        let recipe = repository + "/images/recipes/debian12.toml"
        let again = try runVBatch(["image", "build", recipe, "--config", config])
        #expect(again.status == 0, "\(again)")
        #expect(again.stdout.contains("debian12: up to date (build "))
        #expect(again.stdout.contains("catalogue entry \(config)/images/debian12.toml; `vbatch reload` offers it"))

        let missing = try runVBatch(["image", "check", "nope", "--config", config])
        #expect(missing.status == 1)
        #expect(missing.stderr.hasPrefix("vbatch: error: no image nope in the catalogue (defined: "))
        #expect(missing.stderr.split(separator: "\n").count == 1)

        // The site's policy refuses, in one line.
        let strict = try TemporaryConfig(site: """
            [node.localhost]
            uri = "qemu:///system"
            slots = 1
            memory = "1gb"

            [factory]
            allowed_packages = ["bash"]
            """)
        let refused = try runVBatch(["image", "build", recipe, "--config", strict.path])
        #expect(refused.status == 1)
        let hash = try RecipeFile.load(path: recipe).hash
        #expect(refused.stderr == "vbatch: error: recipe debian12 refused by the site's [factory] policy: "
            + "package python3 not in allowed_packages; or have the operator approve hash \(hash)\n")
        #expect(!FileManager.default.fileExists(atPath: strict.path + "/images/debian12.toml"))

        // Recipe errors: one line each, FILE:LINE: KEY: MESSAGE.
        let bad = strict.path + "/bad.toml"
        try "base = \"debian:bookworm\"\npackages = [\"python3\", \"Bad Name\"]\nmemroy = \"1gb\"\n"
            .write(toFile: bad, atomically: true, encoding: .utf8)
        let invalid = try runVBatch(["image", "build", bad, "--config", strict.path])
        #expect(invalid.status == 1)
        #expect(invalid.stderr == """
            vbatch: error: \(bad):2: packages: "Bad Name" is not a Debian package name
            vbatch: error: \(bad):3: memroy: unknown key (did you mean memory?)

            """)
    }

    struct CLIResult: CustomStringConvertible {
        var status: Int32
        var stdout: String
        var stderr: String
        var description: String { "exit \(status)\nstdout: \(stdout)\nstderr: \(stderr)" }
    }

    /// Runs the built `vbatch` (next to the test bundle) and waits for it.
    func runVBatch(_ arguments: [String]) throws -> CLIResult {
        let exe = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? ""
        let p = Process()
        p.executableURL = URL(fileURLWithPath: (exe as NSString).deletingLastPathComponent + "/vbatch")
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let o = out.fileHandleForReading.readDataToEndOfFile(), e = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return CLIResult(status: p.terminationStatus, stdout: String(decoding: o, as: UTF8.self),
                         stderr: String(decoding: e, as: UTF8.self))
    }
}
