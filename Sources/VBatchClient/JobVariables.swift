/// The `-v VAR=VALUE` environment variables of a submission.
public enum JobVariables {
    /// A one-line message naming the offending `-v` item.
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public var message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    /// Parses `-v` values. Each is `NAME=VALUE` (the value may hold `=` and `,`), or a bare
    /// `NAME`, which takes the value from `lookup` (the submitting environment), as `qsub -v` does.
    /// Names are `[A-Za-z_][A-Za-z0-9_]*`; values hold no NUL; a name given twice is refused.
    public static func parse(_ specs: [String], lookup: (String) -> String?) throws(ParseError) -> [String: String] {
        var result: [String: String] = [:]
        for spec in specs {
            let name: String
            let value: String
            if let eq = spec.firstIndex(of: "=") {
                name = String(spec[..<eq])
                value = String(spec[spec.index(after: eq)...])
            } else {
                name = spec
                guard isValidName(name) else { throw badName(name) }
                guard let v = lookup(name) else {
                    throw ParseError("-v: \(name) has no value and is not set in the environment (write \(name)=VALUE)")
                }
                value = v
            }
            guard isValidName(name) else { throw badName(name) }
            guard !value.utf8.contains(0) else { throw ParseError("-v: the value of \(name) contains a NUL byte") }
            guard result[name] == nil else { throw ParseError("-v: \(name) given more than once") }
            result[name] = value
        }
        return result
    }

    /// `[A-Za-z_][A-Za-z0-9_]*`, at most 255 bytes.
    public static func isValidName(_ name: String) -> Bool {
        guard let first = name.utf8.first, name.utf8.count <= 255, !(48...57).contains(first) else { return false }
        return name.utf8.allSatisfy { b in
            (48...57).contains(b) || (65...90).contains(b) || (97...122).contains(b) || b == UInt8(ascii: "_")
        }
    }

    private static func badName(_ name: String) -> ParseError {
        ParseError("-v: bad variable name '\(shown(name))' (letters, digits and _, not starting with a digit)")
    }
}
