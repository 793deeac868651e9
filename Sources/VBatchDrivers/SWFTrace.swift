import VBatchCore

/// A workload log in the Standard Workload Format (SWF) of the Parallel Workloads Archive,
/// read for trace replays (`vbatch simulate`, benchmark P7).
///
/// An SWF file is text: header comments (`; MaxNodes: 256`), other comments (any line
/// whose first non-blank character is `;`) and one line per job of 18 whitespace-separated
/// numbers, `-1` where the log does not know a value. Parsing never fails as a whole: a
/// line that is not a usable job is skipped and listed in ``skipped`` with its line number
/// and the reason — malformed lines, jobs that never ran (run time below 0: SWF's status 5,
/// cancelled before it started) and jobs with no processor count.
public struct SWFTrace: Sendable, Equatable {
    /// One job line: the 18 SWF fields in file order.
    public struct Job: Sendable, Equatable {
        /// Field 1: the job's number in the log.
        public var number: Int
        /// Field 2: seconds from the start of the log to the submission.
        public var submitTime: Double
        /// Field 3: seconds the job waited in the logged system (not used by replays).
        public var waitTime: Double
        /// Field 4: seconds the job ran.
        public var runTime: Double
        /// Field 5: processors the job was given.
        public var allocatedProcessors: Int
        /// Field 6: average CPU seconds per processor.
        public var averageCPUTime: Double
        /// Field 7: average memory used per processor, KB.
        public var usedMemoryKB: Double
        /// Field 8: processors the job asked for.
        public var requestedProcessors: Int
        /// Field 9: the run time the user asked for (the walltime request), seconds.
        public var requestedTime: Double
        /// Field 10: memory asked for per processor, KB.
        public var requestedMemoryKB: Double
        /// Field 11: 1 completed, 0 failed, 5 cancelled (others in some logs).
        public var status: Int
        /// Field 12: the user, a number.
        public var userID: Int
        /// Field 13: the user's group, a number.
        public var groupID: Int
        /// Field 14: the application, a number.
        public var executable: Int
        /// Field 15: the logged system's queue, a number.
        public var queue: Int
        /// Field 16: the logged system's partition, a number.
        public var partition: Int
        /// Field 17: the job this one waited for.
        public var precedingJob: Int
        /// Field 18: seconds between the end of ``precedingJob`` and this submission.
        public var thinkTime: Double
        /// The line of the file the job was read from (1-based).
        public var line: Int

        /// The job's width: allocated processors, else requested ones when the log has no allocation.
        public var processors: Int { allocatedProcessors > 0 ? allocatedProcessors : requestedProcessors }
    }

    /// A line that was not taken as a job.
    public struct SkippedLine: Sendable, Equatable, CustomStringConvertible {
        /// The categories of skipped lines (`rawValue` is how reports name them).
        public enum Kind: String, Sendable, CaseIterable {
            /// Not 18 numbers, or a count that is not a whole number.
            case malformed
            /// Run time below 0: the job never ran (SWF status 5, cancelled before it started).
            case neverRan = "never ran"
            /// Neither an allocated nor a requested processor count above 0.
            case noProcessors = "no processors"
        }

        /// 1-based line number in the file.
        public var line: Int
        /// Why the line was skipped, as a category.
        public var kind: Kind
        /// What is wrong with the line, e.g. `expected 18 fields, found 5`.
        public var reason: String

        /// `line N: REASON`.
        public var description: String { "line \(line): \(reason)" }
    }

    /// Header fields (`; Key: value` comment lines whose key is one word), e.g. `MaxNodes`;
    /// the values of a key given more than once (`Note`) are joined with newlines.
    public var header: [String: String]
    /// The usable jobs, in file order.
    public var jobs: [Job]
    /// Lines that were not taken as jobs, in file order.
    public var skipped: [SkippedLine]

    /// Number of fields on an SWF job line.
    public static let fieldCount = 18

    /// `MaxNodes` from the header, if present and a number.
    public var maxNodes: Int? { header["MaxNodes"].flatMap { Int($0) } }
    /// `MaxProcs` from the header, if present and a number.
    public var maxProcessors: Int? { header["MaxProcs"].flatMap { Int($0) } }

    /// Parses the text of an SWF file.
    public init(parsing text: String) {
        var text = text
        self = text.withUTF8 { Self(parsingUTF8: $0) }
    }

