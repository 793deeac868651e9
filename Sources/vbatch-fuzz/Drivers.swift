#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Runs each input once: files as given, directories file by file (sorted, hidden files
/// skipped). Prints `ran N inputs` and returns 0; a crashing input stops the process.
enum Regression {
    static func run(_ target: FuzzTarget, paths: [String]) -> Int32 {
        guard !paths.isEmpty else {
            printError("vbatch-fuzz: name a corpus directory or input files\n")
            return 2
        }
        var count = 0
        for path in paths {
            for file in files(path) {
                guard let bytes = read(file) else {
                    printError("vbatch-fuzz: cannot read \(file)\n")
                    return 1
                }
                if getenv("VBATCH_FUZZ_VERBOSE") != nil { printError("\(target.name): \(file)\n") }
                bytes.withUnsafeBufferPointer { target.run($0) }
                count += 1
            }
        }
        print("\(target.name): ran \(count) inputs")
        return 0
    }

    static func files(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [path] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(decoding: raw.prefix { $0 != 0 }, as: UTF8.self)
            }
            if !name.hasPrefix(".") { names.append(name) }
        }
        return names.sorted().map { path + "/" + $0 }.filter { !isDirectory($0) }
    }

    static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n > 0 { bytes += chunk[0..<n] }
            if n < chunk.count { break }
        }
        return bytes
    }
}

#if VBATCH_FUZZ
/// libFuzzer's entry point when the fuzzer supplies no `main` (libclang_rt.fuzzer_no_main).
@_silgen_name("LLVMFuzzerRunDriver")
private func LLVMFuzzerRunDriver(
    _ argc: UnsafeMutablePointer<CInt>,
    _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>,
    _ callback: @convention(c) (UnsafePointer<UInt8>?, Int) -> CInt
) -> CInt

/// Runs libFuzzer over the target with libFuzzer's own arguments.
enum LibFuzzer {
    /// The target libFuzzer's callback runs; set once before the fuzzer starts, read only after.
    nonisolated(unsafe) static var current: FuzzTarget?

    static func run(_ target: FuzzTarget, arguments: [String]) -> Int32 {
        current = target
        var cArguments = arguments.map { strdup($0) }
        cArguments.append(nil)
        var argc = CInt(arguments.count)
        return cArguments.withUnsafeMutableBufferPointer { buffer -> CInt in
            var argv = buffer.baseAddress
            return LLVMFuzzerRunDriver(&argc, &argv) { data, size in
                LibFuzzer.current!.run(UnsafeBufferPointer(start: size > 0 ? data : nil, count: size))
                return 0
            }
        }
    }
}
#endif
