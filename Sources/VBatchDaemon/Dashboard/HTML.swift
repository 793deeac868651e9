import Foundation
import VBatchCore

/// Small helpers for the dashboard's server-rendered HTML: escaping, times, colours.
enum HTML {
    /// Escapes text for element content and quoted attribute values.
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(c)
            }
        }
        return out
    }

    /// Percent-encodes a query value.
    static func query(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-_.~"))) ?? ""
    }

    /// `2026-12-06 08:15:02 UTC`, or a dash.
    static func time(_ seconds: Double?) -> String {
        guard let seconds else { return "–" }
        return CivilDate.timestamp(ofEpochSeconds: seconds) + " UTC"
    }

    /// `3 s`, `4 min 10 s`, `2 h 05 min`, `3 d 4 h`.
    static func duration(_ seconds: Double?) -> String {
        guard let seconds, seconds.isFinite else { return "–" }
        let s = Int(max(0, seconds.rounded()))
        if s < 60 { return "\(s) s" }
        if s < 3600 { return "\(s / 60) min \(s % 60) s" }
        if s < 86400 { return "\(s / 3600) h \(String(format: "%02d", (s % 3600) / 60)) min" }
        return "\(s / 86400) d \((s % 86400) / 3600) h"
    }

    /// Colours of VOs, in the order the site file defines them (`vo` index 1, 2, …); jobs of
    /// no VO are grey. Chosen to stay apart from each other and from the grey.
    static let palette = ["#2f6fdf", "#e0712c", "#2a9d5b", "#c23b5a", "#8a5cd0", "#c9a227", "#1aa3b5", "#d6589a",
                          "#5f7d2e", "#7a4b2a"]
    static let noVOColour = "#8c939d"

    static func colour(vo: String?, configuration: Configuration) -> String {
        guard let vo, !vo.isEmpty, let index = configuration.vos.firstIndex(where: { $0.name == vo }) else { return noVOColour }
        return palette[index % palette.count]
    }

    /// A coloured badge for a job state.
    static func stateBadge(_ state: String) -> String {
        "<span class=\"badge state-\(escape(state))\">\(escape(state))</span>"
    }
}
