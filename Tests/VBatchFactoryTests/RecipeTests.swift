import Foundation
import Testing
import VBatchConfig
import VBatchCore
@testable import VBatchFactory

/// Reading recipes: every error names file, line and key; the content hash.
@Suite struct RecipeTests {
    static let full = """
        # A recipe using every key.
        name = "cms-el"
        description = "CMS analysis"
        base = "debian:bookworm"
        packages = ["python3", "curl"]
        vos = ["cms", "atlas"]
        agent = "installed"
        memory = "1gb"
        size = "3gb"
        setup = \"\"\"
        echo hello >/etc/hello
        \"\"\"

        [files]
        "/etc/motd" = "welcome\\n"
        "/usr/local/bin/hi" = { content = "#!/bin/sh\\necho hi\\n", mode = 0o755 }
        """

    func parse(_ text: String, path: String = "recipes/test.toml") throws -> Recipe {
        try RecipeFile.parse(text, path: path)
    }

    /// The errors `text` produces, as (line, key, message-prefix) for comparison.
    func errors(_ text: String, path: String = "recipes/test.toml") -> [ConfigError] {
        do {
            _ = try parse(text, path: path)
            Issue.record("expected errors, the recipe parsed")
            return []
        } catch let errors as ConfigErrors {
            return errors.errors
        } catch {
            Issue.record("unexpected error \(error)")
            return []
        }
    }

    func expectError(_ text: String, line: Int, key: String, message: String, path: String = "recipes/test.toml",
                     sourceLocation: SourceLocation = #_sourceLocation) {
        let found = errors(text, path: path)
        #expect(found.count == 1, "errors: \(found)", sourceLocation: sourceLocation)
        guard let error = found.first else { return }
        #expect(error.file == path, sourceLocation: sourceLocation)
        #expect(error.line == line, "\(error)", sourceLocation: sourceLocation)
        #expect(error.key == key, "\(error)", sourceLocation: sourceLocation)
        #expect(error.message.hasPrefix(message), "\(error)", sourceLocation: sourceLocation)
    }

    /// Found by `vbatch-fuzz recipe` (Tests/fuzz/recipe/crash-table-header-hash): toml++
    /// asserted, aborting `vbatch image build`, on a table header starting `[#`.
    @Test func tableHeaderToml4ppAssertedOnIsASyntaxError() {
        expectError("name = \"x\"\n[# A minimal Debian 12 (bookworm)\n", line: 2, key: "",
                    message: "TOML syntax error while parsing table header")
    }

    /// Found by `vbatch-fuzz recipe` (Tests/fuzz/recipe/crash-array-brace): toml++ asserted
    /// on a `}` where an array expects a value.
    @Test func braceInAnArrayIsASyntaxError() {
        expectError("name = \"x\"\npackages = [\"curl\",  }\"\"]\n", line: 2, key: "",
                    message: "TOML syntax error while parsing array")
    }

