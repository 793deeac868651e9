#if canImport(Glibc)
import Glibc
#endif
import Logging

/// One log entry and its two line encodings, logfmt and JSON.
public struct LogEntry: Sendable {
    /// RFC 3339 in UTC with milliseconds: `2026-12-06T08:00:00.123Z`.
    public var time: String
    public var level: Logger.Level
    public var label: String
    public var message: String
    /// The module that logged (swift-log's `source`).
    public var source: String
    public var metadata: Logger.Metadata

    public init(time: String, level: Logger.Level, label: String, message: String, source: String,
                metadata: Logger.Metadata = [:]) {
        self.time = time
        self.level = level
        self.label = label
        self.message = message
        self.source = source
        self.metadata = metadata
    }

    /// The fields every line starts with; metadata keys equal to one of them get a `metadata.` prefix.
    static let reserved: Set<String> = ["time", "level", "label", "msg", "source"]

    /// `time=… level=… label=… msg=… key=value…`; metadata keys sorted, nested dictionaries as dotted keys.
    public var logfmt: String {
        var fields: [(String, String)] = [("time", time), ("level", level.rawValue), ("label", label), ("msg", message)]
        for (key, value) in Self.flatten(metadata) {
            fields.append((Self.reserved.contains(key) ? "metadata." + key : key, value))
        }
        return fields.map { Self.logfmtKey($0.0) + "=" + Self.logfmtValue($0.1) }.joined(separator: " ")
    }

    /// `{"time":…,"level":…,"label":…,"msg":…,"source":…,KEY:VALUE…}`; lists and dictionaries stay JSON arrays and objects.
    public var json: String {
        var out = "{\"time\":" + Self.jsonString(time) + ",\"level\":" + Self.jsonString(level.rawValue)
            + ",\"label\":" + Self.jsonString(label) + ",\"msg\":" + Self.jsonString(message)
            + ",\"source\":" + Self.jsonString(source)
        for key in metadata.keys.sorted() {
            let name = Self.reserved.contains(key) ? "metadata." + key : key
            out += "," + Self.jsonString(name) + ":" + Self.json(metadata[key]!)
        }
        return out + "}"
    }

    // MARK: logfmt

    /// A value as logfmt writes it: bare when it is non-empty and holds no space, `=`, `"`,
    /// backslash or control character; otherwise quoted with `\"`, `\\`, `\n`, `\r`, `\t`
    /// and `\u00XX` escapes. Other Unicode stays as it is (UTF-8).
    public static func logfmtValue(_ value: String) -> String {
        let needsQuotes = value.isEmpty || value.unicodeScalars.contains {
            $0 == " " || $0 == "=" || $0 == "\"" || $0 == "\\" || $0.value < 0x20 || $0.value == 0x7F
                || $0.properties.generalCategory == .spaceSeparator
        }
        return needsQuotes ? "\"" + escaped(value) + "\"" : value
    }

    /// A key as logfmt allows it: characters other than letters, digits and `_.-/:` become `_`.
    static func logfmtKey(_ key: String) -> String {
        guard !key.isEmpty else { return "_" }
        return String(String.UnicodeScalarView(key.unicodeScalars.map { scalar in
            let allowed = (scalar.properties.isAlphabetic || scalar.properties.numericType != nil
                || "_.-/:".unicodeScalars.contains(scalar)) && scalar.value > 0x20
            return allowed ? scalar : "_"
        }))
    }

    /// Metadata as (dotted key, text) pairs in key order; lists as `[a, b]`.
    static func flatten(_ metadata: Logger.Metadata, prefix: String = "") -> [(String, String)] {
        metadata.keys.sorted().flatMap { key -> [(String, String)] in
            switch metadata[key]! {
            case .dictionary(let nested): flatten(nested, prefix: prefix + key + ".")
            case let value: [(prefix + key, value.description)]
            }
        }
    }

    // MARK: JSON

    /// A JSON string literal: `"` and `\` escaped, control characters as `\n`, `\t`, … or `\u00XX`.
    public static func jsonString(_ value: String) -> String { "\"" + escaped(value) + "\"" }

    static func json(_ value: Logger.Metadata.Value) -> String {
        switch value {
        case .string(let s): jsonString(s)
        case .stringConvertible(let c): jsonString(c.description)
        case .array(let items): "[" + items.map(json).joined(separator: ",") + "]"
        case .dictionary(let d): "{" + d.keys.sorted().map { jsonString($0) + ":" + json(d[$0]!) }.joined(separator: ",") + "}"
        }
    }

    /// The escapes logfmt's quoted values and JSON strings share.
    static func escaped(_ value: String) -> String {
        var out = ""
        out.reserveCapacity(value.utf8.count)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if scalar.value < 0x20 || scalar.value == 0x7F {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out
    }

    // MARK: time

    /// The current time as RFC 3339 UTC with milliseconds.
    static func now() -> String {
        var spec = timespec()
        clock_gettime(CLOCK_REALTIME, &spec)
        return format(seconds: spec.tv_sec, milliseconds: Int(spec.tv_nsec / 1_000_000))
    }

    /// `seconds` since 1970 and milliseconds as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
    static func format(seconds: Int, milliseconds: Int) -> String {
        var t = time_t(seconds)
        var parts = tm()
        gmtime_r(&t, &parts)
        func pad(_ n: Int32, _ width: Int) -> String {
            let s = String(n)
            return String(repeating: "0", count: max(0, width - s.count)) + s
        }
        return pad(parts.tm_year + 1900, 4) + "-" + pad(parts.tm_mon + 1, 2) + "-" + pad(parts.tm_mday, 2)
            + "T" + pad(parts.tm_hour, 2) + ":" + pad(parts.tm_min, 2) + ":" + pad(parts.tm_sec, 2)
            + "." + pad(Int32(milliseconds), 3) + "Z"
    }
}
