import TOMLKit

/// TOML syntax toml++ cannot be given: see ``TOMLGuard``.
package struct TOMLGuardError: Error, CustomStringConvertible, Sendable, Equatable {
    /// 1-based line of the problem.
    package var line: Int
    package var description: String

    /// The line of the statement (key-value pair or header) the problem is in: what comes
    /// before it is a whole document.
    var statementLine = 0

    package init(line: Int, description: String) {
        self.line = line
        self.description = description
    }

    package static func == (a: TOMLGuardError, b: TOMLGuardError) -> Bool {
        a.line == b.line && a.description == b.description
    }

    static func header(_ line: Int) -> TOMLGuardError {
        TOMLGuardError(line: line, description:
            "TOML syntax error while parsing table header: expected a bare key or a quoted key after '['")
    }

    static func dateTime(_ line: Int) -> TOMLGuardError {
        TOMLGuardError(line: line, description: "TOML syntax error while parsing date-time: expected a time after 'T'")
    }

    static func arrayValue(_ line: Int) -> TOMLGuardError {
        TOMLGuardError(line: line, description: "TOML syntax error while parsing array: expected a value or ']', saw '}'")
    }
}

/// Parses TOML text with TOMLKit, refusing first what would abort the process.
///
/// toml++ 3.4.0 (vendored by TOMLKit, built without `NDEBUG`) asserts, and so aborts the
/// whole process, where its own checks leave a gap (found by `vbatch-fuzz config` and
/// `vbatch-fuzz recipe`; vbatchd, `vbatch config check` and `vbatch image build` read such files):
/// - a table header whose first character after `[` or `[[` and any blanks is not a key's
///   (a bare-key character or a quote), a closing `]` or the end: `[#`, `[=`, `[` alone on
///   a line, `[` then a character that is not ASCII;
/// - a `}` where an array expects a value: `a = [1, }`, `a = [ }`;
/// - a date-time value whose `T` is not followed by a digit: `a = 1979-05-27T[`.
package enum TOMLGuard {
    /// The document, or the error toml++ reports (`TOMLParseError`), or ``TOMLGuardError``
    /// when the first problem is one toml++ would abort on.
    package static func parse(_ text: String) throws -> TOMLTable {
        if let problem = firstUnsafeSyntax(in: text) {
            // An error toml++ meets before that line is the one to report.
            // Lines split on the byte: "\r\n" is one Character, which a split on "\n" would not cut.
            let lines = text.utf8.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
            let before = lines.prefix(problem.statementLine - 1).map { String(decoding: $0, as: UTF8.self) + "\n" }.joined()
            _ = try TOMLTable(string: before)
            throw problem
        }
        return try TOMLTable(string: text)
    }

    /// The first table header (a `[` that starts a line outside any value) whose key would
    /// start with a character toml++ asserts on, or array value that starts with `}`; nil if
    /// there is none.
    ///
    /// Follows TOML's lexical structure only as far as it decides where a line is at the
    /// document level and where an array expects a value: strings (basic, literal,
    /// multi-line), comments, and the brackets and braces of values, which may span lines.
    package static func firstUnsafeSyntax(in text: String) -> TOMLGuardError? {
        let b = Array(text.utf8)
        let n = b.count
        let quote = UInt8(ascii: "\""), apostrophe = UInt8(ascii: "'"), newline = UInt8(ascii: "\n")
        // toml++ skips a byte order mark.
        var i = b.starts(with: [0xEF, 0xBB, 0xBF]) ? 3 : 0
        var line = 1
        // The open brackets and braces of the value being read, innermost last.
        var open: [UInt8] = []
        // Inside an array, where a value (or `]`) must come next: after `[` or `,`.
        var expectingValue = false
        // Where a value may start: after `=`, or `[` or `,` in an array.
        var valueStart = false
        var atLineStart = true
        var statementLine = 1

        func isBareKey(_ c: UInt8) -> Bool {
            (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5A) || (c >= 0x61 && c <= 0x7A) || c == 0x2D || c == 0x5F
        }
        func isDigit(_ index: Int) -> Bool { index < n && b[index] >= 0x30 && b[index] <= 0x39 }
        /// `YYYY-MM-DD` then `T` or `t` and no digit at `index`: toml++ parses the date, then
        /// asserts that the time starts with a digit.
        func isBrokenDateTime(at index: Int) -> Bool {
            let digits = [0, 1, 2, 3, 5, 6, 8, 9].allSatisfy { isDigit(index + $0) }
            guard digits, index + 10 < n, b[index + 4] == UInt8(ascii: "-"), b[index + 7] == UInt8(ascii: "-") else { return false }
            return (b[index + 10] == UInt8(ascii: "T") || b[index + 10] == UInt8(ascii: "t")) && !isDigit(index + 11)
        }
        func starts(_ delimiter: UInt8, count: Int, at index: Int) -> Bool {
            index + count <= n && (index..<index + count).allSatisfy { b[$0] == delimiter }
        }
        /// Skips a string starting at `i` (on its opening delimiter), counting the lines it spans.
        func skipString() {
            let delimiter = b[i]
            let escapes = delimiter == quote
            if starts(delimiter, count: 3, at: i) {
                i += 3
                while i < n {
                    if escapes && b[i] == UInt8(ascii: "\\") {
                        if i + 1 < n, b[i + 1] == newline { line += 1 }
                        i += 2
                        continue
                    }
                    if starts(delimiter, count: 3, at: i) {
                        i += 3
                        // Up to two more quotes belong to the content: `"""a""""`.
                        var extra = 0
                        while extra < 2, i < n, b[i] == delimiter { i += 1; extra += 1 }
                        return
                    }
                    if b[i] == newline { line += 1 }
                    i += 1
                }
                return
            }
            i += 1
            while i < n, b[i] != newline {
                if escapes && b[i] == UInt8(ascii: "\\") { i += 2; continue }
                if b[i] == delimiter { i += 1; return }
                i += 1
            }
        }

        while i < n {
            let c = b[i]
            if c == newline {
                line += 1
                i += 1
                if open.isEmpty { atLineStart = true }
                continue
            }
            if atLineStart {
                if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") {
                    i += 1
                    continue
                }
                atLineStart = false
                statementLine = line
                if c == UInt8(ascii: "[") {
                    var j = i + 1
                    if j < n, b[j] == UInt8(ascii: "[") { j += 1 }
                    while j < n, b[j] == UInt8(ascii: " ") || b[j] == UInt8(ascii: "\t") { j += 1 }
                    if j < n, !(isBareKey(b[j]) || b[j] == quote || b[j] == apostrophe || b[j] == UInt8(ascii: "]")) {
                        var problem = TOMLGuardError.header(line)
                        problem.statementLine = line
                        return problem
                    }
                    // The rest of the header line: keys (quoted ones may hold brackets), a comment.
                    i = j
                    while i < n, b[i] != newline {
                        if b[i] == quote || b[i] == apostrophe { skipString() } else { i += 1 }
                    }
                    continue
                }
            }
            if c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r") {
                i += 1
                continue
            }
            if c == UInt8(ascii: "#") {
                while i < n, b[i] != newline { i += 1 }
                continue
            }
            if expectingValue && c == UInt8(ascii: "}") {
                var problem = TOMLGuardError.arrayValue(line)
                problem.statementLine = statementLine
                return problem
            }
            if valueStart && isBrokenDateTime(at: i) {
                var problem = TOMLGuardError.dateTime(line)
                problem.statementLine = statementLine
                return problem
            }
            expectingValue = false
            valueStart = c == UInt8(ascii: "=")
            switch c {
            case quote, apostrophe:
                skipString()
            case UInt8(ascii: "["), UInt8(ascii: "{"):
                open.append(c)
                expectingValue = c == UInt8(ascii: "[")
                valueStart = expectingValue
                i += 1
            case UInt8(ascii: "]"), UInt8(ascii: "}"):
                if !open.isEmpty { open.removeLast() }
                i += 1
            case UInt8(ascii: ","):
                expectingValue = open.last == UInt8(ascii: "[")
                valueStart = expectingValue
                i += 1
            default:
                i += 1
            }
        }
        return nil
    }
}
