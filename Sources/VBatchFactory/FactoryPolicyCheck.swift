import VBatchCore

extension FactoryPolicy {
    /// Why the site does not allow `recipe`, one reason per problem; empty when it does.
    ///
    /// An approved recipe (its ``Recipe/hash`` in ``approved``) is allowed whatever its
    /// base and packages: the operator reviewed that exact recipe. Otherwise its base must
    /// be in ``allowedBases`` and each package must match ``allowedPackages`` (when set),
    /// and with ``requireApproval`` nothing unapproved is allowed at all.
    public func refusals(for recipe: Recipe) -> [String] {
        let hash = recipe.hash
        if approved.contains(hash) { return [] }
        if requireApproval { return ["not approved: hash \(hash) is not in [factory] approved"] }
        var reasons: [String] = []
        if let bases = allowedBases, !bases.contains(recipe.base.description) {
            reasons.append("base \(recipe.base) is not allowed (allowed_bases: \(bases.joined(separator: ", ")))")
        }
        if let patterns = allowedPackages {
            let refused = recipe.packages.filter { package in !patterns.contains { Self.matches(package, $0) } }
            if !refused.isEmpty {
                reasons.append((refused.count == 1 ? "package " : "packages ") + refused.joined(separator: ", ")
                    + " not in allowed_packages")
            }
        }
        if !reasons.isEmpty {
            reasons.append("or have the operator approve hash \(hash)")
        }
        return reasons
    }

    /// `pattern` is a package name, or a prefix ending in `*`.
    static func matches(_ package: String, _ pattern: String) -> Bool {
        pattern.hasSuffix("*") ? package.hasPrefix(pattern.dropLast()) : package == pattern
    }
}
