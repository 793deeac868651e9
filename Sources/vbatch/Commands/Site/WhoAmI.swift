import ArgumentParser
import VBatchAPI
import VBatchClient

/// `vbatch whoami [--json]`
struct WhoAmI: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "whoami", abstract: "Show who vbatchd takes you to be (user, VO, operator).")

    @OptionGroup var connection: ConnectionOptions

    @Flag(help: "Print the daemon's JSON.")
    var json = false

    func run() throws {
        let client = connection.client()
        if json { return Output.json(try client.getJSON(Route.whoami)) }
        let me = try client.whoami()
        Output.print("""
            user:      \(Format.text(me.user))
            uid:       \(me.uid)
            vo:        \(Format.text(me.vo))
            operator:  \(Format.yesNo(me.isOperator))
            via:       \(Format.text(me.via))

            """)
    }
}
