/// A refusal the API reports to the client as one clear line and an HTTP status.
public enum EngineError: Error, Equatable, CustomStringConvertible {
    case badRequest(String)
    /// No identity, or one that does not hold (bad, expired or revoked token).
    case unauthenticated(String)
    case forbidden(String)
    case notFound(String)
    case conflict(String)
    case unavailable(String)

    public var description: String {
        switch self {
        case .badRequest(let m), .unauthenticated(let m), .forbidden(let m), .notFound(let m), .conflict(let m), .unavailable(let m): m
        }
    }

    public var httpStatus: Int {
        switch self {
        case .badRequest: 400
        case .unauthenticated: 401
        case .forbidden: 403
        case .notFound: 404
        case .conflict: 409
        case .unavailable: 503
        }
    }
}
