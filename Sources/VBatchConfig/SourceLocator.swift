/// Finds the line on which a table or key is defined, by scanning the TOML text.
///
/// TOMLKit gives values but not their positions, so this reads just enough TOML to know
/// where each table header (`[queue.one-way]`, `[queue."a.b"]`, `[[x]]`) and each
/// `key = value` line (bare, quoted or dotted keys) is, skipping the insides of
/// multi-line strings and arrays and comments. Paths are lists of unquoted key segments.
package struct SourceLocator {
    private var lines: [[String]: Int] = [:]

    package init(text: String) {
        var table: [String] = []
        var state = ScanState()
        for (index, rawLine) in text.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline).enumerated() {
            let lineNumber = index + 1
            var line = Substring(rawLine)
            if state.isInsideValue {
                state.scanValue(&line)
                continue
            }
            line = line.drop { $0 == " " || $0 == "\t" }
            if line.first == "[" {
                let isArray = line.hasPrefix("[[")
                line = line.dropFirst(isArray ? 2 : 1)
                if let path = Self.parseKey(&line) {
                    table = path
                    record(path, line: lineNumber)
                }
            } else if let key = Self.parseKey(&line) {
                record(table + key, line: lineNumber)
                line = line.drop { $0 == " " || $0 == "\t" }
                if line.first == "=" {
                    line = line.dropFirst()
                    state.scanValue(&line)
                }
            }
        }
    }

    /// Line of `path`, or of the nearest enclosing table or key that is known; 1 if none is.
    package func line(of path: [String]) -> Int {
        var path = path
        while !path.isEmpty {
            if let line = lines[path] { return line }
            path.removeLast()
        }
        return 1
    }

    /// Exact line of `path`, if it appears in the text.
    package func exactLine(of path: [String]) -> Int? { lines[path] }

    /// Records the first definition of `path` and of every table it implies.
    private mutating func record(_ path: [String], line: Int) {
        guard !path.isEmpty else { return }
        for end in 1...path.count {
            let prefix = Array(path.prefix(end))
            if lines[prefix] == nil { lines[prefix] = line }
        }
    }

    /// Parses a possibly dotted key at the start of `text`, consuming it. `nil` if there is none.
    static func parseKey(_ text: inout Substring) -> [String]? {
        var segments: [String] = []
        while true {
            text = text.drop { $0 == " " || $0 == "\t" }
            guard let first = text.first else { return nil }
            if first == "\"" || first == "'" {
                text = text.dropFirst()
                var segment = ""
                var closed = false
                while let c = text.popFirst() {
                    if c == first { closed = true; break }
                    if c == "\\", first == "\"", let escaped = text.popFirst() {
                        switch escaped {
                        case "n": segment.append("\n")
                        case "t": segment.append("\t")
                        default: segment.append(escaped)
                        }
                    } else {
                        segment.append(c)
                    }
                }
                guard closed else { return nil }
                segments.append(segment)
            } else {
                let bare = text.prefix { $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "_" || $0 == "-") }
                guard !bare.isEmpty else { return nil }
                segments.append(String(bare))
                text = text.dropFirst(bare.count)
            }
            text = text.drop { $0 == " " || $0 == "\t" }
            guard text.first == "." else { return segments }
            text = text.dropFirst()
        }
    }
}

/// What the scanner is inside of when a value runs over several lines.
private struct ScanState {
    /// Open `[`/`{` not yet closed.
    var depth = 0
    /// The delimiter of an open multi-line string (`"""` or `'''`).
    var openString: String?

    var isInsideValue: Bool { depth > 0 || openString != nil }

    /// Reads a value (or the rest of one) up to the end of the line or a comment.
    mutating func scanValue(_ text: inout Substring) {
        while !text.isEmpty {
            if let delimiter = openString {
                guard let end = Self.find(delimiter, in: text) else { return }
                text = text[end...].dropFirst(3)
                // A closing """ may be followed by up to two more quotes that belong to the string.
                text = text.drop { String($0) == String(delimiter.first!) }
                openString = nil
                continue
            }
            let c = text.first!
            if text.hasPrefix("\"\"\"") || text.hasPrefix("'''") {
                openString = String(text.prefix(3))
                text = text.dropFirst(3)
            } else if c == "\"" || c == "'" {
                text = text.dropFirst()
                while let s = text.popFirst(), s != c {
                    if s == "\\", c == "\"" { _ = text.popFirst() }
                }
            } else if c == "#" {
                return
            } else {
                if c == "[" || c == "{" { depth += 1 }
                if c == "]" || c == "}" { depth = max(0, depth - 1) }
                text = text.dropFirst()
            }
        }
    }

    /// Index of the first unescaped `delimiter` in `text`.
    private static func find(_ delimiter: String, in text: Substring) -> Substring.Index? {
        var i = text.startIndex
        while i < text.endIndex {
            if delimiter == "\"\"\"", text[i] == "\\" {
                i = text.index(after: i)
                if i < text.endIndex { i = text.index(after: i) }
                continue
            }
            if text[i...].hasPrefix(delimiter) { return i }
            i = text.index(after: i)
        }
        return nil
    }
}
