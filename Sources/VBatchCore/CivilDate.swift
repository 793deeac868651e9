/// Conversions between days since 1970-01-01 and proleptic Gregorian dates (UTC), without
/// Foundation's calendars: for the CLI's times and accounting's months.
public enum CivilDate {
    /// Days since 1970-01-01 of a civil date (inverse of ``civil(fromDays:)``).
    public static func days(fromCivil year: Int64, _ month: Int, _ day: Int) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = Int64(month > 2 ? month - 3 : month + 9)
        let doy = (153 * mp + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian; H. Hinnant's algorithm).
    public static func civil(fromDays days: Int64) -> (Int64, Int, Int) {
        let z = days + 719_468
        let era = (z >= 0 ? z : z - 146_096) / 146_097
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = Int(doy - (153 * mp + 2) / 5 + 1)
        let m = Int(mp < 10 ? mp + 3 : mp - 9)
        return (yoe + era * 400 + (m <= 2 ? 1 : 0), m, d)
    }

    /// The day (since 1970-01-01) and the second within it of a Unix time; fractions are
    /// dropped, and times before 1970 fall on their own day, not the next.
    public static func day(ofEpochSeconds seconds: Double) -> (day: Int64, secondOfDay: Int) {
        let whole = Int64(seconds.rounded(.down))
        let day = whole >= 0 ? whole / 86_400 : (whole - 86_399) / 86_400
        return (day, Int(whole - day * 86_400))
    }

    /// `2026-11-21 23:54:40` (UTC) for seconds since the Unix epoch; fractions are dropped.
    public static func timestamp(ofEpochSeconds seconds: Double) -> String {
        let (days, secondOfDay) = day(ofEpochSeconds: seconds)
        let (y, m, d) = civil(fromDays: days)
        func two(_ v: Int) -> String { v < 10 ? "0\(v)" : "\(v)" }
        return "\(y)-\(two(m))-\(two(d)) \(two(secondOfDay / 3600)):\(two(secondOfDay / 60 % 60)):\(two(secondOfDay % 60))"
    }

    /// UTC year and month of a Unix time.
    public static func yearMonth(ofEpochSeconds seconds: Double) -> (year: Int, month: Int) {
        let (y, m, _) = civil(fromDays: day(ofEpochSeconds: seconds).day)
        return (Int(y), m)
    }
}
