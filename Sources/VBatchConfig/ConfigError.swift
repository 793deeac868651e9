import Foundation

/// One problem found in the configuration, located in the file that holds it.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The file as the operator named it (the configuration directory joined with `/`).
    public var file: String
    /// 1-based line; 0 when the problem concerns the whole file (for example, it is missing).
    public var line: Int
    /// Dotted key such as `queue.one-way.walltime_max`; empty for TOML syntax errors.
    public var key: String
    public var message: String

    public init(file: String, line: Int, key: String, message: String) {
        self.file = file
        self.line = line
        self.key = key
        self.message = message
    }

    /// `FILE:LINE: KEY: MESSAGE`; the line and key are left out when there are none.
    public var description: String {
        var out = file
        if line > 0 { out += ":\(line)" }
        if !key.isEmpty { out += ": \(key)" }
        return out + ": " + message
    }
}

/// Every problem found in one load, in file order and then line order.
public struct ConfigErrors: Error, Sendable, CustomStringConvertible, LocalizedError {
    public var errors: [ConfigError]

    public init(errors: [ConfigError]) {
        self.errors = errors
    }

    /// One error per line.
    public var description: String {
        errors.map(\.description).joined(separator: "\n")
    }

    public var errorDescription: String? { description }
}

/// Collects errors while the loader carries on, so that one run reports them all.
final class Diagnostics {
    private(set) var errors: [ConfigError] = []
    private var fileOrder: [String: Int] = [:]

    /// Files are reported in the order they are registered here.
    func register(file: String) {
        if fileOrder[file] == nil { fileOrder[file] = fileOrder.count }
    }

    func add(file: String, line: Int, key: String, _ message: String) {
        register(file: file)
        errors.append(ConfigError(file: file, line: line, key: key, message: message))
    }

    /// Errors grouped by file (in registration order), then by line; ties keep the order found.
    var sorted: [ConfigError] {
        errors.enumerated().sorted { a, b in
            let fa = fileOrder[a.element.file] ?? Int.max, fb = fileOrder[b.element.file] ?? Int.max
            if fa != fb { return fa < fb }
            if a.element.line != b.element.line { return a.element.line < b.element.line }
            return a.offset < b.offset
        }.map(\.element)
    }
}
