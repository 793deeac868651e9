import VBatchCore

/// A small, allocation-light JSON writer for the job list, the daemon's largest answer
/// (10,000 jobs must list in a few milliseconds). Its output decodes as `[JobInfo]`.
public struct JSONWriter {
    public private(set) var bytes: [UInt8] = []

    public init(capacity: Int = 4096) { bytes.reserveCapacity(capacity) }

    public mutating func raw(_ s: StaticString) {
        s.withUTF8Buffer { bytes.append(contentsOf: $0) }
    }

    public mutating func string(_ s: String) {
        bytes.append(UInt8(ascii: "\""))
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "\""): raw("\\\"")
            case UInt8(ascii: "\\"): raw("\\\\")
            case 0x0A: raw("\\n")
            case 0x0D: raw("\\r")
            case 0x09: raw("\\t")
            case 0..<0x20:
                let hex: [UInt8] = Array("0123456789abcdef".utf8)
                raw("\\u00")
                bytes.append(hex[Int(b >> 4)])
                bytes.append(hex[Int(b & 0xF)])
            default: bytes.append(b)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }

    public mutating func int<T: BinaryInteger>(_ v: T) {
        bytes.append(contentsOf: String(v).utf8)
    }

    public mutating func double(_ v: Double) {
        if v == v.rounded(), abs(v) < 1e15 { int(Int64(v)) } else { bytes.append(contentsOf: v.description.utf8) }
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
