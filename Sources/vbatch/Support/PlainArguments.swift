/// A per-job command line (`vbatch submit …`, `vbatch status …`) read without ArgumentParser,
/// when it holds only plain forms.
///
/// A CE runs one `vbatch` process per job and per poll. ArgumentParser builds its picture of a
/// command by reflecting over the command's properties, and in a process that lives a few
/// milliseconds that reflection (generic metadata, protocol-conformance scans) was a third of
/// the CPU. ArgumentParser stays the definition of every command: help, completions, manual
/// pages and every error message come from it. This reader takes only what it cannot get
/// wrong (known options as `--name VALUE`, `--name=VALUE`, `-n VALUE`, flags, positionals, `--`)
/// and returns nil for anything else, which then goes to ArgumentParser. Debug builds parse
/// every plain command line both ways and stop if the two disagree (see `PerJobCommands`).
struct PlainArguments {
    /// One option of the command.
    struct Option {
        /// Its spellings, e.g. `["-q", "--queue"]`.
        let names: [String]
        /// Whether it takes a value (else it is a flag).
        let takesValue: Bool
        /// Whether it may be given more than once (values accumulate).
        let repeatable: Bool

        static func flag(_ names: String...) -> Option { Option(names: names, takesValue: false, repeatable: false) }
        static func value(_ names: String...) -> Option { Option(names: names, takesValue: true, repeatable: false) }
        static func values(_ names: String...) -> Option { Option(names: names, takesValue: true, repeatable: true) }
    }

    /// Values given for each option that takes one, keyed by the option's last spelling.
    private(set) var values: [String: [String]] = [:]
    /// Flags given, by their last spelling.
    private(set) var flags: Set<String> = []
    /// Positional arguments before `--`.
    private(set) var positionals: [String] = []
    /// Everything after `--`, when the command takes it.
    private(set) var afterTerminator: [String] = []

    /// Nil unless every argument is one of the plain forms, no single-valued option or flag
    /// is repeated, and at most `maxPositionals` positionals come before `--`.
    init?(_ arguments: [String], options: [Option], maxPositionals: Int, takesTerminator: Bool) {
        var i = 0
        while i < arguments.count {
            let token = arguments[i]
            i += 1
            if token == "--" {
                guard takesTerminator else { return nil }
                afterTerminator = Array(arguments[i...])
                return
            }
            guard token.utf8.first == UInt8(ascii: "-"), token != "-" else {
                guard positionals.count < maxPositionals else { return nil }
                positionals.append(token)
                continue
            }
            var name = token
            var attached: String?
            if token.hasPrefix("--"), let equals = token.firstIndex(of: "=") {
                name = String(token[..<equals])
                attached = String(token[token.index(after: equals)...])
            }
            guard let option = options.first(where: { $0.names.contains(name) }), let key = option.names.last else { return nil }
            guard option.takesValue else {
                guard attached == nil, !flags.contains(key) else { return nil }
                flags.insert(key)
                continue
            }
            let value: String
            if let attached {
                value = attached
            } else {
                // A value that looks like an option is ArgumentParser's to judge.
                guard i < arguments.count, arguments[i].utf8.first != UInt8(ascii: "-") else { return nil }
                value = arguments[i]
                i += 1
            }
            guard option.repeatable || values[key] == nil else { return nil }
            values[key, default: []].append(value)
        }
    }

    /// The value of a single-valued option.
    func value(_ key: String) -> String? { values[key]?.last }
}
