import VBatchCore

/// The resources a job asks for with `-l`, as PBS's `qsub -l` spells them.
///
/// Accepted: `walltime=2h` (any form ``Quantities/parseWalltime(_:)`` takes, e.g. `1h30m`,
/// `02:00:00`), `cores=2`, `mem=2gb` (any form ``Quantities/parseMemoryMB(_:)`` takes), and
/// PBS's `nodes=1:ppn=N` for N cores. Several `-l` options and comma-separated lists combine;
/// a resource given twice is refused rather than silently overridden.
public struct ResourceList: Sendable, Equatable {
    public var walltime: Int?
    public var cores: Int?
    public var memoryMB: Int?

    /// Largest `cores` accepted here; the daemon applies the queue's real limit.
    public static let maxCores = 65_536

    public init(walltime: Int? = nil, cores: Int? = nil, memoryMB: Int? = nil) {
        self.walltime = walltime
        self.cores = cores
        self.memoryMB = memoryMB
    }

    /// A one-line message naming the offending `-l` item.
    public struct ParseError: Error, CustomStringConvertible, Sendable, Equatable {
        public var message: String
        public var description: String { message }
        init(_ message: String) { self.message = message }
    }

    /// Parses every `-l` value given, e.g. `["walltime=2h,cores=2", "mem=2gb"]`.
    public static func parse(_ specs: [String]) throws(ParseError) -> ResourceList {
        var result = ResourceList()
        for spec in specs {
            for item in spec.split(separator: ",", omittingEmptySubsequences: false) {
                try result.add(String(item))
            }
        }
        return result
    }

    private mutating func add(_ item: String) throws(ParseError) {
        let text = item.trimmingSpaces()
        guard !text.isEmpty else { throw ParseError("-l: empty resource (write e.g. -l walltime=2h,cores=2,mem=2gb)") }
        guard let eq = text.firstIndex(of: "=") else {
            throw ParseError("-l: '\(shown(text))' has no value (write \(shown(text))=VALUE)")
        }
        let key = String(text[..<eq]).trimmingSpaces().lowercased()
        let value = String(text[text.index(after: eq)...]).trimmingSpaces()
        guard !value.isEmpty else { throw ParseError("-l: \(shown(key)) has an empty value") }
        switch key {
        case "walltime":
            guard walltime == nil else { throw ParseError("-l: walltime given more than once") }
            guard let seconds = Quantities.parseWalltime(value) else {
                throw ParseError("-l: bad walltime '\(shown(value))' (use e.g. 3600, 90m, 2h, 1h30m or HH:MM:SS)")
            }
            guard seconds > 0 else { throw ParseError("-l: walltime must be longer than 0 seconds") }
            walltime = seconds
        case "mem":
            guard memoryMB == nil else { throw ParseError("-l: mem given more than once") }
            guard let mb = Quantities.parseMemoryMB(value) else {
                throw ParseError("-l: bad mem '\(shown(value))' (use e.g. 512mb, 2gb or a number of MiB)")
            }
            guard mb > 0 else { throw ParseError("-l: mem must be at least 1mb") }
            memoryMB = mb
        case "cores":
            guard cores == nil else { throw ParseError("-l: cores given more than once (also counts nodes=1:ppn=N)") }
            cores = try Self.parseCores(value, what: "cores")
        case "nodes":
            guard cores == nil else { throw ParseError("-l: cores given more than once (also counts nodes=1:ppn=N)") }
            cores = try Self.parseNodes(value)
        default:
            throw ParseError("-l: unknown resource '\(shown(key))' (known: walltime, cores, mem, nodes=1:ppn=N)")
        }
    }

    private static func parseCores(_ text: String, what: String) throws(ParseError) -> Int {
        guard text.utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), text.utf8.count <= 9, let n = Int(text),
              (1...maxCores).contains(n)
        else { throw ParseError("-l: bad \(what) '\(shown(text))' (a whole number from 1 to \(maxCores))") }
        return n
    }

    /// `nodes=1` or `nodes=1:ppn=N`: a vbatch job is one VM on one node.
    private static func parseNodes(_ text: String) throws(ParseError) -> Int? {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map { String($0).trimmingSpaces() }
        guard parts[0] == "1" else {
            if parts[0].utf8.allSatisfy({ $0 >= 48 && $0 <= 57 }), let n = Int(parts[0]), n > 1 {
                throw ParseError("-l: nodes=\(n) asks for \(n) nodes, but a vbatch job is one VM on one node")
            }
            throw ParseError("-l: bad nodes '\(shown(text))' (only nodes=1 or nodes=1:ppn=N)")
        }
        var ppn: Int?
        for property in parts.dropFirst() {
            let lower = property.lowercased()
            guard lower.hasPrefix("ppn="), ppn == nil else {
                throw ParseError("-l: bad nodes '\(shown(text))' (only nodes=1 or nodes=1:ppn=N)")
            }
            ppn = try parseCores(String(property.dropFirst(4)), what: "ppn")
        }
        return ppn
    }
}

/// `text` cut to 60 characters with control characters as `?`, to quote in a message.
func shown(_ text: String) -> String {
    var out = ""
    for (i, ch) in text.enumerated() {
        if i == 60 { return out + "…" }
        out.append(ch.unicodeScalars.contains { $0.value < 32 || $0.value == 127 } ? "?" : ch)
    }
    return out
}
