import CLibvirt

/// An error from libvirt, or from the wrapper around it (timeout, not connected, closed).
///
/// Errors that libvirt reports carry libvirt's own `code` (`virErrorNumber`) and `domain`
/// (`virErrorDomain`) and message. They are read with `virCopyLastError` on the thread that made
/// the failing call, right after it failed.
public struct LibvirtError: Error, Sendable, CustomStringConvertible {
    /// Where the error comes from.
    public enum Kind: Sendable, Equatable {
        /// libvirt reported it; `code`, `domain` and `message` are libvirt's.
        case libvirt
        /// The call did not finish within the connection's call timeout (libvirtd may be hung).
        case timeout
        /// The connection is down and being re-established; nothing was sent to libvirt.
        case notConnected
        /// The connection was closed with ``LibvirtConnection/close()``.
        case closed
    }

    public let kind: Kind
    /// libvirt's `virErrorNumber` (`VIR_ERR_*`); for wrapper errors, the closest libvirt code.
    public let code: Int32
    /// libvirt's `virErrorDomain` (`VIR_FROM_*`); `VIR_FROM_NONE` (0) for wrapper errors.
    public let domain: Int32
    public let message: String
    /// The libvirt function (or wrapper operation) that failed, e.g. `virDomainCreateXML`.
    public let operation: String

    public init(kind: Kind = .libvirt, code: Int32, domain: Int32, message: String, operation: String = "") {
        self.kind = kind
        self.code = code
        self.domain = domain
        self.message = message
        self.operation = operation
    }

    /// The call `operation` gave up after `seconds`.
    public static func timeout(operation: String, seconds: Double) -> LibvirtError {
        LibvirtError(kind: .timeout, code: Int32(VIR_ERR_OPERATION_TIMEOUT.rawValue), domain: 0,
                     message: "no answer from libvirt within \(formatSeconds(seconds)) s", operation: operation)
    }

    static func notConnected(uri: String, operation: String) -> LibvirtError {
        LibvirtError(kind: .notConnected, code: Int32(VIR_ERR_NO_CONNECT.rawValue), domain: 0,
                     message: "not connected to \(uri) (reconnecting)", operation: operation)
    }

    static func closed(uri: String, operation: String) -> LibvirtError {
        LibvirtError(kind: .closed, code: Int32(VIR_ERR_NO_CONNECT.rawValue), domain: 0,
                     message: "connection to \(uri) is closed", operation: operation)
    }

    /// Reads (and clears) libvirt's last error on the calling thread. Call it on the thread that
    /// made the failing call, immediately after the call returned its failure value.
    static func last(operation: String) -> LibvirtError {
        var error = virError()
        defer {
            virResetError(&error)
            virResetLastError()
        }
        guard virCopyLastError(&error) > 0 || error.code != 0 || error.message != nil else {
            return LibvirtError(code: Int32(VIR_ERR_INTERNAL_ERROR.rawValue), domain: 0,
                                message: "libvirt reported failure without an error", operation: operation)
        }
        let message = error.message.map { String(cString: $0) } ?? "unknown libvirt error"
        return LibvirtError(code: error.code, domain: error.domain, message: message, operation: operation)
    }

    /// The call gave up waiting for libvirt (``Kind/timeout``).
    public var isTimeout: Bool { kind == .timeout }

    /// libvirt has no such domain (`VIR_ERR_NO_DOMAIN`): it was destroyed or never existed.
    public var isNoDomain: Bool { kind == .libvirt && code == Int32(VIR_ERR_NO_DOMAIN.rawValue) }

    /// The domain has no metadata in the requested namespace (`VIR_ERR_NO_DOMAIN_METADATA`).
    public var isNoDomainMetadata: Bool { kind == .libvirt && code == Int32(VIR_ERR_NO_DOMAIN_METADATA.rawValue) }

    /// The domain is not running (`VIR_ERR_OPERATION_INVALID`, e.g. destroy of a stopped domain).
    public var isOperationInvalid: Bool { kind == .libvirt && code == Int32(VIR_ERR_OPERATION_INVALID.rawValue) }

    /// The connection to libvirtd is down, or the error says it broke (closed socket, EOF,
    /// invalid connection). The connection reconnects on its own; retry after `.reconnected`.
    public var isConnectionError: Bool {
        switch kind {
        case .notConnected, .closed: return true
        case .timeout: return false
        case .libvirt:
            if code == Int32(VIR_ERR_NO_CONNECT.rawValue) || code == Int32(VIR_ERR_INVALID_CONN.rawValue) {
                return true
            }
            let transport = domain == Int32(VIR_FROM_RPC.rawValue) || domain == Int32(VIR_FROM_REMOTE.rawValue)
            let broken = code == Int32(VIR_ERR_SYSTEM_ERROR.rawValue) || code == Int32(VIR_ERR_INTERNAL_ERROR.rawValue)
                || code == Int32(VIR_ERR_RPC.rawValue)
            return transport && broken
        }
    }

    public var description: String {
        let prefix = operation.isEmpty ? "" : "\(operation): "
        switch kind {
        case .libvirt: return "\(prefix)\(message) (libvirt error \(code), domain \(domain))"
        case .timeout, .notConnected, .closed: return "\(prefix)\(message)"
        }
    }
}

private func formatSeconds(_ seconds: Double) -> String {
    seconds == seconds.rounded() ? String(Int(seconds)) : String(seconds)
}

extension Duration {
    /// The duration in seconds, for messages.
    var seconds: Double {
        let (s, attoseconds) = components
        return Double(s) + Double(attoseconds) / 1e18
    }
}
