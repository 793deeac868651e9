#if canImport(Glibc)
import Glibc
#endif
import ArgumentParser
import FoundationEssentials
import VBatchAPI
import VBatchClient
import VBatchCore

/// `vbatch token create|list|revoke`: bearer tokens for programs and people that reach
/// vbatchd's TLS listener from other machines (monitoring, a dashboard, a portal).
/// Tokens are managed only through the socket (or a relay), never with a token.
struct Token: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "Create, list and revoke bearer tokens for vbatchd's TLS API.",
        discussion: """
            A token acts for one user with a scope: read (GET routes only), user (everything the user may do) \
            or operator (operators only, for themselves). Every token expires: --lifetime is capped by the \
            site's [api] max_token_lifetime and max_operator_token_lifetime. Send it as \
            `Authorization: Bearer TOKEN` to the listener of [api] listen. See docs/security.md.
            """,
        subcommands: [Create.self, List.self, Revoke.self])

    struct Create: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a token; it is printed once, keep it secret.")
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "read, user or operator.") var scope: TokenScope
        @Option(help: ArgumentHelp("How long it is valid, e.g. 1h, 7d, 1d12h.", valueName: "DURATION")) var lifetime: String
        @Option(help: ArgumentHelp("Whom it acts for (operators only; default: you).", valueName: "USER")) var user: String?
        @Option(help: ArgumentHelp("A label shown by token list.", valueName: "TEXT")) var name: String?
        @Flag(help: "Print the daemon's JSON (token and details).") var json = false

        func validate() throws {
            guard seconds != nil else { throw ValidationError("--lifetime: \"\(lifetime)\" is not a duration (e.g. 90m, 12h, 7d)") }
        }

        var seconds: Int? { Quantities.parseWalltime(lifetime).flatMap { $0 > 0 ? $0 : nil } }

        func run() throws {
            let request = TokenRequest(scope: scope, lifetime: seconds ?? 0, user: user, name: name)
            let created = try connection.client().createToken(request)
            if json { return Output.json(Array(try JSONEncoder().encode(created))) }
            Output.print("""
                \(created.token)
                token \(created.info.id): \(created.info.scope.rawValue) for \(created.info.user), \
                expires \(Format.time(created.info.expires))

                """)
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List your tokens (every user's with --all, operators).")
        @OptionGroup var connection: ConnectionOptions
        @Flag(help: "Every user's tokens (operators).") var all = false
        @Flag(help: "Print the daemon's JSON.") var json = false

        func run() throws {
            let client = connection.client()
            if json { return Output.json(try client.getJSON(Route.tokens(all: all))) }
            var table = Table([.init(title: "ID", rightAligned: true), .init(title: "USER"), .init(title: "SCOPE"),
                               .init(title: "NAME"), .init(title: "CREATED BY"), .init(title: "EXPIRES"), .init(title: "STATE")])
            let now = Double(time(nil))
            for token in try client.tokens(all: all) {
                let state = token.revoked != nil ? "revoked" : token.expires <= now ? "expired" : "valid"
                table.append(["\(token.id)", token.user, token.scope.rawValue, token.name ?? "-", token.createdBy,
                              Format.time(token.expires), state])
            }
            Output.print(table.render())
        }
    }

    struct Revoke: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke tokens: they stop working at once.")
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: ArgumentHelp("Token ids, as in vbatch token list.", valueName: "ID")) var ids: [Int64]

        func validate() throws {
            if ids.contains(where: { $0 < 1 }) { throw ValidationError("token ids are positive numbers") }
        }

        func run() throws {
            let client = connection.client()
            var failed = false
            for id in ids {
                do {
                    let token = try client.revokeToken(id)
                    Output.print("token \(token.id) (\(token.user), \(token.scope.rawValue)): revoked\n")
                } catch {
                    Output.error("token \(id): \(error)")
                    failed = true
                }
            }
            if failed { throw CLIError.silent }
        }
    }
}

extension TokenScope: ExpressibleByArgument {}
