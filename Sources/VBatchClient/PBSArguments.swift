import VBatchAPI
import VBatchCore

// The argument parsing of the PBS/Torque commands (`qsub`, `qstat`, `qdel`, …), apart from
// the `vbatch` executable that runs them, so that it can be fuzzed (`vbatch-fuzz pbs`) and
// tested without a daemon. Pure: no I/O, no environment.

/// Torque's ways of cleaning text it echoes back.
public enum PBSText {
    /// `value` with control characters as spaces, so a hostile string cannot add lines (and
    /// so forge attributes) to output that scripts parse line by line.
    public static func clean(_ value: String) -> String {
        guard value.unicodeScalars.contains(where: { $0.value < 32 || ($0.value >= 127 && $0.value < 160) }) else { return value }
        var out = ""
        for scalar in value.unicodeScalars {
            out.unicodeScalars.append(scalar.value < 32 || (scalar.value >= 127 && scalar.value < 160) ? " " : scalar)
        }
        return out
    }
}

/// `qsub`'s options, from its command line and from the `#PBS` directives of the script:
/// parsed, merged (the command line wins) and the `-l` resources read.
public enum QsubArguments {
    /// getopt(3) letters of Torque's qsub; a letter followed by `:` takes an argument.
    public static let spec = "a:A:b:c:C:d:D:e:fF:hIj:k:l:m:M:nN:o:p:P:q:r:S:t:T:u:v:VW:w:Xxz"

    /// The options of one source (command line or directives).
    public struct Options {
        public var queue: String?
        public var name: String?
        public var resources: [(String, String)] = []
        public var output: String?
        public var error: String?
        public var join: String?
        public var variables: [String] = []
        public var exportAll = false
        public var hold = false
        public var shell: String?
        public var arguments: String?
        public var workdir: String?
        public var quiet = false
        public var prefix: String?
        public var operands: [String] = []

        public init() {}
    }

    /// Why the options are refused; `status` 2 asks for the usage text too.
    public struct Failure: Error {
        public var message: String
        public var status: Int32 = 1

        public init(message: String, status: Int32 = 1) {
            self.message = message
            self.status = status
        }
    }

    /// The options of one source; `source` names it in messages ("command line", "script directive").
    public static func parse(_ arguments: [String], source: String) throws(Failure) -> Options {
        var o = Options()
        let items: [GetOpt.Item]
        do {
            items = try GetOpt(spec: spec).parse(arguments)
        } catch {
            throw Failure(message: "qsub: \(source): \(error.message)", status: 2)
        }
        for item in items {
            switch item {
            case .operand(let s): o.operands.append(s)
            case .option(let letter, let value):
                let v = value ?? ""
                switch letter {
                case "q": o.queue = v
                case "N": o.name = v
                case "l":
                    for piece in splitList(v) where !piece.isEmpty {
                        let parts = piece.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                        let key = String(parts[0]).lowercased()
                        guard parts.count == 2, !parts[1].isEmpty else {
                            throw Failure(message: "qsub: illegal -l value: \(PBSText.clean(piece)) (write resource=value)")
                        }
                        o.resources.append((key, String(parts[1])))
                    }
                case "o": o.output = v
                case "e": o.error = v
                case "j":
                    guard ["oe", "eo", "n"].contains(v) else { throw Failure(message: "qsub: illegal -j value: \(PBSText.clean(v))", status: 2) }
                    o.join = v
                case "v": o.variables += splitList(v)
                case "V": o.exportAll = true
                case "h": o.hold = true
                case "S": o.shell = v
                case "F": o.arguments = v
                case "d", "w": o.workdir = v
                case "z": o.quiet = true
                case "C": o.prefix = v
                case "I": throw Failure(message: "qsub: interactive jobs (-I) are not supported by vbatch", status: 2)
                case "t": throw Failure(message: "qsub: job arrays (-t) are not supported by vbatch", status: 2)
                case "a": throw Failure(message: "qsub: deferred start (-a) is not supported by vbatch", status: 2)
                case "W":
                    for attribute in splitList(v) {
                        let key = attribute.split(separator: "=", maxSplits: 1).first.map { String($0).lowercased() } ?? ""
                        if ["depend", "stagein", "stageout"].contains(key) {
                            throw Failure(message: "qsub: -W \(key) is not supported by vbatch (a job runs in its own VM; see docs/grid-ce.md)", status: 2)
                        }
                    }
                default: break // A b c D f k m M n p P r T u X x: accepted, nothing to do in vbatch.
                }
            }
        }
        return o
    }

