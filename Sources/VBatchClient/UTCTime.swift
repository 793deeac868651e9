import VBatchCore

/// Human-readable UTC times without Foundation's calendar machinery (and its ICU).
public enum UTCTime {
    /// `2026-11-21 23:54:40` for seconds since the Unix epoch (fractions are dropped); `-` for
    /// values that are not finite or beyond year 9999.
    public static func format(_ epochSeconds: Double) -> String {
        guard epochSeconds.isFinite, abs(epochSeconds) < 253_402_300_800 else { return "-" }
        return CivilDate.timestamp(ofEpochSeconds: epochSeconds)
    }

    /// A point in time as a user writes it on the command line, or nil:
    /// - `2026-11-01`, `2026-11-01 12:30`, `2026-11-01T12:30:05Z`: UTC;
    /// - `1762000000`: seconds since the Unix epoch;
    /// - `7d`, `12h`, `1d12h`, `90m`: that long before `now`.
    public static func parse(_ text: String, now: Double) -> Double? {
        var trimmed = Substring(text)
        while trimmed.first == " " { trimmed.removeFirst() }
        while trimmed.last == " " { trimmed.removeLast() }
        let t = String(trimmed)
        if !t.isEmpty, t.allSatisfy(\.isASCII), t.allSatisfy(\.isNumber) { return Double(t) }
        if let date = parseDate(t) { return date }
        if t.contains(where: \.isLetter), let seconds = Quantities.parseWalltime(t) { return now - Double(seconds) }
        return nil
    }

    /// `YYYY-MM-DD` with an optional ` HH:MM[:SS]` or `THH:MM[:SS]`, and an optional `Z`.
    private static func parseDate(_ text: String) -> Double? {
        var t = Substring(text)
        if t.hasSuffix("Z") { t = t.dropLast() }
        let parts = t.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "T" || $0 == " " })
        guard parts.count == 1 || parts.count == 2 else { return nil }
        let date = parts[0].split(separator: "-", omittingEmptySubsequences: false).map { Int($0) }
        guard date.count == 3, parts[0].count == 10, let y = date[0], let m = date[1], let d = date[2],
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        var secondOfDay = 0
        if parts.count == 2 {
            let clock = parts[1].split(separator: ":", omittingEmptySubsequences: false).map { Int($0) }
            guard clock.count == 2 || clock.count == 3, clock.allSatisfy({ $0 != nil }) else { return nil }
            let (h, mi, s) = (clock[0]!, clock[1]!, clock.count == 3 ? clock[2]! : 0)
            guard (0...23).contains(h), (0...59).contains(mi), (0...59).contains(s) else { return nil }
            secondOfDay = h * 3600 + mi * 60 + s
        }
        let days = CivilDate.days(fromCivil: Int64(y), m, d)
        guard CivilDate.civil(fromDays: days) == (Int64(y), m, d) else { return nil }  // e.g. 2026-02-30
        return Double(days * 86_400 + Int64(secondOfDay))
    }
}
