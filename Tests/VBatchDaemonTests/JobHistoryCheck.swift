import VBatchAPI
import VBatchCore

/// What a job's recorded history must look like however often vbatchd was killed (the crash
/// matrix, R1): it begins queued or held, has exactly one end and nothing after it, and its
/// runs follow one another — a run opens with `starting` and closes (requeued, held, saved or
/// ended) before the next opens, so no job ever has two VMs at once.
struct JobHistoryCheck {
    /// Every rule the history breaks, in words (empty when it is consistent).
    static func problems(_ history: [JobEvent]) -> [String] {
        guard let first = history.first else { return ["no history"] }
        var problems: [String] = []
        if first.state != .queued && first.state != .held { problems.append("begins \(first.state.rawValue)") }
        let ends = history.filter { $0.state.isTerminal }.count
        if ends != 1 { problems.append("\(ends) ends") }
        if let last = history.last, !last.state.isTerminal { problems.append("ends \(last.state.rawValue), not terminal") }
        var inRun = false
        for (index, event) in history.enumerated() {
            switch event.state {
            case .starting:
                if inRun { problems.append("event \(index): a run starts while another is open") }
                inRun = true
            case .running, .suspended:
                if !inRun { problems.append("event \(index): \(event.state.rawValue) outside a run") }
            case .queued, .held, .saved, .completed, .failed, .cancelled:
                inRun = false
            }
            if index > 0, history[index - 1].state.isTerminal { problems.append("event \(index): after the end") }
        }
        return problems
    }

    /// How many VMs began running the job: transitions from `starting` to `running`, by a
    /// `running` report or by re-adopting the VM after a restart.
    static func runs(_ history: [JobEvent]) -> Int {
        zip(history, history.dropFirst()).filter { $0.state == .starting && $1.state == .running }.count
    }
}
