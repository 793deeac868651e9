import Foundation

/// One figure of DESIGN.md's targets table.
struct Figure {
    var key: String
    var value: Double
    var unit: String
    var target: Double
    /// true when smaller is better (times, memory).
    var lowerIsBetter: Bool
    var note: String = ""

    var met: Bool { lowerIsBetter ? value <= target : value >= target }
}

enum Stats {
    static func median(_ xs: [Double]) -> Double {
        let s = xs.sorted()
        guard !s.isEmpty else { return .nan }
        return s.count % 2 == 1 ? s[s.count / 2] : (s[s.count / 2 - 1] + s[s.count / 2]) / 2
    }
}

/// Monotonic seconds.
func monotonic() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

func measure(_ body: () throws -> Void) rethrows -> Double {
    let start = monotonic()
    try body()
    return monotonic() - start
}

func log(_ message: String) {
    FileHandle.standardError.write(Data("vbatch-bench: \(message)\n".utf8))
}
