import Foundation

/// P3_relay: what the relay costs a CE. The same `qsub` loop (one process per job, as ARC
/// and BLAH submit) runs on the CE test host `ce1` through `vbatch relay` over mutual TLS,
/// and on the server against vbatchd's own socket, in one run; the figure is the ratio of
/// their rates. Jobs stay pending (the queue is stopped), so only submission is measured.
enum RelayBenchmark {
    struct Result {
        var relayRate: Double
        var socketRate: Double
    }

    static func qsubLoop(jobs: Int) -> String {
        """
        printf '#!/bin/sh\\necho relayed\\n' > /tmp/p3-relay.sh
        start=$(date +%s.%N)
        i=0
        while [ $i -lt \(jobs) ]; do "$QSUB" qsub -q bench /tmp/p3-relay.sh >/dev/null || exit 1; i=$((i+1)); done
        end=$(date +%s.%N)
        echo "$start $end"
        """
    }

    /// Seconds of the loop from the "START END" line it prints.
    static func seconds(_ output: String) throws -> Double {
        let line = output.split(separator: "\n").last.map(String.init) ?? ""
        let parts = line.split(separator: " ").compactMap { Double($0) }
        guard parts.count == 2, parts[1] > parts[0] else { throw BenchError("qsub loop failed: \(output.suffix(400))") }
        return parts[1] - parts[0]
    }

    static func run(_ hosts: NodeBenchmarks.Hosts, jobs: Int = 300, runs: Int = 3) throws -> Result {
        guard let ce = hosts.ce else { throw BenchError("the test hosts have no CE host (test-hosts.sh up --ce)") }
        let port = 18_000 + Int(getpid() % 1000)
        let site = """
            [site]
            name = "bench"
            operators = ["root"]

            [api]
            listen = "\(hosts.apiAddress):\(port)"
            certificate = "\(hosts.pki)/hosts/\(hosts.apiAddress)/servercert.pem"
            key = "\(hosts.pki)/hosts/\(hosts.apiAddress)/serverkey.pem"
            ca = "\(hosts.pki)/ca/cacert.pem"
            relays = ["\(ce)"]

            [node.wn0]
            uri = "sim://"
            slots = 32
            memory = "128gb"
            """
        let daemon = try DaemonProcess(site: site, image: DaemonProcess.simulatedImage, environment: "sim", started: false)
        defer { daemon.stop() }
        let script = hosts.script
        let install = try runProgram(script, ["ce-install", ce, Binaries.directory])
        guard install.status == 0 else { throw BenchError("ce-install: \(install.output.suffix(400))") }
        let start = try runProgram(script, ["exec", ce, "/opt/vbatch/src/scripts/setup-ce.sh", "--server", "\(hosts.apiAddress):\(port)",
                                            "--ca", "/opt/vbatch/pki/clients/\(ce)/cacert.pem",
                                            "--certificate", "/opt/vbatch/pki/clients/\(ce)/clientcert.pem",
                                            "--key", "/opt/vbatch/pki/clients/\(ce)/clientkey.pem",
                                            "--vbatch", "/opt/vbatch/bin/vbatch", "--start"])
        guard start.status == 0 else { throw BenchError("setup-ce.sh --start: \(start.output.suffix(400))") }
        defer { _ = try? runProgram(script, ["exec", ce, "/opt/vbatch/src/scripts/setup-ce.sh", "--stop"]) }

        var relay: [Double] = [], socket: [Double] = []
        for _ in 0..<runs {
            // On the CE host, as a pool account, through the relay's socket.
            let onCE = try runProgram(script, ["exec", ce, "env", "-i", "PATH=/usr/local/bin:/usr/bin:/bin", "QSUB=/usr/local/bin/vbatch",
                                               "setpriv", "--reuid=vbce-atlas001", "--regid=vbce-atlas", "--init-groups",
                                               "sh", "-c", qsubLoop(jobs: jobs)])
            relay.append(Double(jobs) / (try seconds(onCE.output)))
            // On the server, as an ordinary user, on vbatchd's own socket.
            let onServer = try runProgram("/usr/bin/env", ["-i", "PATH=/usr/bin:/bin", "QSUB=\(Binaries.path("vbatch"))",
                                                           "VBATCH_SOCKET=\(daemon.socket)", "setpriv", "--reuid=nobody",
                                                           "--regid=nogroup", "--clear-groups", "sh", "-c", qsubLoop(jobs: jobs)])
            socket.append(Double(jobs) / (try seconds(onServer.output)))
        }
        return Result(relayRate: Stats.median(relay), socketRate: Stats.median(socket))
    }
}
