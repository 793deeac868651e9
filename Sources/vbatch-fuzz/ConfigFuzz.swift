import VBatchConfig

/// `config`: bytes as a configuration directory for `ConfigLoader.load(directory:)`, the
/// loader `vbatchd`, `vbatch config check` and `vbatch simulate` use.
///
/// The input stands for up to three files, separated by lines holding only `%%`: the site
/// file (`site.toml`), one queue file (`queues/q.toml`) and one image catalogue file
/// (`images/i.toml`); a part left out is an empty file. The whole loader runs: TOML syntax
/// (toml++ behind TOMLKit), the table readers, the cross-checks between queues, images,
/// nodes and VOs, and the key locator that gives every error its line. A `ConfigErrors` is
/// the expected refusal; a loaded configuration is listed as `vbatch config show` does. The files are rewritten in one scratch directory for each input.
enum ConfigFuzz {
    static let directory: String = {
        let dir = FuzzScratch.root + "/config"
        FuzzScratch.makeDirectory(dir)
        FuzzScratch.makeDirectory(dir + "/queues")
        FuzzScratch.makeDirectory(dir + "/images")
        return dir
    }()

    static let target = FuzzTarget(
        name: "config",
        summary: "configuration directory (site.toml %% queues/q.toml %% images/i.toml): ConfigLoader.load",
        run: { bytes in
            let parts = fuzzParts(String(decoding: bytes, as: UTF8.self), count: 3)
            let dir = directory
            FuzzScratch.write(parts[0], to: dir + "/site.toml")
            FuzzScratch.write(parts.count > 1 ? parts[1] : "", to: dir + "/queues/q.toml")
            FuzzScratch.write(parts.count > 2 ? parts[2] : "", to: dir + "/images/i.toml")
            do {
                // A loaded configuration is also listed as `vbatch config show` lists it.
                let configuration = try ConfigLoader.load(directory: dir)
                _ = configuration.settings.map(\.value)
            } catch let errors as ConfigErrors {
                FuzzCheck.require(!errors.errors.isEmpty, "a refused configuration names at least one error")
                _ = errors.description
            } catch {
                FuzzCheck.require(false, "ConfigLoader threw something other than ConfigErrors: \(error)")
            }
        })
}
