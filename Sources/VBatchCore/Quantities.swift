/// Parsing and printing of the quantities users type: walltimes and memory sizes.
///
/// Accepted walltimes: `3600` (seconds), `90s`, `45m`, `2h`, `1d`, combinations such as
/// `1h30m`, and PBS's `[[HH:]MM:]SS`. Accepted memory: `512` (MiB), `512mb`, `2gb`, `2G`,
/// `1tb`, `4096kb`. Both refuse anything else rather than guessing.
public enum Quantities {
    /// Largest walltime accepted anywhere: 366 days.
    public static let maxWalltime = 366 * 86_400
    /// Largest memory accepted anywhere: 64 TiB in MiB.
    public static let maxMemoryMB = 64 * 1024 * 1024

    public static func parseWalltime(_ text: String) -> Int? {
        let s = text.trimmingWhitespace().lowercased()
        guard !s.isEmpty, s.count <= 32 else { return nil }
        if s.contains(":") {
            let parts = s.split(separator: ":", omittingEmptySubsequences: false)
            guard parts.count <= 3, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) else { return nil }
            var total = 0
            for part in parts {
                guard let v = Int(part), v < 1_000_000 else { return nil }
                total = total * 60 + v
            }
            return total <= maxWalltime ? total : nil
        }
        var total = 0
        var number = ""
        var sawUnit = false
        for ch in s {
            if ch.isASCIIDigit {
                number.append(ch)
                continue
            }
            let unit: Int
            switch ch {
            case "s": unit = 1
            case "m": unit = 60
            case "h": unit = 3600
            case "d": unit = 86_400
            default: return nil
            }
            guard let v = Int(number), v < 100_000_000 else { return nil }
            total += v * unit
            number = ""
            sawUnit = true
        }
        if !number.isEmpty {
            guard !sawUnit, let v = Int(number) else { return nil }
            total = v
        }
        return total <= maxWalltime ? total : nil
    }

    public static func parseMemoryMB(_ text: String) -> Int? {
        let s = text.trimmingWhitespace().lowercased()
        guard !s.isEmpty, s.count <= 24 else { return nil }
        let digits = s.prefix(while: \.isASCIIDigit)
        guard !digits.isEmpty, let value = Int(digits), value < 1 << 40 else { return nil }
        let unit = s.dropFirst(digits.count)
        let mb: Int
        switch unit {
        case "", "m", "mb", "mib": mb = value
        case "k", "kb", "kib": mb = (value + 1023) / 1024
        case "g", "gb", "gib": mb = value * 1024
        case "t", "tb", "tib": mb = value * 1024 * 1024
        default: return nil
        }
        return mb <= maxMemoryMB ? mb : nil
    }

    /// `2h`, `1h30m`, `45s`, `0s`: the shortest exact form.
    public static func formatWalltime(_ seconds: Int) -> String {
        if seconds == 0 { return "0s" }
        var rest = seconds
        var out = ""
        for (unit, suffix) in [(86_400, "d"), (3600, "h"), (60, "m"), (1, "s")] where rest >= unit {
            out += "\(rest / unit)\(suffix)"
            rest %= unit
        }
        return out
    }

    /// PBS's `HH:MM:SS`.
    public static func formatHMS(_ seconds: Int) -> String {
        let s = max(0, seconds)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(two(s / 3600)):\(two(s / 60 % 60)):\(two(s % 60))"
    }

    public static func formatMemory(_ mb: Int) -> String {
        if mb >= 1024, mb % 1024 == 0 { return "\(mb / 1024)gb" }
        return "\(mb)mb"
    }
}

extension Character {
    var isASCIIDigit: Bool { ("0"..."9").contains(self) }
}

extension String {
    func trimmingWhitespace() -> String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s.removeFirst() }
        while let l = s.last, l.isWhitespace { s.removeLast() }
        return String(s)
    }
}
