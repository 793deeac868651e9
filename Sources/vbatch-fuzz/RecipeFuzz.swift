import VBatchConfig
import VBatchFactory

/// `recipe`: bytes as an image recipe (`vbatch image build RECIPE`), through
/// `RecipeFile.parse`, the reader `vbatch-image` uses: TOML syntax, every key's type and
/// range, names, package names, file paths and modes. A recipe read without error is also
/// normalised and hashed, as the factory does to name the image it builds. A
/// `ConfigErrors` is the expected refusal.
enum RecipeFuzz {
    static let target = FuzzTarget(
        name: "recipe",
        summary: "image recipe TOML: RecipeFile.parse, then the recipe's normalised form and hash",
        run: { bytes in
            do {
                let recipe = try RecipeFile.parse(String(decoding: bytes, as: UTF8.self), path: "/recipes/fuzz.toml")
                FuzzCheck.require(recipe.hash.utf8.count == 64, "a recipe hash is 64 hex digits")
            } catch let errors as ConfigErrors {
                FuzzCheck.require(!errors.errors.isEmpty, "a refused recipe names at least one error")
                _ = errors.description
            } catch {
                FuzzCheck.require(false, "RecipeFile.parse threw something other than ConfigErrors: \(error)")
            }
        })
}
