import Foundation
import Testing

/// The `vbatch` binary starts once per submitted job (P3_cli), so what it links matters:
/// full Foundation (ICU and all) makes it 50 MB larger and every start slower, measured
/// (415 → 368 submissions/s). Its sources and the libraries it uses stay on FoundationEssentials.
@Suite struct PerJobBinaryTests {
    static let repository: URL = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url
    }()

    @Test func theCLIAndItsLibrariesDoNotImportFoundation() throws {
        var offenders: [String] = []
        for directory in ["Sources/vbatch", "Sources/VBatchClient", "Sources/VBatchAPI", "Sources/VBatchCore"] {
            let root = Self.repository.appendingPathComponent(directory)
            let files = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)
            while let file = files?.nextObject() as? URL {
                guard file.pathExtension == "swift" else { continue }
                let text = try String(contentsOf: file, encoding: .utf8)
                if text.split(separator: "\n").contains(where: { $0.trimmingCharacters(in: .whitespaces) == "import Foundation" }) {
                    offenders.append(file.path.replacingOccurrences(of: Self.repository.path + "/", with: ""))
                }
            }
        }
        #expect(offenders.isEmpty, "import FoundationEssentials instead in \(offenders)")
    }
}
