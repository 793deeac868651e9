#if canImport(Glibc)
import Glibc
#endif

/// Small POSIX file helpers for the spool: exclusive creation, no symlink following.
enum FileIO {
    enum Failure: Error, CustomStringConvertible {
        case system(String, Int32)
        var description: String {
            switch self {
            case .system(let what, let code): "\(what): \(String(cString: strerror(code)))"
            }
        }
    }

    static func read(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW)
        guard fd >= 0 else { throw Failure.system("open \(path)", errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw Failure.system("stat \(path)", errno) }
        return read(fd, upTo: Int(st.st_size))
    }

    /// Up to `count` bytes from the start of an open file (fewer if it is shorter).
    static func read(_ fd: Int32, upTo count: Int) -> [UInt8] {
        var bytes = [UInt8](repeating: 0, count: count)
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeMutableBytes { pread(fd, $0.baseAddress! + done, $0.count - done, off_t(done)) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { break }
            done += n
        }
        return Array(bytes.prefix(done))
    }

    /// Writes `bytes` to `path`; with `exclusive`, refuses to replace anything (O_EXCL, no symlinks).
    static func write(_ bytes: [UInt8], to path: String, exclusive: Bool = false) throws {
        let flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (exclusive ? O_EXCL : O_TRUNC)
        let fd = open(path, flags, 0o600)
        guard fd >= 0 else { throw Failure.system("create \(path)", errno) }
        defer { close(fd) }
        var done = 0
        while done < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + done, $0.count - done) }
            if n < 0, errno == EINTR { continue }
            guard n > 0 else { throw Failure.system("write \(path)", errno) }
            done += n
        }
    }

    /// Creates `base/relative` and its parents (each a real directory, never a symlink).
    static func makeDirectories(_ base: String, relative: String) throws {
        var path = base
        for component in relative.split(separator: "/") {
            path += "/" + component
            if mkdir(path, 0o755) != 0 && errno != EEXIST { throw Failure.system("mkdir \(path)", errno) }
            var st = stat()
            guard lstat(path, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR else { throw Failure.system("mkdir \(path)", ENOTDIR) }
        }
    }

    /// Removes `path` and, for a directory, everything in it; a symlink is removed, never
    /// followed. Nothing there is not an error.
    static func remove(_ path: String) throws {
        var st = stat()
        guard lstat(path, &st) == 0 else {
            if errno == ENOENT { return }
            throw Failure.system("stat \(path)", errno)
        }
        guard (st.st_mode & S_IFMT) == S_IFDIR else {
            guard unlink(path) == 0 || errno == ENOENT else { throw Failure.system("unlink \(path)", errno) }
            return
        }
        guard let directory = opendir(path) else { throw Failure.system("open \(path)", errno) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if name != "." && name != ".." { names.append(name) }
        }
        closedir(directory)
        for name in names { try remove(path + "/" + name) }
        guard rmdir(path) == 0 else { throw Failure.system("rmdir \(path)", errno) }
    }
}
