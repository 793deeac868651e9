import Foundation
import TOMLKit
import VBatchCore

/// Loads and validates a vbatch configuration directory.
///
/// ```
/// DIR/queues/*.toml   queues: [queue.NAME] tables
/// DIR/images/*.toml   the catalogue of execution environments: [image.NAME] tables
/// DIR/site.toml       the site file: [site], [node.NAME], [vo.NAME]
///                     (or DIR/queues/site.toml, or any file passed as `siteFile`)
/// ```
public enum ConfigLoader {
    /// Reads every file, checks everything, and returns the configuration only if nothing is wrong.
    ///
    /// The site file is `siteFile` if given, else `DIR/site.toml` if it exists, else
    /// `DIR/queues/site.toml`; a `site.toml` inside `queues/` is never read as a queue file.
    /// Files are read in file-name order, so queue order (and the scheduler's queue indices)
    /// is deterministic. Image paths are made absolute against the directory of the file
    /// that names them; whether they exist is not checked here.
    ///
    /// - Throws: ``ConfigErrors`` holding every problem found, in file and line order.
    public static func load(directory: String, siteFile: String? = nil) throws -> Configuration {
        let diagnostics = Diagnostics()
        let directory = directory.count > 1 && directory.hasSuffix("/") ? String(directory.dropLast()) : directory
        guard isDirectory(directory) else {
            throw ConfigErrors(errors: [ConfigError(file: directory, line: 0, key: "",
                                                    message: "configuration directory not found")])
        }
        let queuesDirectory = join(directory, "queues"), imagesDirectory = join(directory, "images")
        let sitePath = siteFile ?? [join(directory, "site.toml"), join(queuesDirectory, "site.toml")]
            .first { FileManager.default.fileExists(atPath: $0) } ?? join(directory, "site.toml")

        // The site file is never also read as a queue file, even when it is an explicit one inside queues/.
        let siteAbsolute = standardized(sitePath)
        let queueFiles = tomlFiles(in: queuesDirectory, diagnostics: diagnostics)
            .filter { $0 != "site.toml" && standardized(join(queuesDirectory, $0)) != siteAbsolute }
            .compactMap { parse(join(queuesDirectory, $0), diagnostics: diagnostics) }
        let imageFiles = tomlFiles(in: imagesDirectory, diagnostics: diagnostics)
            .compactMap { parse(join(imagesDirectory, $0), diagnostics: diagnostics) }

        var site = ParsedSite()
        var parsedSite: SourceFile?
        if FileManager.default.fileExists(atPath: sitePath) {
            if let file = parse(sitePath, diagnostics: diagnostics) {
                site = SiteFile.read(file, diagnostics: diagnostics)
                parsedSite = file
            }
        } else {
            let looked = siteFile == nil ? " (looked for site.toml in \(directory) and in \(queuesDirectory))" : ""
            diagnostics.add(file: sitePath, line: 0, key: "", "site file not found\(looked)")
        }

        var queueNames = NameRegistry(kind: "queue")
        var queues = queueFiles.flatMap { QueueFile.read($0, diagnostics: diagnostics) }
            .filter { queueNames.claim($0.config.name, at: $0.origin, diagnostics: diagnostics) }
        let imagesAbsolute = absolute(imagesDirectory)
        var imageNames = NameRegistry(kind: "image")
        let images = imageFiles.flatMap { ImageFile.read($0, directory: imagesAbsolute, diagnostics: diagnostics) }
            .filter { imageNames.claim($0.config.name, at: $0.origin, diagnostics: diagnostics) }

        CrossChecks(site: site, images: images, diagnostics: diagnostics).run(&queues)

        guard diagnostics.errors.isEmpty else { throw ConfigErrors(errors: diagnostics.sorted) }
        var configuration = Configuration(site: site.settings, nodes: site.nodes.map(\.config), vos: site.vos.map(\.config),
                                          queues: queues.map(\.config), images: images.map(\.config),
                                          pools: site.pools.map(\.config))
        configuration.origins = origins(of: queueFiles + imageFiles + [parsedSite].compactMap { $0 }, directory: directory)
        configuration.sourceDirectory = standardized(directory)
        return configuration
    }

    /// Every key written in `files` (dotted, as ``KeyPath`` formats it) → `file:line`, with
    /// paths inside `directory` shown relative to it.
    static func origins(of files: [SourceFile], directory: String) -> [String: String] {
        var origins: [String: String] = [:]
        let prefix = directory.hasSuffix("/") ? directory : directory + "/"
        for file in files {
            let shown = file.path.hasPrefix(prefix) ? String(file.path.dropFirst(prefix.count)) : file.path
            func walk(_ table: TOMLTable, _ path: [String]) {
                for (key, value) in table {
                    if let nested = value.table {
                        walk(nested, path + [key])
                    } else if let line = file.locator.exactLine(of: path + [key]) {
                        origins[KeyPath.format(path + [key])] = "\(shown):\(line)"
                    }
                }
            }
            walk(file.root, [])
        }
        return origins
    }

    /// Names of the `*.toml` files in `directory`, sorted; hidden files are skipped.
    private static func tomlFiles(in directory: String, diagnostics: Diagnostics) -> [String] {
        guard isDirectory(directory) else {
            diagnostics.add(file: directory, line: 0, key: "", "directory not found")
            return []
        }
        do {
            return try FileManager.default.contentsOfDirectory(atPath: directory)
                .filter { $0.hasSuffix(".toml") && !$0.hasPrefix(".") && !isDirectory(join(directory, $0)) }
                .sorted()
        } catch {
            diagnostics.add(file: directory, line: 0, key: "", "cannot list directory: \(error.localizedDescription)")
            return []
        }
    }

    /// Reads and parses one file; TOML syntax errors are reported with their line.
    private static func parse(_ path: String, diagnostics: Diagnostics) -> SourceFile? {
        diagnostics.register(file: path)
        guard let data = FileManager.default.contents(atPath: path) else {
            diagnostics.add(file: path, line: 0, key: "", "cannot read file")
            return nil
        }
        guard let text = String(data: data, encoding: .utf8) else {
            diagnostics.add(file: path, line: 0, key: "", "not valid UTF-8 text")
            return nil
        }
        do {
            let root = try TOMLGuard.parse(text)
            return SourceFile(path: path, root: root, locator: SourceLocator(text: text))
        } catch let error as TOMLGuardError {
            diagnostics.add(file: path, line: error.line, key: "", error.description)
        } catch let error as TOMLParseError {
            // toml++ says "Error while parsing X: detail".
            let message = error.description.hasPrefix("Error while ")
                ? "TOML syntax error " + error.description.dropFirst("Error ".count)
                : "TOML syntax error: " + error.description
            diagnostics.add(file: path, line: max(1, error.source.begin.line), key: "", message)
        } catch {
            diagnostics.add(file: path, line: 0, key: "", "cannot parse: \(error)")
        }
        return nil
    }

    private static func join(_ directory: String, _ name: String) -> String {
        directory.hasSuffix("/") ? directory + name : directory + "/" + name
    }

    private static func absolute(_ path: String) -> String {
        path.hasPrefix("/") ? path : join(FileManager.default.currentDirectoryPath, path)
    }

    private static func standardized(_ path: String) -> String {
        URL(fileURLWithPath: absolute(path)).standardizedFileURL.path
    }

    private static func isDirectory(_ path: String) -> Bool {
        var isDirectory: ObjCBool = false
        return FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) && isDirectory.boolValue
    }
}
