import VBatchCore

/// The checks that need more than one file: references between queues, the catalogue,
/// nodes and VOs, and queue limits that no serving node could meet.
struct CrossChecks {
    let site: ParsedSite
    let images: [ParsedImage]
    let diagnostics: Diagnostics

    /// Checks every queue, image and node, and fills in the queue defaults that depend on nodes.
    func run(_ queues: inout [ParsedQueue]) {
        let queueKinds = Dictionary(queues.map { ($0.config.name, $0.config) }, uniquingKeysWith: { first, _ in first })
        for i in queues.indices {
            switch queues[i].config {
            case .routing(let routing):
                check(routing, at: queues[i].origin, queueKinds: queueKinds)
            case .execution(var exec):
                check(&exec, queues[i])
                checkPreemption(exec, at: queues[i].origin, queueKinds: queueKinds)
                queues[i].config = .execution(exec)
            }
        }
        for image in images {
            checkReferences(image.config.vos, key: "vos", at: image.origin, kind: "VO", known: voNames)
        }
        var hostOwners: [String: String] = [:]
        for node in site.nodes {
            checkReferences(node.config.environments, key: "environments", at: node.origin,
                            kind: "environment", known: imageNames)
            // A libvirt host is one node: two nodes on it would each take the other's VMs and
            // volumes for leftovers. (Simulated nodes share nothing.)
            let uri = node.config.uri
            if !uri.hasPrefix("sim://"), !uri.isEmpty {
                if let first = hostOwners[uri] {
                    report(node.origin, "uri", "\(uri) is already node \(first)'s: one node per libvirt host")
                } else {
                    hostOwners[uri] = node.config.name
                }
            }
        }
        for pool in site.pools { check(pool) }
    }

    /// A pool names a known environment and nodes, and each of its VMs fits a node it covers.
    private func check(_ parsed: ParsedPool) {
        let pool = parsed.config
        checkReferences([pool.environment], key: "environment", at: parsed.origin, kind: "environment", known: imageNames)
        checkReferences(pool.nodes, key: "nodes", at: parsed.origin, kind: "node", known: nodeNames)
        let covered = site.nodes.map(\.config).filter(pool.covers(node:))
        if covered.isEmpty {
            report(parsed.origin, "nodes", "no node keeps this pool (check nodes and the nodes' environments)")
        } else if !covered.contains(where: { $0.slots >= pool.cores * pool.size && $0.memoryMB >= pool.memoryMB * pool.size }) {
            report(parsed.origin, "size", "\(pool.size) VMs of \(pool.cores) cores and \(Quantities.formatMemory(pool.memoryMB)) "
                + "fit on none of its nodes")
        }
    }

    private var voNames: [String] { site.vos.map(\.config.name) }
    private var imageNames: [String] { images.map(\.config.name) }
    private var nodeNames: [String] { site.nodes.map(\.config.name) }

    private func check(_ routing: RoutingQueue, at origin: Origin, queueKinds: [String: QueueConfig]) {
        for destination in routing.destinations {
            switch queueKinds[destination] {
            case nil:
                report(origin, "destinations", unknown: destination, kind: "queue", known: queueKinds.keys.sorted())
            case .routing?:
                report(origin, "destinations", "\(destination) is a routing queue; "
                    + "destinations must be execution queues (routing queues do not chain)")
            case .execution?:
                break
            }
        }
    }

    /// A queue preempts only execution queues of lower priority: no two queues preempt each
    /// other, and a preempted job never preempts its way back.
    private func checkPreemption(_ exec: ExecutionQueue, at origin: Origin, queueKinds: [String: QueueConfig]) {
        for name in exec.preempts {
            switch queueKinds[name] {
            case nil:
                report(origin, "preempts", unknown: name, kind: "queue", known: queueKinds.keys.sorted())
            case .routing?:
                report(origin, "preempts", "\(name) is a routing queue; jobs run in execution queues")
            case .execution(let victim)?:
                if victim.name == exec.name {
                    report(origin, "preempts", "a queue cannot preempt itself")
                } else if victim.priority >= exec.priority {
                    report(origin, "preempts", "\(name) has priority \(victim.priority), not lower than this queue's "
                        + "\(exec.priority): a queue preempts only queues of lower priority")
                }
            }
        }
    }

