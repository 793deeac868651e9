import Foundation
import Synchronization
import VBatchLibvirt

/// Records a connection's events for tests to wait on.
final class EventRecorder: Sendable {
    private final class Log: Sendable {
        let events = Mutex<[ConnectionEvent]>([])
    }
    private let log: Log
    private let consumer: Task<Void, Never>

    init(_ connection: LibvirtConnection) {
        let log = Log()
        let events = connection.events
        self.log = log
        consumer = Task {
            for await event in events {
                log.events.withLock { $0.append(event) }
            }
        }
    }

    deinit {
        consumer.cancel()
    }

    var events: [ConnectionEvent] { log.events.withLock { $0 } }

    /// Index of the first event at or after `start` matching `predicate`, waiting up to `timeout`.
    func index(from start: Int = 0, timeout: Duration = .seconds(30),
               where predicate: (ConnectionEvent) -> Bool) async -> Int? {
        let deadline = ContinuousClock.now + timeout
        while true {
            let events = self.events
            if start < events.count, let found = events[start...].firstIndex(where: predicate) {
                return found
            }
            if ContinuousClock.now >= deadline {
                return nil
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Index of the first lifecycle event `kind` for `domain` at or after `start`.
    func lifecycle(_ kind: LifecycleEvent, of domain: DomainRef, from start: Int = 0,
                   timeout: Duration = .seconds(30)) async -> Int? {
        await index(from: start, timeout: timeout) { event in
            if case .lifecycle(let ref, let observed, _) = event {
                return ref.uuid == domain.uuid && observed == kind
            }
            return false
        }
    }
}

func uniqueDomainName() -> String {
    "vbatch-test-\(String(UInt32.random(in: 0...UInt32.max), radix: 16))"
}

/// Destroys `domain`, ignoring "already gone".
func destroyQuietly(_ connection: LibvirtConnection, _ domain: DomainRef) async {
    do {
        try await connection.destroy(domain)
    } catch let error as LibvirtError where error.isNoDomain || error.isOperationInvalid {
    } catch {
        print("cleanup: destroy \(domain) failed: \(error)")
    }
}

/// Seconds elapsed while running `body`.
func measure<T>(_ body: () async throws -> T) async rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try await body()
    let elapsed = ContinuousClock.now - start
    return (value, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18)
}

/// The element names, attributes and text of an XML document, in document order, as parsed back
/// by Foundation's XMLParser.
struct ParsedXML: Equatable {
    struct Node: Equatable {
        var depth: Int
        var name: String
        var attributes: [String: String]
        var text: String
    }
    var nodes: [Node]

    /// The structure only: names, depths and attribute names, no values.
    var shape: [String] {
        nodes.map { "\($0.depth) \($0.name) [\($0.attributes.keys.sorted().joined(separator: ","))]" }
    }

    func first(_ name: String) -> Node? { nodes.first { $0.name == name } }
    func all(_ name: String) -> [Node] { nodes.filter { $0.name == name } }
}
