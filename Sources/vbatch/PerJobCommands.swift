/// `vbatch submit`, `vbatch status` and `vbatch --version` on a plain command line, run without
/// ArgumentParser's reflection: the commands a CE runs once per job and once per poll (see
/// ``PlainArguments``).
enum PerJobCommands {
    /// The command `arguments` ask for, ready to run; nil when they are not plain or hold a
    /// usage error, so that ArgumentParser reads them and reports the error in its words.
    static func plain(_ arguments: [String]) -> (() throws -> Void)? {
        guard let name = arguments.first else { return nil }
        let rest = Array(arguments.dropFirst())
        switch name {
        case "--version" where rest.isEmpty:
            // What ArgumentParser prints for it; info providers ask for it on every poll.
            return { Output.print(VBatch.configuration.version + "\n") }
        case "submit":
            guard let job = SubmitJob(plain: rest), job.problem() == nil else { return nil }
            agree(job, rest) { try Submit.parse($0).job }
            return job.run
        case "status":
            guard let listing = StatusListing(plain: rest) else { return nil }
            agree(listing, rest) { try Status.parse($0).listing }
            return listing.run
        default:
            return nil
        }
    }

    /// Debug builds (the tests) read every plain command line with ArgumentParser too and
    /// stop if it reads something else: the plain reader must never change a command's meaning.
    private static func agree<T: Equatable>(_ plain: T, _ arguments: [String], _ parse: ([String]) throws -> T) {
        #if DEBUG
        let parsed: T
        do {
            parsed = try parse(arguments)
        } catch {
            fatalError("ArgumentParser rejects \(arguments) (\(error)), which the plain reader took as \(plain)")
        }
        precondition(parsed == plain, "ArgumentParser reads \(arguments) as \(parsed), the plain reader as \(plain)")
        #endif
    }
}
