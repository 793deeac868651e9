import VBatchAPI
import VBatchClient
import VBatchCore

/// `qdel`, `qhold`, `qrls` and `qsig`: act on each job named, silent on success as in Torque;
/// each failure is one stderr line and the exit status is the first failure's (153 for an
/// unknown id, 159 for another user's job, 170 for a job in the wrong state).
///
/// `qhold` of a running job saves its VM (Torque checkpoints it); `qsig -s suspend|resume`
/// pauses and continues it. Other signals cannot reach a payload inside a VM.
enum QJobAction {
    enum Action {
        case delete, hold, release, suspend, resume

        var command: String {
            switch self {
            case .delete: "qdel"
            case .hold: "qhold"
            case .release: "qrls"
            case .suspend, .resume: "qsig"
            }
        }

        /// Options Torque's command takes (accepted, and ignored where vbatch has no use for them).
        var spec: String {
            switch self {
            case .delete: "a:b:cm:pt:W:"
            case .hold, .release: "h:t:"
            case .suspend, .resume: "as:"
            }
        }
    }

    /// `qsig [-s SIGNAL] JOBID…`: vbatch delivers Torque's special signals `suspend` and `resume`.
    static func signal(_ arguments: [String], _ context: PBSContext) -> Int32 {
        var signal = "SIGTERM"
        var ids: [String] = []
        do {
            for item in try GetOpt(spec: Action.suspend.spec).parse(arguments) {
                switch item {
                case .operand(let s): ids.append(s)
                case .option("s", let value?): signal = value
                default: break
                }
            }
        } catch {
            PBSOutput.error("qsig: \(error.message)")
            PBSOutput.error("usage: qsig [-s <SIGNAL>] <JOBID>[ <JOBID>]...")
            return 2
        }
        let action: Action
        switch signal.lowercased() {
        case "suspend": action = .suspend
        case "resume": action = .resume
        default:
            PBSOutput.error("qsig: vbatch delivers only the signals suspend and resume (a payload runs in its own VM): "
                + PBSFormat.clean(signal))
            return 2
        }
        guard !ids.isEmpty else {
            PBSOutput.error("usage: qsig [-s <SIGNAL>] <JOBID>[ <JOBID>]...")
            return 2
        }
        return each(ids, action, context)
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
        return each(ids, action, context)
    }

    /// Acts on each id in turn; the first failure's status.
    private static func each(_ ids: [String], _ action: Action, _ context: PBSContext) -> Int32 {
        let command = action.command
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
            case .suspend: _ = try context.client.suspend(id)
            case .resume: _ = try context.client.resume(id)
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
            case .release where job.state != .held && job.state != .saved:
                return nil // Torque releases a job without holds silently.
            case .hold where job.state == .held || job.state == .saved:
                return nil
            case .suspend where job.state == .suspended, .resume where job.state == .running:
                return nil
            case .hold, .suspend, .resume:
                return .badState(command, "invalid state for job - \(torqueState(job.state))", fullID)
            default:
                return .badState(command, error.message, fullID)
            }
        } catch {
            return .about(command, fullID, error, server: context.server)
        }
    }

    /// A job's state in Torque's words, for "invalid state" errors.
    private static func torqueState(_ state: JobState) -> String {
        switch state {
        case .queued: "QUEUED"
        case .held, .saved: "HELD"
        case .starting, .running: "RUNNING"
        case .suspended: "SUSPENDED"
        case .completed, .failed, .cancelled: "COMPLETE"
        }
    }
}
