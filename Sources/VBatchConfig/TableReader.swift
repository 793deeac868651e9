import TOMLKit
import VBatchCore

/// A configuration file that parsed as TOML: the path to show, its root table, and a
/// locator for line numbers.
final class SourceFile {
    let path: String
    let root: TOMLTable
    let locator: SourceLocator

    init(path: String, root: TOMLTable, locator: SourceLocator) {
        self.path = path
        self.root = root
        self.locator = locator
    }
}

/// Where a table is: its file and its path of keys (`["queue", "one-way"]`).
struct Origin {
    let file: SourceFile
    let path: [String]

    /// The line of the table header (or of the first key that implies the table).
    var line: Int { file.locator.line(of: path) }

    /// The line of `key` in this table, falling back to the table's line.
    func line(of key: String) -> Int { file.locator.line(of: path + [key]) }

    /// `file:line`, for messages that point at another definition.
    var reference: String { "\(file.path):\(line)" }

    /// The dotted key of the table, or of `key` inside it.
    func keyPath(_ key: String? = nil) -> String {
        KeyPath.format(path + (key.map { [$0] } ?? []))
    }
}

enum KeyPath {
    /// Joins key segments with dots, quoting any that is not a bare TOML key (`queue."a.b".type`).
    static func format(_ segments: [String]) -> String {
        segments.map { segment in
            let bare = !segment.isEmpty && segment.allSatisfy {
                $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-")
            }
            return bare ? segment : "\"\(segment)\""
        }.joined(separator: ".")
    }
}

/// Reads the values of one table, reporting every wrong type or bad value to `diagnostics`.
///
/// Each accessor returns `nil` both when the key is absent and when its value is wrong (the
/// error is then already recorded), so callers simply fall back to defaults and carry on.
struct TableReader {
    let table: TOMLTable
    let origin: Origin
    let diagnostics: Diagnostics

    /// Records an error at `key` (its line and dotted key), or at the table itself when `key` is `nil`.
    func error(_ key: String?, _ message: String) {
        diagnostics.add(file: origin.file.path, line: key.map(origin.line(of:)) ?? origin.line,
                        key: origin.keyPath(key), message)
    }

    func has(_ key: String) -> Bool { table[key] != nil }

    /// Reports each of `keys` that is missing, at the table header. Returns whether all are present.
    @discardableResult
    func require(_ keys: String...) -> Bool {
        var ok = true
        for key in keys where !has(key) {
            diagnostics.add(file: origin.file.path, line: origin.line, key: origin.keyPath(key), "missing required key")
            ok = false
        }
        return ok
    }

    /// Reports every key not in `allowed`. `misplaced` maps keys that are valid elsewhere to an explanation.
    func checkKeys(allowed: [String], misplaced: [String: String] = [:]) {
        for key in table.keys where !allowed.contains(key) {
            if let why = misplaced[key] {
                error(key, "key not valid here: \(why)")
            } else if let guess = Suggestion.closest(to: key, in: allowed) {
                error(key, "unknown key (did you mean \(guess)?)")
            } else {
                error(key, "unknown key (valid keys: \(allowed.joined(separator: ", ")))")
            }
        }
    }

    func string(_ key: String) -> String? {
        guard let value = table[key] else { return nil }
        guard let s = value.string else { return wrongType(key, value, expected: "a string") }
        return s
    }

    func bool(_ key: String) -> Bool? {
        guard let value = table[key] else { return nil }
        guard let b = value.bool else { return wrongType(key, value, expected: "true or false") }
        return b
    }

    /// An integer, checked against `atLeast` when given.
    func int(_ key: String, atLeast minimum: Int? = nil) -> Int? {
        guard let value = table[key] else { return nil }
        guard let i = value.int else { return wrongType(key, value, expected: "an integer") }
        if let minimum, i < minimum {
            error(key, "must be at least \(minimum), not \(i)")
            return nil
        }
        return i
    }

    /// An integer or floating-point number that must be greater than zero.
    func positiveNumber(_ key: String) -> Double? {
        guard let value = table[key] else { return nil }
        guard let n = value.double ?? value.int.map(Double.init) else {
            return wrongType(key, value, expected: "a number")
        }
        guard n.isFinite, n > 0 else {
            error(key, "must be a number greater than 0, not \(n)")
            return nil
        }
        return n
    }

