/// Host CPU lists as Linux writes them: `"0-3,6,8-9"`.
enum CPUList {
    /// Highest CPU id accepted.
    static let maxCPU = 65_535

    /// The CPUs in the order written, or a message saying what is wrong.
    static func parse(_ text: String) -> Result<[Int], CPUListError> {
        var cpus: [Int] = []
        var seen = Set<Int>()
        let items = text.split(separator: ",", omittingEmptySubsequences: false)
        for item in items {
            let item = item.trimmed(of: " \t")
            let bounds = item.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(bounds.count),
                  let low = number(bounds[0]), let high = number(bounds[bounds.count - 1]) else {
                return .failure(CPUListError(message: "\"\(item)\" is not a CPU or a range like 0-3 (write e.g. \"0-3,6\")"))
            }
            guard low <= high else {
                return .failure(CPUListError(message: "range \(item) runs backwards"))
            }
            for cpu in low...high {
                guard seen.insert(cpu).inserted else {
                    return .failure(CPUListError(message: "CPU \(cpu) is listed twice"))
                }
                cpus.append(cpu)
            }
        }
        return .success(cpus)
    }

    private static func number(_ text: Substring) -> Int? {
        guard !text.isEmpty, text.count <= 6, text.allSatisfy({ $0.isASCII && $0.isNumber }),
              let value = Int(text), value <= maxCPU else { return nil }
        return value
    }
}

struct CPUListError: Error {
    var message: String
}

private extension Substring {
    func trimmed(of set: String) -> Substring {
        var s = self
        while let f = s.first, set.contains(f) { s.removeFirst() }
        while let l = s.last, set.contains(l) { s.removeLast() }
        return s
    }
}