    private func check(_ exec: inout ExecutionQueue, _ parsed: ParsedQueue) {
        let origin = parsed.origin
        checkReferences(exec.environments, key: "environments", at: origin, kind: "environment", known: imageNames)
        checkReferences(exec.nodes, key: "nodes", at: origin, kind: "node", known: nodeNames)
        checkReferences(exec.vos, key: "vos", at: origin, kind: "VO", known: voNames)

        // Nodes that serve the queue: listed (or all), and allowing at least one of its environments.
        let environments = exec.environments.filter(imageNames.contains)
        let candidates = site.nodes.map(\.config).filter { exec.serves(node: $0.name) }
        let serving = candidates.filter { node in
            node.environments.map { allowed in environments.contains(where: allowed.contains) } ?? true
        }
        let culprit = exec.nodes == nil ? "environments" : "nodes"
        if serving.isEmpty, !environments.isEmpty, !candidates.isEmpty {
            report(origin, culprit, "no node serves this queue (none of "
                + "\(candidates.map(\.name).joined(separator: ", ")) allows any of its environments: "
                + "\(environments.joined(separator: ", ")))")
        }
        // A node whose CPUs or memory did not parse (already reported) would give false alarms.
        guard !serving.contains(where: { $0.cpus.isEmpty || $0.memoryMB < 1 }) else { return }

        if let biggest = serving.max(by: { $0.slots < $1.slots }), exec.maxCores > biggest.slots {
            report(origin, "max_cores", "\(exec.maxCores) cores exceed every node that serves this queue "
                + "(largest: \(biggest.name) with \(biggest.slots))")
        }

        guard !parsed.memoryInvalid else { return }
        let largestMemory = serving.max(by: { $0.memoryMB < $1.memoryMB })
        if let written = parsed.maxMemory {
            if let largest = largestMemory, written > largest.memoryMB {
                report(origin, "max_memory", "\(Quantities.formatMemory(written)) exceeds the memory of every node "
                    + "that serves this queue (largest: \(largest.name) with \(Quantities.formatMemory(largest.memoryMB)))")
            }
        } else if let largest = largestMemory, largest.memoryMB >= 1 {
            exec.maxMemoryMB = min(QueueFile.defaultMaxMemoryMB, largest.memoryMB)
        }
        if let written = parsed.defaultMemory {
            if written > exec.maxMemoryMB {
                let source = parsed.maxMemory == nil ? ", the default; set max_memory" : ""
                report(origin, "default_memory", "\(Quantities.formatMemory(written)) exceeds max_memory "
                    + "(\(Quantities.formatMemory(exec.maxMemoryMB))\(source))")
            }
        } else {
            exec.defaultMemoryMB = min(exec.maxMemoryMB, 1024)
        }
    }

    /// Reports each name in `names` that is not in `known`.
    private func checkReferences(_ names: [String]?, key: String, at origin: Origin, kind: String, known: [String]) {
        for name in names ?? [] where !known.contains(name) {
            report(origin, key, unknown: name, kind: kind, known: known)
        }
    }

    private func report(_ origin: Origin, _ key: String, unknown name: String, kind: String, known: [String]) {
        var message = "unknown \(kind) \(name)"
        if let guess = Suggestion.closest(to: name, in: known) {
            message += " (did you mean \(guess)?)"
        } else if known.isEmpty {
            message += " (none is defined)"
        } else {
            message += " (defined: \(known.joined(separator: ", ")))"
        }
        report(origin, key, message)
    }

    private func report(_ origin: Origin, _ key: String, _ message: String) {
        diagnostics.add(file: origin.file.path, line: origin.line(of: key), key: origin.keyPath(key), message)
    }
}
