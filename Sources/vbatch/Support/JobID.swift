import ArgumentParser

/// Job ids on the command line: `42`, or PBS's `42.server` as a CE passes them.
enum JobID {
    static func parse(_ text: String) throws -> Int64 {
        let digits = text.prefix { $0 != "." }
        guard !digits.isEmpty, digits.count <= 18, digits.allSatisfy({ $0.isASCII && $0.isNumber }),
              let id = Int64(digits), id > 0
        else { throw ValidationError("'\(Table.clean(text, max: 40))' is not a job id (a positive number, e.g. 42)") }
        return id
    }
}