    /// Command-line options over those of the script's directives.
    public static func merge(_ command: Options, over script: Options) -> Options {
        var o = command
        o.queue = command.queue ?? script.queue
        o.name = command.name ?? script.name
        let given = Set(command.resources.map(\.0))
        o.resources = script.resources.filter { !given.contains($0.0) } + command.resources
        o.output = command.output ?? script.output
        o.error = command.error ?? script.error
        o.join = command.join ?? script.join
        o.variables = script.variables + command.variables
        o.exportAll = command.exportAll || script.exportAll
        o.hold = command.hold || script.hold
        o.shell = command.shell ?? script.shell
        o.arguments = command.arguments ?? script.arguments
        o.workdir = command.workdir ?? script.workdir
        o.quiet = command.quiet || script.quiet
        return o
    }

    /// The words of the script's directive lines: the lines starting with `prefix` among the
    /// leading blank and comment lines (Torque stops at the first command).
    public static func directiveArguments(_ script: String, prefix: String) throws(Failure) -> [String] {
        var words: [String] = []
        for line in script.split(separator: "\n", omittingEmptySubsequences: false) {
            let text = line.hasSuffix("\r") ? line.dropLast() : line
            if text.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
            if text.hasPrefix(prefix) {
                var rest = text.dropFirst(prefix.count)
                guard rest.isEmpty || rest.first == " " || rest.first == "\t" else { continue }
                rest = rest.drop { $0 == " " || $0 == "\t" }
                do {
                    var lineWords = try ShellWords.split(String(rest))
                    if let comment = lineWords.firstIndex(where: { $0.hasPrefix("#") }) { lineWords.removeSubrange(comment...) }
                    words += lineWords
                } catch {
                    throw Failure(message: "qsub: directive error: \(PBSText.clean(String(text))): \(error.message)")
                }
                continue
            }
            if text.hasPrefix("#") { continue }
            break
        }
        return words
    }

    /// Splits a Torque list (`a=1,b=2`) at commas outside single or double quotes.
    public static func splitList(_ text: String) -> [String] {
        var items: [String] = []
        var current = ""
        var quote: Character?
        for ch in text {
            if let q = quote {
                if ch == q { quote = nil }
                current.append(ch)
            } else if ch == "'" || ch == "\"" {
                quote = ch
                current.append(ch)
            } else if ch == "," {
                items.append(current)
                current = ""
            } else {
                current.append(ch)
            }
        }
        items.append(current)
        return items
    }

    /// A value without one pair of enclosing quotes (`'a,b'` → `a,b`).
    public static func unquote(_ value: String) -> String {
        guard value.count >= 2, let first = value.first, first == "'" || first == "\"", value.last == first else { return value }
        return String(value.dropFirst().dropLast())
    }

    /// `-l` resources, PBS-style.
    public struct Resources {
        public var walltime: Int?
        public var cores: Int?
        public var memoryMB: Int?
        public var environment: String?

        /// Resources accepted and ignored: they constrain nothing vbatch schedules.
        public static let ignored: Set<String> = ["cput", "pcput", "file", "naccesspolicy", "qos", "epilogue", "prologue", "nice", "other"]

