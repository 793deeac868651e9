/// Why the image factory did not build an image. Every description is one line.
public enum FactoryError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The site's `[factory]` policy does not allow the recipe; one reason per problem.
    case refused(recipe: String, reasons: [String])
    /// A tool failed: what was being done, its exit status, its last lines of output.
    case tool(String, Int32, String)
    /// A file or directory could not be read or written.
    case io(String)
    /// Something the factory needs is not there (agent, glue, kernel, a tool, a base image).
    case missing(String)
    /// The recipe cannot be built as written (a size too small, a base that is not ext4, …).
    case invalid(String)

    public var description: String {
        switch self {
        case .refused(let recipe, let reasons):
            "recipe \(recipe) refused by the site's [factory] policy: " + reasons.joined(separator: "; ")
        case .tool(let what, let status, let tail):
            "\(what) failed" + (status >= 0 ? " (exit status \(status))" : "")
                + (Self.lastLine(tail).map { ": \($0)" } ?? "")
        case .io(let message), .missing(let message), .invalid(let message):
            message
        }
    }

    /// The tool's last lines of output, for a verbose report.
    public var details: String? {
        if case .tool(_, _, let tail) = self, !tail.isEmpty { return tail }
        return nil
    }

    private static func lastLine(_ text: String) -> String? {
        text.split(separator: "\n").last { !$0.allSatisfy(\.isWhitespace) }
            .map { String($0.trimmingPrefix(while: \.isWhitespace).prefix(400)) }
    }
}
