import VBatchCore

/// A small, allocation-light JSON writer for the job list, the daemon's largest answer
/// (10,000 jobs must list in a few milliseconds). Its output decodes as `[JobInfo]`.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    /// Appends bytes that are already valid JSON.
    public mutating func bytes(_ b: UnsafeBufferPointer<UInt8>) {
        bytes.append(contentsOf: b)
    }

    public mutating func string(_ s: String) {
        var s = s
        s.withUTF8 { string(utf8: $0) }
    }

    /// A JSON string from raw UTF-8 (e.g. straight from an SQLite column).
    public mutating func string(utf8: UnsafeBufferPointer<UInt8>) {
        bytes.append(UInt8(ascii: "\""))
        // Most strings need no escaping: copy them whole.
        if utf8.contains(where: { $0 < 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "\\") }) {
            for b in utf8 { escape(b) }
        } else {
            bytes.append(contentsOf: utf8)
        }
        bytes.append(UInt8(ascii: "\""))
    }

    private mutating func escape(_ b: UInt8) {
        switch b {
        case UInt8(ascii: "\""): raw("\\\"")
        case UInt8(ascii: "\\"): raw("\\\\")
        case 0x0A: raw("\\n")
        case 0x0D: raw("\\r")
        case 0x09: raw("\\t")
        case 0..<0x20:
            raw("\\u00")
            bytes.append(Self.hex[Int(b >> 4)])
            bytes.append(Self.hex[Int(b & 0xF)])
        default: bytes.append(b)
        }
    }

    private static let hex: [UInt8] = Array("0123456789abcdef".utf8)

    public mutating func int<T: BinaryInteger>(_ v: T) {
        int(Int64(v))
    }

    /// The integer case itself, not generic: the job list calls it for every number of every row.
    public mutating func int(_ v: Int64) {
        var value = v
        if value < 0 {
            bytes.append(UInt8(ascii: "-"))
            guard value != .min else { bytes.append(contentsOf: "9223372036854775808".utf8); return }
            value = -value
        }
        // Digits into a small stack buffer, most significant first.
        withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buffer in
            var i = 20
            repeat {
                i -= 1
                buffer[i] = UInt8(ascii: "0") + UInt8(value % 10)
                value /= 10
            } while value > 0
            bytes.append(contentsOf: UnsafeBufferPointer(rebasing: buffer[i..<20]))
        }
    }

    /// Whole numbers print as integers; others with microsecond precision (times).
    public mutating func double(_ v: Double) {
        guard v.isFinite else { raw("null"); return }
        // Microseconds must fit an Int64; beyond that (no real time or duration is) Swift's own form.
        guard abs(v) < 9e12 else { bytes.append(contentsOf: String(v).utf8); return }
        let micros = Int64((v * 1_000_000).rounded())
        if micros % 1_000_000 == 0 { int(micros / 1_000_000); return }
        if micros < 0 { bytes.append(UInt8(ascii: "-")) }
        let m = abs(micros)
        int(m / 1_000_000)
        bytes.append(UInt8(ascii: "."))
        var fraction = m % 1_000_000
        var digits = [UInt8](repeating: UInt8(ascii: "0"), count: 6)
        for i in stride(from: 5, through: 0, by: -1) {
            digits[i] = UInt8(ascii: "0") + UInt8(fraction % 10)
            fraction /= 10
        }
        while digits.last == UInt8(ascii: "0") { digits.removeLast() }
        bytes.append(contentsOf: digits)
    }

    public mutating func job(_ j: JobInfo) {
        raw("{\"id\":"); int(j.id)
        raw(",\"name\":"); string(j.name)
        raw(",\"owner\":"); string(j.owner)
        if let vo = j.vo { raw(",\"vo\":"); string(vo) }
        raw(",\"submitQueue\":"); string(j.submitQueue)
        raw(",\"queue\":"); string(j.queue)
        raw(",\"environment\":"); string(j.environment)
        raw(",\"cores\":"); int(j.cores)
        raw(",\"memoryMB\":"); int(j.memoryMB)
        raw(",\"walltime\":"); int(j.walltime)
        raw(",\"state\":"); string(j.state.rawValue)
        raw(",\"submitTime\":"); double(j.submitTime)
        if let v = j.startTime { raw(",\"startTime\":"); double(v) }
        if let v = j.endTime { raw(",\"endTime\":"); double(v) }
        if let v = j.node { raw(",\"node\":"); string(v) }
        if let cpus = j.cpus {
            raw(",\"cpus\":[")
            for (i, c) in cpus.enumerated() {
                if i > 0 { raw(",") }
                int(c)
            }
            raw("]")
        }
        if let v = j.exitCode { raw(",\"exitCode\":"); int(v) }
        if let v = j.reason { raw(",\"reason\":"); string(v) }
        if let v = j.cpuTime { raw(",\"cpuTime\":"); double(v) }
        if let v = j.savedNode { raw(",\"savedNode\":"); string(v) }
        if let v = j.pausedSeconds { raw(",\"pausedSeconds\":"); double(v) }
        raw("}")
    }

    public static func jobs(_ jobs: [JobInfo]) -> [UInt8] {
        var w = JSONWriter(capacity: 64 + jobs.count * 320)
        w.raw("[")
        for (i, j) in jobs.enumerated() {
            if i > 0 { w.raw(",\n") }
            w.job(j)
        }
        w.raw("]\n")
        return w.bytes
    }
}