        public static func parse(_ list: [(String, String)]) throws(Failure) -> Resources {
            var r = Resources()
            var memory: [String: Int] = [:]
            var cores: Int?
            for (key, value) in list {
                switch key {
                case "walltime":
                    let text = value.split(separator: ".").first.map(String.init) ?? value
                    guard let seconds = Quantities.parseWalltime(text), seconds > 0 else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  walltime: \(PBSText.clean(value)))")
                    }
                    r.walltime = seconds
                case "nodes":
                    cores = try parseNodes(value)
                case "ncpus", "procs", "ppn":
                    guard let n = Int(value), n >= 1, n <= InputLimits.maxCores else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  \(key): \(PBSText.clean(value)))")
                    }
                    cores = n
                case "mem", "vmem", "pmem", "pvmem":
                    guard let mb = parseSize(value), mb >= 1 else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  \(key): \(PBSText.clean(value)))")
                    }
                    memory[key] = mb
                case "environment", "env":
                    guard InputLimits.isSafeName(value, maxLength: 64) else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  environment: \(PBSText.clean(value)))")
                    }
                    r.environment = value
                default:
                    if ignored.contains(key) { continue }
                    throw Failure(message: "qsub: submit error (Unknown resource type  MSG=vbatch does not provide resource \(PBSText.clean(key)))")
                }
            }
            r.cores = cores
            let perProcess = max(1, cores ?? 1)
            r.memoryMB = memory["mem"] ?? memory["vmem"] ?? memory["pmem"].map { $0 * perProcess } ?? memory["pvmem"].map { $0 * perProcess }
            return r
        }

        /// `nodes=1`, `nodes=1:ppn=N`: one VM on one node. Node properties (`nodes=1:ppn=2:bigmem`,
        /// as ARC's `queue_node_string` adds) are accepted and ignored: vbatch's queues say
        /// which nodes serve them. More nodes, and `key=value` specs other than ppn, are refused.
        public static func parseNodes(_ value: String) throws(Failure) -> Int? {
            let parts = value.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
            guard parts[0] == "1" else {
                if let n = Int(parts[0]), n > 1 {
                    throw Failure(message: "qsub: submit error (Job exceeds queue resource limits MSG=nodes=\(n): a vbatch job is one VM on one node; ask for nodes=1:ppn=N)")
                }
                throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  nodes: \(PBSText.clean(value)) (only nodes=1[:ppn=N]))")
            }
            var ppn: Int?
            for property in parts.dropFirst() {
                if property.lowercased().hasPrefix("ppn=") {
                    guard let n = Int(property.dropFirst(4)), n >= 1, n <= InputLimits.maxCores else {
                        throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  nodes: \(PBSText.clean(value)))")
                    }
                    ppn = n
                } else if property.isEmpty || property.contains("=")
                    || !property.allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || "_-.".contains($0)) }) {
                    throw Failure(message: "qsub: submit error (Illegal attribute or resource value for  nodes: \(PBSText.clean(value)) (only nodes=1[:ppn=N][:property]))")
                }
            }
            return ppn ?? 1
        }

        /// PBS sizes: a number with b, kb, mb, gb, tb (or words: w, kw, mw, gw, tw, 8 bytes),
        /// in MiB rounded up. A bare number is bytes, as in PBS.
        public static func parseSize(_ text: String) -> Int? {
            let s = text.lowercased()
            let digits = s.prefix { $0.isASCII && $0.isNumber }
            guard !digits.isEmpty, digits.count <= 15, let n = Int(digits) else { return nil }
            var unit = s.dropFirst(digits.count)
            var wordSize = 1
            if unit.hasSuffix("w") {
                wordSize = 8
                unit = unit.dropLast()
            } else if unit.hasSuffix("b") {
                unit = unit.dropLast()
            }
            let shift: Int
            switch unit {
            case "": shift = 0
            case "k": shift = 10
            case "m": shift = 20
            case "g": shift = 30
            case "t": shift = 40
            default: return nil
            }
            let bytes = Double(n) * Double(wordSize) * Double(1 << shift)
            let mb = (bytes / 1_048_576).rounded(.up)
            guard mb <= Double(Quantities.maxMemoryMB) else { return nil }
            return Int(mb)
        }
    }
}

/// POSIX shell word splitting without expansion: blanks separate words; single quotes,
/// double quotes (with `\"`, `\\`, `\$` and `` \` `` escapes) and backslashes quote.
public enum ShellWords {
    public struct Failure: Error {
        public var message: String

        public init(message: String) { self.message = message }
    }

