import Foundation
import VBatchCore

/// Files of hundreds of MiB (disk images) are hashed by coreutils' `sha256sum`, much faster
/// than ``SHA256/hex(_:)-(Bytes)`` in Swift.
extension SHA256 {
    /// Lowercase hex digest of a file, by `sha256sum` (fast for disk images).
    public static func file(_ path: String) throws -> String {
        let result = try Command.run("/usr/bin/sha256sum", ["--", path])
        let digest = String(result.output.prefix(64))
        guard result.status == 0, digest.count == 64, digest.allSatisfy(\.isHexDigit) else {
            throw FactoryError.tool("sha256sum \(path)", result.status, result.tail)
        }
        return digest
    }
}