    /// One of a fixed set of strings.
    func choice(_ key: String, of choices: [String]) -> String? {
        guard let s = string(key) else { return nil }
        guard choices.contains(s) else {
            error(key, "\"\(s)\" is not one of \(choices.map { "\"\($0)\"" }.joined(separator: ", "))")
            return nil
        }
        return s
    }

    /// A list of strings, at least one, none twice.
    func strings(_ key: String) -> [String]? {
        guard let value = table[key] else { return nil }
        guard let array = value.array else { return wrongType(key, value, expected: "a list of strings") }
        var out: [String] = []
        for element in array {
            guard let s = element.string else {
                error(key, "must be a list of strings, but holds \(Self.describe(element.type))")
                return nil
            }
            if out.contains(s) {
                error(key, "\"\(s)\" is listed twice")
            } else {
                out.append(s)
            }
        }
        guard !out.isEmpty else {
            error(key, "must not be empty (leave the key out instead)")
            return nil
        }
        return out
    }

    /// A walltime or duration of at least one second: `"10h"`, `"1h30m"`, `"01:30:00"`, or an integer of seconds.
    func duration(_ key: String) -> Int? {
        guard let value = table[key] else { return nil }
        let seconds: Int?
        if let s = value.string {
            seconds = Quantities.parseWalltime(s)
            if seconds == nil {
                error(key, "\"\(s)\" is not a duration (write e.g. \"90s\", \"45m\", \"10h\", \"1d\", \"1h30m\" or \"01:30:00\")")
                return nil
            }
        } else if let i = value.int {
            seconds = (0...Quantities.maxWalltime).contains(i) ? i : nil
            if seconds == nil {
                error(key, "\(i) seconds is out of range (0 to \(Quantities.maxWalltime))")
                return nil
            }
        } else {
            return wrongType(key, value, expected: "a duration such as \"10h\"")
        }
        guard let seconds, seconds >= 1 else {
            error(key, "must be at least 1s")
            return nil
        }
        return seconds
    }

    /// A memory size of at least 1 MiB: `"256mb"`, `"2gb"`, or an integer of MiB.
    func memory(_ key: String) -> Int? {
        guard let value = table[key] else { return nil }
        let mb: Int?
        if let s = value.string {
            mb = Quantities.parseMemoryMB(s)
            if mb == nil {
                error(key, "\"\(s)\" is not a memory size (write e.g. \"512mb\", \"2gb\" or \"1tb\")")
                return nil
            }
        } else if let i = value.int {
            mb = (0...Quantities.maxMemoryMB).contains(i) ? i : nil
            if mb == nil {
                error(key, "\(i) MiB is out of range (0 to \(Quantities.maxMemoryMB))")
                return nil
            }
        } else {
            return wrongType(key, value, expected: "a memory size such as \"2gb\"")
        }
        guard let mb, mb >= 1 else {
            error(key, "must be at least 1mb")
            return nil
        }
        return mb
    }

    private func wrongType<T>(_ key: String, _ value: TOMLValueConvertible, expected: String) -> T? {
        error(key, "must be \(expected), not \(Self.describe(value.type))")
        return nil
    }

    static func describe(_ type: TOMLType) -> String { type.phrase }
}

package extension TOMLType {
    /// The type as error messages name it: "a table", "a list", "an integer", …
    var phrase: String {
        switch self {
        case .table: "a table"
        case .array: "a list"
        case .string: "a string"
        case .int: "an integer"
        case .double: "a floating-point number"
        case .bool: "a boolean"
        case .date: "a date"
        case .time: "a time"
        case .dateTime: "a date-time"
        }
    }
}

/// "Did you mean …?" for misspelt keys and names.
package enum Suggestion {
    /// The candidate closest to `word` by edit distance, if it is close enough to be a likely typo.
    package static func closest(to word: String, in candidates: [String]) -> String? {
        let limit = max(1, min(3, word.count / 3))
        let scored = candidates.map { ($0, distance(word.lowercased(), $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= limit else { return nil }
        return best.0
    }

    /// Levenshtein distance.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        if b.isEmpty { return a.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in 1...b.count {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
