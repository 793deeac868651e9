/// A job's output that could not be written into its spool directory on the daemon's host
/// (its filesystem full, or the directory unusable): the payload ran, what it left is lost.
/// Drivers report it as ``JobOutcome/outputNotStored(exitCode:reason:)``.
public struct SpoolWriteError: Error, Sendable, CustomStringConvertible {
    public var description: String

    public init(_ description: String) {
        self.description = description
    }
}
