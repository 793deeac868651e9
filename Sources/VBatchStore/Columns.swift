import Foundation
import GRDB
import VBatchCore

/// How values that are not plain SQL scalars are stored in columns.
enum Columns {
    /// CPU ids as `"2,3"`.
    static func encodeCPUs(_ cpus: [Int]) -> String {
        cpus.map(String.init).joined(separator: ",")
    }

    /// Parses `"2,3"`; nil for anything malformed.
    static func decodeCPUs(_ text: String) -> [Int]? {
        var result: [Int] = []
        var value = 0
        var digits = 0
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                value = value &* 10 &+ Int(byte &- UInt8(ascii: "0"))
                digits += 1
                if digits > 9 { return nil }
            case UInt8(ascii: ","):
                if digits == 0 { return nil }
                result.append(value)
                value = 0
                digits = 0
            default:
                return nil
            }
        }
        if digits > 0 {
            result.append(value)
        } else if !result.isEmpty {
            return nil  // trailing comma
        }
        return result
    }

    static func encodeJSON(_ value: some Encodable) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(value), as: UTF8.self)
    }

    static func decodeJSON<T: Decodable>(_ type: T.Type, _ text: String) throws -> T {
        try JSONDecoder().decode(type, from: Data(text.utf8))
    }

    static func state(_ raw: String, job id: Int64) throws -> JobState {
        guard let state = JobState(rawValue: raw) else {
            throw StoreError.corruptRow("job \(id) has unknown state \"\(raw)\"")
        }
        return state
    }

    static func cpus(_ text: String?, job id: Int64) throws -> [Int]? {
        guard let text else { return nil }
        guard let cpus = decodeCPUs(text) else {
            throw StoreError.corruptRow("job \(id) has malformed cpus \"\(text)\"")
        }
        return cpus
    }

    /// SQLite binds text up to the first NUL, so text that must survive intact cannot hold one.
    static func hasNUL(_ text: String) -> Bool {
        text.utf8.contains(0)
    }

    /// Text where a NUL would be cut anyway (reasons): NULs become U+FFFD.
    static func withoutNUL(_ text: String) -> String {
        hasNUL(text) ? text.replacingOccurrences(of: "\0", with: "\u{FFFD}") : text
    }
}

/// Shares the storage of repeated long strings (owner, queue, environment, node names)
/// while loading many rows, so a million jobs of one user hold one copy of its name.
/// Strings of up to 15 UTF-8 bytes are stored inline by Swift and are left alone.
struct StringInterner {
    private var table: [String: String] = [:]

    mutating func callAsFunction(_ text: String) -> String {
        if text.utf8.count <= 15 { return text }
        if let shared = table[text] { return shared }
        table[text] = text
        return text
    }
}
