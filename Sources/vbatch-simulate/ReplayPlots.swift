import Foundation
import VBatchCore
import VBatchDrivers

/// `vbatch simulate --plot DIR`: the replay as SVG charts — utilisation and queue length over
/// time, and the distribution of waits per execution queue and per VO. With two
/// configurations, each chart carries both: A solid, B dashed.
enum ReplayPlots {
    /// One replay to draw, named for the legend (empty for a single configuration).
    struct Variant {
        var name: String
        var report: SiteSimulation.Report
    }

    /// Points per time series: enough for a screen, few enough to stay small.
    static let bins = 400
    /// Points per wait distribution.
    static let quantiles = 200

    /// Writes the charts into `directory` (created if needed); returns the files written.
    static func write(_ variants: [Variant], to directory: String) throws -> [String] {
        do {
            try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        } catch {
            throw ToolError("cannot create --plot directory \(directory): \((error as NSError).localizedFailureReason ?? "\(error)")")
        }
        var charts: [(String, SVGChart)] = []
        let start = variants.compactMap { $0.report.jobs.map(\.submit).min() }.min() ?? 0
        let end = variants.compactMap { v in v.report.jobs.compactMap { $0.end ?? $0.submit }.max() }.max() ?? start
        let timelines = variants.map { Timeline($0.report, from: start, to: end, bins: bins) }
        charts.append(("utilisation.svg", SVGChart(
            title: "Utilisation (share of the site's cores busy)", xLabel: "time since the first submission", yLabel: "busy cores",
            xAxis: .duration, yAxis: .percent,
            series: zip(variants, timelines).enumerated().map { i, pair in
                .init(name: pair.0.name.isEmpty ? "utilisation" : pair.0.name, points: pair.1.utilisation,
                      color: SVGChart.palette[i % SVGChart.palette.count], dashed: i == 1)
            })))
        charts.append(("queue-length.svg", SVGChart(
            title: "Queue length (jobs waiting)", xLabel: "time since the first submission", yLabel: "jobs waiting",
            xAxis: .duration, yAxis: .count,
            series: zip(variants, timelines).enumerated().map { i, pair in
                .init(name: pair.0.name.isEmpty ? "waiting" : pair.0.name, points: pair.1.waiting,
                      color: SVGChart.palette[i % SVGChart.palette.count], dashed: i == 1)
            })))
        for (file, what, key) in [("waits-by-queue.svg", "execution queue", \ReplayJob.queue), ("waits-by-vo.svg", "VO", \ReplayJob.vo)] {
            let groups = Set(variants.flatMap { $0.report.jobs.compactMap { $0[keyPath: key] } }).sorted()
            guard !groups.isEmpty else { continue }
            var series: [SVGChart.Series] = []
            for (g, group) in groups.enumerated() {
                for (i, variant) in variants.enumerated() {
                    let waits = variant.report.jobs.filter { $0[keyPath: key] == group }.compactMap(\.wait)
                    guard !waits.isEmpty else { continue }
                    series.append(.init(name: variant.name.isEmpty ? group : "\(variant.name): \(group)", points: distribution(waits),
                                        color: SVGChart.palette[g % SVGChart.palette.count], dashed: i == 1))
                }
            }
            charts.append((file, SVGChart(
                title: "Waits per \(what) (share of started jobs that waited at most so long)", xLabel: "wait (log scale)",
                yLabel: "jobs started", xAxis: .logDuration, yAxis: .percent, series: series)))
        }
        var written: [String] = []
        for (file, chart) in charts {
            let path = directory + "/" + file
            do {
                try Data(chart.render().utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
            } catch {
                throw ToolError("cannot write \(path): \((error as NSError).localizedFailureReason ?? "\(error)")")
            }
            written.append(path)
        }
        return written
    }

    /// The cumulative distribution of `waits` as steps: (wait, share of jobs that waited at
    /// most that), at most ``quantiles`` steps.
    static func distribution(_ waits: [Double]) -> [(x: Double, y: Double)] {
        let sorted = waits.sorted()
        let n = sorted.count
        let steps = min(quantiles, n)
        var points: [(x: Double, y: Double)] = []
        var share = 0.0
        for k in 1...steps {
            let index = max(0, Int((Double(k) / Double(steps) * Double(n)).rounded(.up)) - 1)
            // All jobs with this very wait are in the step.
            let last = sorted[index...].firstIndex { $0 > sorted[index] }.map { $0 - 1 } ?? n - 1
            let x = max(sorted[index], 1), y = Double(last + 1) / Double(n)
            guard y > share else { continue }
            if let previous = points.last, previous.x < x { points.append((x, share)) }
            points.append((x, y))
            share = y
        }
        if let first = points.first, first.y > 0 { points.insert((first.x, 0), at: 0) }
        return points
    }

    /// Busy cores and waiting jobs averaged over equal bins of time.
    struct Timeline {
        var utilisation: [(x: Double, y: Double)] = []
        var waiting: [(x: Double, y: Double)] = []

        init(_ report: SiteSimulation.Report, from start: Double, to end: Double, bins: Int) {
            let span = max(end - start, 1)
            let width = span / Double(bins)
            var busy = [Double](repeating: 0, count: bins), queued = [Double](repeating: 0, count: bins)
            // (time, change in busy cores, change in waiting jobs)
            var events: [(time: Double, cores: Double, jobs: Double)] = []
            for job in report.jobs where job.outcome != .refused {
                events.append((job.submit, 0, 1))
                if let s = job.start { events.append((s, Double(job.cores), -1)) }
                if let e = job.end { events.append((e, -Double(job.cores), 0)) }
            }
            events.sort { $0.time < $1.time }
            var cores = 0.0, jobs = 0.0, last = start
            func spread(to time: Double) {
                // Adds the current levels over [last, time) to the bins it covers.
                var t = last
                while t < time {
                    let bin = min(bins - 1, Int((t - start) / width))
                    let binEnd = bin == bins - 1 ? max(time, t) : start + Double(bin + 1) * width
                    let until = min(time, binEnd)
                    busy[bin] += cores * (until - t)
                    queued[bin] += jobs * (until - t)
                    if until <= t { break }
                    t = until
                }
                last = max(last, time)
            }
            for event in events {
                spread(to: event.time)
                cores += event.cores
                jobs += event.jobs
            }
            spread(to: end)
            let slots = Double(max(report.slots, 1))
            for bin in 0..<bins {
                let x = Double(bin) * width + width / 2
                utilisation.append((x, busy[bin] / width / slots))
                waiting.append((x, queued[bin] / width))
            }
        }
    }
}
