import VBatchAPI
import VBatchClient
import VBatchCore

/// `qdel`, `qhold` and `qrls`: act on each job named, silent on success as in Torque; each
/// failure is one stderr line and the exit status is the first failure's (153 for an
/// unknown id, 159 for another user's job, 170 for a job in the wrong state).
enum QJobAction {
    enum Action {
        case delete, hold, release

        var command: String {
            switch self {
            case .delete: "qdel"
            case .hold: "qhold"
            case .release: "qrls"
            }
        }

        /// Options Torque's command takes (accepted, and ignored where vbatch has no use for them).
        var spec: String {
            switch self {
            case .delete: "a:b:cm:pt:W:"
            case .hold, .release: "h:t:"
            }
        }
    }

    static func run(_ action: Action, _ arguments: [String], _ context: PBSContext) -> Int32 {
        let command = action.command
        var ids: [String] = []
        do {
            for item in try GetOpt(spec: action.spec).parse(arguments) {
                switch item {
                case .operand(let s): ids.append(s)
                case .option("h", let types?) where !types.allSatisfy({ "uon".contains($0) }):
                    PBSOutput.error("\(command): invalid hold type: \(PBSFormat.clean(types))")
                    return 2
                case .option("t", _):
                    PBSOutput.error("\(command): job arrays (-t) are not supported by vbatch")
                    return 2
                default: break
                }
            }
        } catch {
            PBSOutput.error("\(command): \(error.message)")
            PBSOutput.error("usage: \(command) \(action == .delete ? "[-W delay|-p|-c] " : "[-h <HOLD LIST>] ")<JOBID>[ <JOBID>]...")
            return 2
        }
        guard !ids.isEmpty else {
            PBSOutput.error("usage: \(command) \(action == .delete ? "[-W delay|-p|-c] " : "[-h <HOLD LIST>] ")<JOBID>[ <JOBID>]...")
            return 2
        }
        var status: Int32 = 0
        for text in ids {
            guard let id = PBSJobID.parse(text) else {
                PBSOutput.error("\(command): illegally formed job identifier: \(PBSFormat.clean(text))")
                if status == 0 { status = 1 }
                continue
            }
            if let failure = perform(action, id, context) {
                failure.report()
                if status == 0 { status = failure.status }
                if failure.message.contains("cannot connect") { break }
            }
        }
        return status
    }

    static func perform(_ action: Action, _ id: Int64, _ context: PBSContext) -> PBSError? {
        let command = action.command
        let fullID = context.fullID(id)
        do {
            switch action {
            case .delete: _ = try context.client.cancel(id)
            case .hold: _ = try context.client.hold(id)
            case .release: _ = try context.client.release(id)
            }
            return nil
        } catch where error.kind == .server && error.status == 409 {
            // Say what state the job is in, in Torque's words.
            guard let job = try? context.client.job(id).job else {
                return .badState(command, error.message, fullID)
            }
            if job.state.isTerminal {
                return .badState(command, "invalid state for job - COMPLETE", fullID)
            }
            switch action {
            case .release where job.state != .held:
                return nil // Torque releases a job without holds silently.
            case .hold where job.state == .held:
                return nil
            case .hold:
                return .badState(command, "invalid state for job - \(job.state == .queued ? "QUEUED" : "RUNNING")", fullID)
            default:
                return .badState(command, error.message, fullID)
            }
        } catch {
            return .about(command, fullID, error, server: context.server)
        }
    }
}
