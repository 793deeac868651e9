import VBatchCore

/// Checks every user-supplied field of a submission before anything else sees it.
///
/// Job fields end up in SQLite, in file names under the spool and, through the job disk,
/// inside a VM; names also appear in libvirt domain XML. So names are restricted to a
/// safe alphabet, and every other field is bounded and free of NUL bytes. A violation is
/// one clear message naming the field.
public enum InputLimits {
    public static let maxNameLength = 128
    public static let maxArguments = 1024
    public static let maxArgumentBytes = 64 * 1024
    public static let maxVariables = 1024
    public static let maxVariableBytes = 64 * 1024
    public static let maxCores = 1024

    /// Names of jobs, queues, environments: letters, digits and `._+-@=,:`, starting alphanumeric.
    public static func isSafeName(_ s: String, maxLength: Int = maxNameLength) -> Bool {
        guard let first = s.utf8.first, s.utf8.count <= maxLength else { return false }
        func alnum(_ b: UInt8) -> Bool {
            (b >= 48 && b <= 57) || (b >= 65 && b <= 90) || (b >= 97 && b <= 122)
        }
        return alnum(first) && s.utf8.allSatisfy { alnum($0) || Array("._+-@=,:".utf8).contains($0) }
    }

    public static func isVariableName(_ s: String) -> Bool {
        guard let first = s.utf8.first, s.utf8.count <= 128 else { return false }
        func ok(_ b: UInt8, digits: Bool) -> Bool {
            b == 95 || (b >= 65 && b <= 90) || (b >= 97 && b <= 122) || (digits && b >= 48 && b <= 57)
        }
        return ok(first, digits: false) && s.utf8.allSatisfy { ok($0, digits: true) }
    }

    /// Returns the first problem with a submission, or nil if it is acceptable.
    public static func problem(with r: SubmitRequest) -> String? {
        if let name = r.name, !isSafeName(name) {
            return "job name must be 1-\(maxNameLength) characters of letters, digits and ._+-@=,: starting with a letter or digit"
        }
        if !isSafeName(r.queue, maxLength: 64) { return "queue name is not valid" }
        if let env = r.environment, !isSafeName(env, maxLength: 64) { return "environment name is not valid" }
        if r.script.isEmpty { return "script is empty" }
        if r.script.utf8.count > API.maxScriptBytes { return "script is larger than \(API.maxScriptBytes) bytes" }
        if r.script.utf8.contains(0) { return "script contains a NUL byte" }
        if r.count < 1 || r.count > API.maxArrayCount { return "count must be between 1 and \(API.maxArrayCount)" }
        if let c = r.cores, c < 1 || c > maxCores { return "cores must be between 1 and \(maxCores)" }
        if let m = r.memoryMB, m < 1 || m > Quantities.maxMemoryMB { return "memory must be between 1mb and \(Quantities.formatMemory(Quantities.maxMemoryMB))" }
        if let w = r.walltime, w < 1 || w > Quantities.maxWalltime { return "walltime must be between 1s and \(Quantities.formatWalltime(Quantities.maxWalltime))" }
        if r.arguments.count > maxArguments { return "more than \(maxArguments) arguments" }
        if r.arguments.contains(where: { $0.utf8.contains(0) }) { return "an argument contains a NUL byte" }
        if r.arguments.reduce(0, { $0 + $1.utf8.count }) > maxArgumentBytes { return "arguments exceed \(maxArgumentBytes) bytes" }
        if r.variables.count > maxVariables { return "more than \(maxVariables) environment variables" }
        var total = 0
        for (key, value) in r.variables {
            if !isVariableName(key) { return "environment variable name is not valid (letters, digits and _ only)" }
            if value.utf8.contains(0) { return "environment variable \(key) contains a NUL byte" }
            total += key.utf8.count + value.utf8.count
        }
        if total > maxVariableBytes { return "environment variables exceed \(maxVariableBytes) bytes" }
        return nil
    }
}
