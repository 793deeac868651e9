/// Text made safe for XML element content and quoted attribute values: `&`, `<`, `>`, `"` and
/// `'` as entities. What `pbsnodes -x` and the `vbatch simulate` charts write; control
/// characters, which XML 1.0 forbids, are the caller's to remove.
public enum XMLText {
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}