    /// Parses the bytes of an SWF file (UTF-8 or ASCII).
    public init(parsingUTF8 bytes: UnsafeBufferPointer<UInt8>) {
        header = [:]
        jobs = []
        skipped = []
        var fields: [Double] = []
        fields.reserveCapacity(Self.fieldCount)
        var lineNumber = 0
        var start = 0
        while start < bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n") { end += 1 }
            parseLine(bytes, start, end, line: lineNumber, fields: &fields)
            start = end + 1
        }
    }

    private mutating func parseLine(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, line: Int,
                                    fields: inout [Double]) {
        var i = start
        while i < end, Self.isBlank(bytes[i]) { i += 1 }
        guard i < end else { return }
        if bytes[i] == UInt8(ascii: ";") {
            readHeader(bytes, i + 1, end)
            return
        }
        fields.removeAll(keepingCapacity: true)
        var count = 0
        while i < end {
            let fieldStart = i
            while i < end, !Self.isBlank(bytes[i]) { i += 1 }
            count += 1
            if count <= Self.fieldCount {
                guard let value = Self.number(bytes, fieldStart, i) else {
                    let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[fieldStart..<min(i, fieldStart + 40)]),
                                      as: UTF8.self)
                    skip(line, .malformed, "field \(count) is not a number: \"\(text)\"")
                    return
                }
                fields.append(value)
            }
            while i < end, Self.isBlank(bytes[i]) { i += 1 }
        }
        guard count == Self.fieldCount else {
            skip(line, .malformed, "expected \(Self.fieldCount) fields, found \(count)")
            return
        }
        // Counts and identifiers are whole numbers; times and memory may have decimals.
        for f in [1, 5, 8, 11, 12, 13, 14, 15, 16, 17] where fields[f - 1] != fields[f - 1].rounded() {
            skip(line, .malformed, "field \(f) must be a whole number, found \(fields[f - 1])")
            return
        }
        for f in [1, 5, 8, 11, 12, 13, 14, 15, 16, 17] where abs(fields[f - 1]) > 1e15 {
            skip(line, .malformed, "field \(f) is out of range: \(fields[f - 1])")
            return
        }
        let job = Job(
            number: Int(fields[0]), submitTime: fields[1], waitTime: fields[2], runTime: fields[3],
            allocatedProcessors: Int(fields[4]), averageCPUTime: fields[5], usedMemoryKB: fields[6],
            requestedProcessors: Int(fields[7]), requestedTime: fields[8], requestedMemoryKB: fields[9],
            status: Int(fields[10]), userID: Int(fields[11]), groupID: Int(fields[12]), executable: Int(fields[13]),
            queue: Int(fields[14]), partition: Int(fields[15]), precedingJob: Int(fields[16]), thinkTime: fields[17],
            line: line)
        guard job.submitTime >= 0 else {
            skip(line, .malformed, "submit time \(Self.format(job.submitTime)) is negative")
            return
        }
        guard job.runTime >= 0 else {
            skip(line, .neverRan, "run time \(Self.format(job.runTime)): the job never ran (status \(job.status))")
            return
        }
        guard job.processors > 0 else {
            skip(line, .noProcessors, "no processor count (allocated \(job.allocatedProcessors), requested \(job.requestedProcessors))")
            return
        }
        jobs.append(job)
    }

    private mutating func skip(_ line: Int, _ kind: SkippedLine.Kind, _ reason: String) {
        skipped.append(SkippedLine(line: line, kind: kind, reason: reason))
    }

    /// `; Key: value` → header[Key] = value, for a one-word key.
    private mutating func readHeader(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) {
        let text = String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self)
        guard let colon = text.firstIndex(of: ":") else { return }
        let key = Self.trimmed(text[..<colon])
        guard !key.isEmpty, !key.contains(where: { $0 == " " || $0 == "\t" }) else { return }
        let value = Self.trimmed(text[text.index(after: colon)...])
        if let earlier = header[key] { header[key] = earlier + "\n" + value } else { header[key] = value }
    }

    private static func trimmed(_ text: Substring) -> String {
        var t = text
        while let c = t.first, c == " " || c == "\t" || c == "\r" { t.removeFirst() }
        while let c = t.last, c == " " || c == "\t" || c == "\r" { t.removeLast() }
        return String(t)
    }

    private static func isBlank(_ c: UInt8) -> Bool {
        c == UInt8(ascii: " ") || c == UInt8(ascii: "\t") || c == UInt8(ascii: "\r")
    }

    /// A decimal number: optional sign, digits, optional fraction. Whole numbers are read
    /// directly; others go through `Double(_:)`.
    private static func number(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Double? {
        var i = start
        var negative = false
        if i < end, bytes[i] == UInt8(ascii: "-") || bytes[i] == UInt8(ascii: "+") {
            negative = bytes[i] == UInt8(ascii: "-")
            i += 1
        }
        guard i < end else { return nil }
        var value: Int64 = 0
        var digits = 0
        while i < end, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            guard digits < 17 else { return nil }
            value = value * 10 + Int64(bytes[i] - UInt8(ascii: "0"))
            digits += 1
            i += 1
        }
        if i == end { return digits > 0 ? Double(negative ? -value : value) : nil }
        guard bytes[i] == UInt8(ascii: ".") else { return nil }
        i += 1
        var fractionDigits = 0
        while i < end, bytes[i] >= UInt8(ascii: "0"), bytes[i] <= UInt8(ascii: "9") {
            fractionDigits += 1
            i += 1
        }
        guard i == end, digits + fractionDigits > 0 else { return nil }
        return Double(String(decoding: UnsafeBufferPointer(rebasing: bytes[start..<end]), as: UTF8.self))
    }

    private static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int64(value)) : String(value)
    }
}