    public static func split(_ text: String) throws(Failure) -> [String] {
        var words: [String] = []
        var current = ""
        var inWord = false
        var chars = text.makeIterator()
        while let ch = chars.next() {
            switch ch {
            case " ", "\t", "\n":
                if inWord { words.append(current); current = ""; inWord = false }
            case "'":
                inWord = true
                var closed = false
                while let c = chars.next() {
                    if c == "'" { closed = true; break }
                    current.append(c)
                }
                if !closed { throw Failure(message: "unterminated single quote") }
            case "\"":
                inWord = true
                var closed = false
                while let c = chars.next() {
                    if c == "\"" { closed = true; break }
                    if c == "\\" {
                        guard let n = chars.next() else { break }
                        if "\"\\$`".contains(n) { current.append(n) } else if n != "\n" { current.append(c); current.append(n) }
                        continue
                    }
                    current.append(c)
                }
                if !closed { throw Failure(message: "unterminated double quote") }
            case "\\":
                inWord = true
                if let n = chars.next(), n != "\n" { current.append(n) }
            default:
                inWord = true
                current.append(ch)
            }
        }
        if inWord { words.append(current) }
        return words
    }
}

/// Job identifiers as Torque's commands take them.
public enum PBSJobID {
    /// `42`, `42.server` or `42.server.domain` (the suffix is accepted and ignored: there is
    /// one server). Nil for anything else.
    public static func parse(_ text: String) -> Int64? {
        let trimmed = text.drop { $0 == " " }
        let digits = trimmed.prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, digits.count <= 18, let id = Int64(digits), id > 0 else { return nil }
        let rest = trimmed.dropFirst(digits.count)
        if rest.isEmpty { return id }
        guard rest.first == ".", rest.count > 1,
              rest.dropFirst().allSatisfy({ $0.isASCII && ($0.isLetter || $0.isNumber || $0 == "." || $0 == "-" || $0 == "_") })
        else { return nil }
        return id
    }

    /// Torque's `isjobid`: an operand whose first non-blank character is a digit is a job
    /// id; anything else is a destination (a queue).
    public static func looksLikeJobID(_ text: String) -> Bool {
        text.drop { $0 == " " }.first.map { $0.isASCII && $0.isNumber } ?? false
    }
}

/// POSIX/GNU-style option parsing as Torque's commands do it with getopt(3): clustered
/// flags (`-f1`), option arguments attached (`-qbatch`) or separate (`-q batch`), `--`
/// ends options. Operands may come between options (GNU permutation) unless
/// `stopAtOperand` is set.
public struct GetOpt {
    /// Option letters; a letter followed by `:` takes an argument.
    public let spec: String
    public var stopAtOperand = false

    public init(spec: String, stopAtOperand: Bool = false) {
        self.spec = spec
        self.stopAtOperand = stopAtOperand
    }

    public enum Item: Equatable, Sendable {
        case option(Character, String?)
        case operand(String)
    }

    public struct Failure: Error {
        public var message: String

        public init(message: String) { self.message = message }
    }

    public func parse(_ arguments: [String]) throws(Failure) -> [Item] {
        var takesArgument: [Character: Bool] = [:]
        let chars = Array(spec)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            let next = i + 1 < chars.count && chars[i + 1] == ":"
            takesArgument[c] = next
            i += next ? 2 : 1
        }
        var items: [Item] = []
        var index = 0
        var operandsOnly = false
        while index < arguments.count {
            let argument = arguments[index]
            index += 1
            if operandsOnly || argument == "-" || !argument.hasPrefix("-") {
                items.append(.operand(argument))
                if stopAtOperand { operandsOnly = true }
                continue
            }
            if argument == "--" {
                operandsOnly = true
                continue
            }
            var letters = Substring(argument.dropFirst())
            while let letter = letters.first {
                letters = letters.dropFirst()
                guard let needs = takesArgument[letter] else {
                    throw Failure(message: "invalid option -- '\(PBSText.clean(String(letter)))'")
                }
                if !needs {
                    items.append(.option(letter, nil))
                    continue
                }
                if !letters.isEmpty {
                    items.append(.option(letter, String(letters)))
                } else if index < arguments.count {
                    items.append(.option(letter, arguments[index]))
                    index += 1
                } else {
                    throw Failure(message: "option requires an argument -- '\(letter)'")
                }
                break
            }
        }
        return items
    }
}
