import TOMLKit

/// The top level of a configuration file: which tables it may hold, and the `[KIND.NAME]`
/// tables inside them.
struct FileLayout {
    let file: SourceFile
    let diagnostics: Diagnostics

    /// Reports top-level keys and tables other than `allowed`; `what` names the file kind in the message.
    func checkTopLevel(allowed: [String], what: String) {
        for key in file.root.keys where !allowed.contains(key) {
            let line = file.locator.line(of: [key])
            let tables = allowed.map { "[\($0)\($0 == "site" ? "" : ".NAME")]" }.joined(separator: ", ")
            let kind = file.root[key]?.type == .table ? "table [\(KeyPath.format([key]))]" : "top-level key"
            diagnostics.add(file: file.path, line: line, key: KeyPath.format([key]),
                            "unknown \(kind): \(what) holds only \(tables) tables")
        }
    }

    /// The table `[kind]` itself (like `[site]`), if present and a table.
    func table(_ kind: String) -> TableReader? {
        guard let value = file.root[kind] else { return nil }
        let origin = Origin(file: file, path: [kind])
        guard let table = value.table else {
            diagnostics.add(file: file.path, line: origin.line, key: kind,
                            "must be a table, not \(TableReader.describe(value.type)): write [\(kind)]")
            return nil
        }
        return TableReader(table: table, origin: origin, diagnostics: diagnostics)
    }

    /// The `[kind.NAME]` tables in the order they appear in the file, each with its name.
    ///
    /// Reports values that are not tables and names that are not valid; tables with an invalid
    /// name are still returned so that their contents are checked too.
    func namedTables(_ kind: String) -> [(name: String, reader: TableReader)] {
        guard let outer = table(kind) else { return [] }
        var out: [(name: String, reader: TableReader)] = []
        for name in outer.table.keys {
            let origin = Origin(file: file, path: [kind, name])
            guard let inner = outer.table[name]?.table else {
                let type = outer.table[name].map { TableReader.describe($0.type) } ?? "nothing"
                diagnostics.add(file: file.path, line: origin.line, key: origin.keyPath(),
                                "must be a table, not \(type): write [\(origin.keyPath())] and its keys below it")
                continue
            }
            if !Names.isValid(name) {
                diagnostics.add(file: file.path, line: origin.line, key: origin.keyPath(), Names.rule)
            }
            out.append((name, TableReader(table: inner, origin: origin, diagnostics: diagnostics)))
        }
        return out.sorted { $0.reader.origin.line < $1.reader.origin.line }
    }
}

/// Names of queues, nodes, VOs and images.
enum Names {
    static let rule = "invalid name: use 1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit"

    /// `^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`
    static func isValid(_ name: String) -> Bool {
        let scalars = Array(name.unicodeScalars)
        guard (1...64).contains(scalars.count), isAlphanumeric(scalars[0]) else { return false }
        return scalars.allSatisfy { isAlphanumeric($0) || $0 == "." || $0 == "_" || $0 == "-" }
    }

    private static func isAlphanumeric(_ s: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(s) || ("A"..."Z").contains(s) || ("0"..."9").contains(s)
    }
}

/// Remembers where each name was first defined, to report duplicates across files.
struct NameRegistry {
    private var seen: [String: Origin] = [:]
    let kind: String

    init(kind: String) { self.kind = kind }

    /// Registers `name`; if it was defined before, reports the second definition and returns `false`.
    mutating func claim(_ name: String, at origin: Origin, diagnostics: Diagnostics) -> Bool {
        if let first = seen[name] {
            diagnostics.add(file: origin.file.path, line: origin.line, key: origin.keyPath(),
                            "\(kind) \(name) is already defined at \(first.reference)")
            return false
        }
        seen[name] = origin
        return true
    }
}
