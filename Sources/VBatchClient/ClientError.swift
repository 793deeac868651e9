/// Anything that went wrong talking to vbatchd, as one line a user can act on.
public struct ClientError: Error, CustomStringConvertible, Sendable, Equatable {
    public enum Kind: Sendable, Equatable {
        /// The socket could not be reached (missing, refused, no permission, path too long).
        case connect
        /// The connection broke or timed out after it was established.
        case transport
        /// The daemon's answer was not valid HTTP.
        case badResponse
        /// The daemon answered with a non-2xx status; see ``ClientError/status``.
        case server
        /// A 2xx answer whose JSON did not match the expected type.
        case decoding
        /// The caller asked for something that cannot be sent (bad method or path).
        case invalidRequest
    }

    public var kind: Kind
    /// The whole message, a single line.
    public var message: String
    /// The HTTP status for ``Kind/server`` errors.
    public var status: Int?

    public init(_ kind: Kind, _ message: String, status: Int? = nil) {
        self.kind = kind
        self.message = Self.oneLine(message)
        self.status = status
    }

    public var description: String { message }

    /// `text` with control characters (newlines, escapes) replaced by spaces and cut to 1,000
    /// characters, so a hostile or verbose message stays one harmless line.
    public static func oneLine(_ text: String) -> String {
        var out = ""
        var count = 0
        for scalar in text.unicodeScalars {
            if count == 1000 {
                out += "…"
                break
            }
            let v = scalar.value
            out.unicodeScalars.append(v < 32 || (v >= 127 && v < 160) ? " " : scalar)
            count += 1
        }
        return out
    }
}