// MARK: - Replay

extension SWFTrace {
    /// How trace jobs become job requests on a site.
    public struct ReplayOptions: Sendable, Equatable {
        /// The queue every job is submitted to (a routing or an execution queue).
        public var queue: String
        /// A job without a requested time asks for its run time × this factor, rounded up
        /// to a whole minute (at least one).
        public var walltimeFactor: Double
        /// Jobs wider than this many cores are submitted with this many: a VM never spans
        /// nodes, and a trace from a parallel machine has jobs wider than any node. `nil`: as logged.
        public var maxCores: Int?
        /// The VO of every job; `nil`: the site's VO of user `u<uid>` or group `g<gid>`, if any.
        public var vo: String?

        public init(queue: String, walltimeFactor: Double = 1.5, maxCores: Int? = nil, vo: String? = nil) {
            self.queue = queue
            self.walltimeFactor = walltimeFactor
            self.maxCores = maxCores
            self.vo = vo
        }
    }

    /// Where trace jobs go when the caller names no queue: the site's first routing queue
    /// (the CE's entry point), else its first execution queue.
    public static func defaultQueue(in configuration: Configuration) -> String? {
        let routing = configuration.queues.first { if case .routing = $0 { true } else { false } }
        return (routing ?? configuration.queues.first)?.name
    }

    /// The walltime a job asks for: its requested time if the log has one (rounded up to a
    /// whole second), else its run time × `factor` rounded up to a whole minute, at least 60 s.
    public static func walltime(for job: Job, factor: Double) -> Int {
        if job.requestedTime > 0 { return Int(job.requestedTime.rounded(.up)) }
        let minutes = (job.runTime * factor / 60).rounded(.up)
        return max(60, Int(minutes) * 60)
    }

    /// The user name a job is submitted as: `u<uid>`; a job with no user id (-1) is its own
    /// user `job<number>`, so per-user limits do not treat an anonymous log as one user's work.
    public static func user(for job: Job) -> String {
        job.userID >= 0 ? "u\(job.userID)" : "job\(job.number)"
    }

    /// The trace's jobs as arrivals for ``SiteSimulation``: submitted at their submit time
    /// to `options.queue` with their processors as cores (clamped to `options.maxCores`),
    /// the walltime of ``walltime(for:factor:)``, the queue's default memory and
    /// environment, running for their logged run time. Status is not replayed: every job exits 0.
    ///
    /// - Parameter configuration: the site, for the VO of each user when `options.vo` is `nil`.
    public func arrivals(_ options: ReplayOptions, configuration: Configuration? = nil) -> [SiteSimulation.Arrival] {
        var voCache: [String: String?] = [:]
        return jobs.map { job in
            let cores = options.maxCores.map { min(job.processors, $0) } ?? job.processors
            let user = Self.user(for: job)
            var vo = options.vo
            if vo == nil, let configuration, !configuration.vos.isEmpty {
                let key = "\(user) \(job.groupID)"
                if let known = voCache[key] {
                    vo = known
                } else {
                    vo = configuration.vo(forUser: user, groups: job.groupID >= 0 ? ["g\(job.groupID)"] : [])
                    voCache[key] = vo
                }
            }
            return SiteSimulation.Arrival(
                time: job.submitTime,
                request: JobRequest(queue: options.queue, cores: cores,
                                    walltime: Self.walltime(for: job, factor: options.walltimeFactor)),
                user: user, vo: vo, runtime: job.runTime, traceID: job.number)
        }
    }

    /// Jobs wider than `maxCores` (the ones ``arrivals(_:configuration:)`` clamps).
    public func widerThan(_ maxCores: Int) -> Int {
        jobs.reduce(0) { $0 + ($1.processors > maxCores ? 1 : 0) }
    }
}
