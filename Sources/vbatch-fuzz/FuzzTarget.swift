#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// One parser of outside input, fed arbitrary bytes.
///
/// `run` must return for every input: refusing the input by a thrown error (caught inside)
/// is the expected outcome, and a trap (overflow, index out of range, a failed `precondition`,
/// an invariant the target checks with ``FuzzCheck/require(_:_:)``) is a finding.
struct FuzzTarget: Sendable {
    var name: String
    /// What the target feeds, one line for `vbatch-fuzz list`.
    var summary: String
    var run: @Sendable (UnsafeBufferPointer<UInt8>) -> Void

    static let all: [FuzzTarget] = [
        ConfigFuzz.target, HTTPFuzz.target, UstarFuzz.target, SWFFuzz.target, PBSFuzz.target, RecipeFuzz.target,
    ]

    static func named(_ name: String) -> FuzzTarget? { all.first { $0.name == name } }
}

/// Writes `text` to standard error, unbuffered (a crash right after must not lose it).
func printError(_ text: String) {
    let bytes = Array(text.utf8)
    var done = 0
    while done < bytes.count {
        let n = bytes.withUnsafeBytes { Glibc.write(2, $0.baseAddress! + done, $0.count - done) }
        if n <= 0 { break }
        done += n
    }
}

enum FuzzCheck {
    /// Stops the process (a finding for libFuzzer) when an invariant of a parser's result fails.
    static func require(_ condition: Bool, _ message: @autoclosure () -> String) {
        if !condition {
            printError("vbatch-fuzz: invariant failed: \(message())\n")
            abort()
        }
    }
}

/// The input split at lines holding only `%%` into at most `count` parts (a fuzz input that
/// stands for several files).
func fuzzParts(_ text: String, count: Int) -> [String] {
    var parts: [String] = []
    var current: [Substring] = []
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        if line == "%%" && parts.count < count - 1 {
            parts.append(current.joined(separator: "\n"))
            current = []
        } else {
            current.append(line)
        }
    }
    parts.append(current.joined(separator: "\n"))
    return parts
}

/// A private scratch directory for the targets that need files, removed at exit.
enum FuzzScratch {
    static let root: String = {
        var template = Array("\(ProcessInfoLite.temporaryDirectory)/vbatch-fuzz.XXXXXX".utf8CString)
        guard let made = mkdtemp(&template) else {
            printError("vbatch-fuzz: cannot create a scratch directory\n")
            exit(2)
        }
        let path = String(cString: made)
        atexit { FuzzScratch.removeAll() }
        return path
    }()

    /// Removes the scratch directory (a shell `rm -rf`, without following links).
    static func removeAll() {
        removeTree(root)
    }

    /// Removes `path` and everything under it, never following a symbolic link.
    static func removeTree(_ path: String) {
        var st = stat()
        guard lstat(path, &st) == 0 else { return }
        if (st.st_mode & S_IFMT) == S_IFDIR {
            if let dir = opendir(path) {
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                        String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
                    }
                    if name == "." || name == ".." { continue }
                    removeTree(path + "/" + name)
                }
                closedir(dir)
            }
            rmdir(path)
        } else {
            unlink(path)
        }
    }

    /// Writes `text` to `path`, replacing it.
    static func write(_ text: String, to path: String) {
        write(Array(text.utf8), to: path)
    }

    /// Writes `bytes` to `path`, replacing it.
    static func write(_ bytes: [UInt8], to path: String) {
        let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            printError("vbatch-fuzz: cannot write \(path)\n")
            exit(2)
        }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else {
                printError("vbatch-fuzz: cannot write \(path)\n")
                exit(2)
            }
            done += n
        }
    }

    static func makeDirectory(_ path: String) {
        if mkdir(path, 0o700) != 0 && errno != EEXIST {
            printError("vbatch-fuzz: cannot create \(path)\n")
            exit(2)
        }
    }
}

enum ProcessInfoLite {
    static var temporaryDirectory: String {
        if let t = getenv("TMPDIR"), t.pointee != 0 { return String(cString: t) }
        return "/tmp"
    }
}