    @Test func everyKeyIsRead() throws {
        let r = try parse(Self.full)
        #expect(r.name == "cms-el")
        #expect(r.description == "CMS analysis")
        #expect(r.base == .debian(suite: "bookworm"))
        #expect(r.packages == ["curl", "python3"])
        #expect(r.vos == ["atlas", "cms"])
        #expect(r.agent == .installed)
        #expect(r.memoryMB == 1024)
        #expect(r.sizeMB == 3072)
        #expect(r.setup == "echo hello >/etc/hello\n")
        #expect(r.files == [Recipe.File(path: "/etc/motd", content: "welcome\n"),
                            Recipe.File(path: "/usr/local/bin/hi", content: "#!/bin/sh\necho hi\n", mode: 0o755)])
    }

    @Test func shippedRecipesParse() throws {
        let debian = try RecipeFile.load(path: repository + "/images/recipes/debian12.toml")
        #expect(debian.name == "debian12" && debian.base == .debian(suite: "bookworm"))
        #expect(debian.packages == ["python3"] && debian.agent == .installed)
        let cloud = try RecipeFile.load(path: repository + "/images/recipes/debian12-cloudinit.toml")
        #expect(cloud.name == "debian12-cloudinit" && cloud.agent == .cloudInit)
        #expect(cloud.packages.contains("cloud-init"))
    }

    @Test func nameDefaultsToTheFileName() throws {
        #expect(try parse("base = \"debian:bookworm\"\n", path: "/x/recipes/my-image.toml").name == "my-image")
        expectError("base = \"debian:bookworm\"\n", line: 1, key: "name",
                    message: "the file name gives the image name \"bad name\"", path: "/x/bad name.toml")
    }

    @Test func misspeltKeyOnItsLine() {
        expectError("base = \"debian:bookworm\"\n\npackage = [\"python3\"]\n", line: 3, key: "package",
                    message: "unknown key (did you mean packages?)")
    }

    @Test func missingBase() {
        expectError("# nothing\npackages = [\"python3\"]\n", line: 1, key: "base", message: "missing required key")
    }

    @Test func badBase() {
        expectError("description = \"x\"\nbase = \"ubuntu:jammy\"\n", line: 2, key: "base",
                    message: "\"ubuntu:jammy\" is not a base")
        expectError("base = \"image:../etc\"\n", line: 1, key: "base", message: "\"image:../etc\" is not a base")
    }

    @Test func badPackageAndWrongTypes() {
        let found = errors("""
            base = "debian:bookworm"
            packages = ["python3", "rm -rf /"]
            memory = true
            vos = []
            agent = "none"
            """)
        #expect(found.map(\.line) == [2, 3, 4, 5])
        #expect(found.map(\.key) == ["packages", "memory", "vos", "agent"])
        #expect(found[0].message == "\"rm -rf /\" is not a Debian package name")
        #expect(found[1].message.hasPrefix("must be a memory size"))
        #expect(found[2].message.hasPrefix("must not be empty"))
        #expect(found[3].message.hasPrefix("\"none\" is not one of \"installed\""))
    }

    @Test func filePathsAndModes() {
        let found = errors("""
            base = "debian:bookworm"

            [files]
            "etc/motd" = "relative"
            "/etc/../shadow" = "dotdot"
            "/proc/x" = "mounted over"
            "/usr/lib/vbatch/init" = "the agent's"
            "/ok" = { content = "x", mode = "rwx" }
            "/ok2" = 3
            """)
        #expect(found.map(\.line) == [4, 5, 6, 7, 8, 9])
        #expect(found.map(\.key) == ["files.\"etc/motd\"", "files.\"/etc/../shadow\"", "files.\"/proc/x\"",
                                      "files.\"/usr/lib/vbatch/init\"", "files.\"/ok\".mode", "files.\"/ok2\""])
        #expect(found[0].message.hasPrefix("must be an absolute path"))
        #expect(found[1].message.hasPrefix("path must be normalised"))
        #expect(found[2].message.hasPrefix("/proc is mounted over at boot"))
        #expect(found[3].message.hasPrefix("/usr/lib/vbatch belongs to the vbatch guest agent"))
        #expect(found[4].message.hasPrefix("must be permission bits"))
        #expect(found[5].message.hasPrefix("must be the file's content"))
    }

    @Test func tomlSyntaxErrorHasItsLine() {
        expectError("base = \"debian:bookworm\"\npackages = [\"python3\"\n\nsetup = 1\n", line: 4, key: "",
                    message: "TOML syntax error")
    }

    @Test func keysInsideASetupScriptAreNotKeys() {
        // A multi-line string holding "key = value" lines: the error is on the real key.
        expectError("""
            base = "debian:bookworm"
            setup = \"\"\"
            memory = 5
            \"\"\"
            memroy = "1gb"
            """, line: 5, key: "memroy", message: "unknown key (did you mean memory?)")
    }

    @Test func hashIgnoresFormattingCommentsAndOrder() throws {
        let a = try parse(Self.full)
        let b = try parse("""
            base="debian:bookworm"   # same recipe, written differently
            name="cms-el"
            vos=["atlas","cms"]
            packages=["python3","curl"]
            memory=1024
            size="3072mb"
            description="CMS analysis"
            setup="echo hello >/etc/hello\\n"
            [files]
            "/usr/local/bin/hi"={mode="0755",content="#!/bin/sh\\necho hi\\n"}
            "/etc/motd"="welcome\\n"
            """)
        #expect(a.hash == b.hash)
        #expect(a.hash.count == 64)
        #expect(a.hash == SHA256.hex(a.normalised))
    }

    @Test func hashChangesWithEveryField() throws {
        let base = try parse(Self.full)
        var variants: [String: Recipe] = [:]
        func vary(_ field: String, _ change: (inout Recipe) -> Void) {
            var r = base
            change(&r)
            variants[field] = r
        }
        vary("name") { $0.name = "cms-el2" }
        vary("description") { $0.description = "CMS analysis." }
        vary("base") { $0.base = .debian(suite: "trixie") }
        vary("base kind") { $0.base = .image(name: "bookworm") }
        vary("packages") { $0.packages = ["curl", "python3", "wget"] }
        vary("file content") { $0.files[0].content = "welcome!\n" }
        vary("file path") { $0.files[0].path = "/etc/motd2" }
        vary("file mode") { $0.files[0].mode = 0o600 }
        vary("setup") { $0.setup = "echo hello >/etc/hello2\n" }
        vary("no setup") { $0.setup = nil }
        vary("vos") { $0.vos = ["cms"] }
        vary("no vos") { $0.vos = nil }
        vary("agent") { $0.agent = .cloudInit }
        vary("memory") { $0.memoryMB = 2048 }
        vary("size") { $0.sizeMB = nil }
        var hashes = Set([base.hash])
        for (field, recipe) in variants {
            #expect(!hashes.contains(recipe.hash), "changing \(field) did not change the hash")
            hashes.insert(recipe.hash)
        }
        // Escaping keeps fields apart: a newline in a value cannot forge another line.
        var forged = base
        forged.description = "CMS analysis\"\nbase: \"debian:sid"
        #expect(!hashes.contains(forged.hash))
    }

    @Test func sha256MatchesKnownVectors() {
        #expect(SHA256.hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        #expect(SHA256.hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(SHA256.hex(String(repeating: "a", count: 1000))
            == "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3")
    }
}
