/// A minimal XML element tree that renders well-formed XML whatever its strings contain.
///
/// Text and attribute values are escaped (`& < > " '`, and tab, CR, LF in attribute values and
/// CR in text, so they survive parsing unchanged); characters XML 1.0 does not allow at all
/// (NUL, other C0 controls, U+FFFE, U+FFFF) make ``render()`` throw. Element and attribute names
/// must be plain XML names (ASCII letters, digits, `_ - .`, one optional `prefix:`).
public struct XMLElement: Sendable {
    public var name: String
    /// Attributes in the order they are rendered.
    public var attributes: [(String, String)]
    public var children: [XMLElement]
    /// Character data, rendered before the children.
    public var text: String?

    public init(_ name: String, attributes: [(String, String)] = [], text: String? = nil, children: [XMLElement] = []) {
        self.name = name
        self.attributes = attributes
        self.children = children
        self.text = text
    }

    /// The element as XML text (no XML declaration), children indented by two spaces.
    public func render() throws -> String {
        var output = ""
        try render(into: &output, depth: 0)
        return output
    }

    /// This element and its descendants with `prefix:` added to every name that has no prefix
    /// yet (attribute names are left alone: unprefixed attributes belong to no namespace).
    public func prefixed(_ prefix: String) -> XMLElement {
        var copy = self
        if !name.contains(":") {
            copy.name = "\(prefix):\(name)"
        }
        copy.children = children.map { $0.prefixed(prefix) }
        return copy
    }

    /// Renders with indentation when `depth` is non-nil; compactly (no added whitespace) inside
    /// mixed content, where whitespace would change the text.
    private func render(into output: inout String, depth: Int?) throws {
        try XMLElement.checkName(name)
        let indent = depth.map { String(repeating: "  ", count: $0) } ?? ""
        let newline = depth == nil ? "" : "\n"
        output += indent + "<" + name
        for (key, value) in attributes {
            try XMLElement.checkName(key)
            output += " \(key)=\""
            try XMLElement.escape(value, attribute: true, context: "attribute '\(key)' of <\(name)>", into: &output)
            output += "\""
        }
        if text == nil && children.isEmpty {
            output += "/>" + newline
            return
        }
        output += ">"
        if let text {
            try XMLElement.escape(text, attribute: false, context: "text of <\(name)>", into: &output)
            for child in children {
                try child.render(into: &output, depth: nil)
            }
        } else if let depth {
            output += "\n"
            for child in children {
                try child.render(into: &output, depth: depth + 1)
            }
            output += indent
        } else {
            for child in children {
                try child.render(into: &output, depth: nil)
            }
        }
        output += "</\(name)>" + newline
    }

    /// Throws unless `name` is `[A-Za-z_][A-Za-z0-9_.-]*`, optionally with one `prefix:` of the same form.
    static func checkName(_ name: String) throws {
        let parts = name.split(separator: ":", omittingEmptySubsequences: false)
        guard (1...2).contains(parts.count), parts.allSatisfy(isPlainName) else {
            throw XMLError.invalidName(name)
        }
    }

    static func isPlainName(_ name: Substring) -> Bool {
        guard let first = name.unicodeScalars.first, isNameStart(first) else { return false }
        return name.unicodeScalars.dropFirst().allSatisfy { isNameStart($0) || ("0"..."9").contains($0) || $0 == "-" || $0 == "." }
    }

    private static func isNameStart(_ scalar: Unicode.Scalar) -> Bool {
        ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar) || scalar == "_"
    }

    /// Whether XML 1.0 allows `scalar` anywhere in a document (production `Char`).
    static func isAllowed(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x9, 0xA, 0xD, 0x20...0xD7FF, 0xE000...0xFFFD, 0x10000...0x10FFFF: return true
        default: return false
        }
    }

    private static func escape(_ string: String, attribute: Bool, context: String, into output: inout String) throws {
        for scalar in string.unicodeScalars {
            switch scalar {
            case "&": output += "&amp;"
            case "<": output += "&lt;"
            case ">": output += "&gt;"
            case "\"": output += "&quot;"
            case "'": output += "&apos;"
            case "\r": output += "&#13;"  // parsers turn a literal CR into LF
            case "\n" where attribute: output += "&#10;"  // attribute-value normalisation: LF/tab become spaces
            case "\t" where attribute: output += "&#9;"
            default:
                guard isAllowed(scalar) else {
                    throw XMLError.invalidCharacter(scalar.value, context: context)
                }
                output.unicodeScalars.append(scalar)
            }
        }
    }
}

/// Why an ``XMLElement`` cannot be rendered.
public enum XMLError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Not a plain XML element or attribute name.
    case invalidName(String)
    /// A character XML 1.0 does not allow (e.g. NUL), with where it was found.
    case invalidCharacter(UInt32, context: String)

    public var description: String {
        switch self {
        case .invalidName(let name):
            return "not a valid XML name: \(name.debugDescription)"
        case .invalidCharacter(let value, let context):
            let hex = String(value, radix: 16, uppercase: true)
            return "character U+\(String(repeating: "0", count: max(0, 4 - hex.count)))\(hex) is not allowed in XML (\(context))"
        }
    }
}
