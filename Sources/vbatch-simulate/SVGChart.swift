import Foundation
import VBatchCore

/// A line chart as a standalone SVG document: title, axes with ticks, one polyline per series
/// and a legend. Small on purpose: what `vbatch simulate --plot` draws, no more. Text from
/// the configuration (queue and VO names) is escaped.
struct SVGChart {
    struct Series {
        var name: String
        var points: [(x: Double, y: Double)]
        var color: String
        var dashed = false
    }

    /// How an axis is scaled and its ticks labelled.
    enum Axis {
        /// Seconds on a linear scale, ticks at round durations (`6h`, `1d`).
        case duration
        /// Seconds on a log scale from 1 s, ticks at 1 s, 10 s, 1 min, 10 min, 1 h, 10 h, 1 d, 10 d.
        case logDuration
        /// A fraction 0…1 shown as a percentage.
        case percent
        /// A plain count.
        case count
    }

    var title: String
    var xLabel: String
    var yLabel: String
    var xAxis: Axis
    var yAxis: Axis
    var series: [Series]

    static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]

    private let width = 860.0, height = 460.0
    private let left = 78.0, right = 190.0, top = 46.0, bottom = 58.0
    private var plotWidth: Double { width - left - right }
    private var plotHeight: Double { height - top - bottom }

    init(title: String, xLabel: String, yLabel: String, xAxis: Axis, yAxis: Axis, series: [Series]) {
        (self.title, self.xLabel, self.yLabel, self.xAxis, self.yAxis, self.series) = (title, xLabel, yLabel, xAxis, yAxis, series)
    }

    func render() -> String {
        let xs = series.flatMap { $0.points.map(\.x) }, ys = series.flatMap { $0.points.map(\.y) }
        let xRange = Self.range(xs, axis: xAxis), yRange = Self.range(ys, axis: yAxis)
        func px(_ x: Double) -> Double { left + plotWidth * Self.position(x, in: xRange, axis: xAxis) }
        func py(_ y: Double) -> Double { top + plotHeight * (1 - Self.position(y, in: yRange, axis: yAxis)) }

        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="white"/>
            <text x="\(left)" y="26" font-size="16" font-weight="bold">\(Self.escape(title))</text>

            """
        // Grid and ticks.
        for tick in Self.ticks(xRange, axis: xAxis) {
            let x = Self.format(px(tick.value))
            svg += "<line x1=\"\(x)\" y1=\"\(Self.format(top))\" x2=\"\(x)\" y2=\"\(Self.format(top + plotHeight))\" stroke=\"#e4e4e4\"/>\n"
            svg += "<text x=\"\(x)\" y=\"\(Self.format(top + plotHeight + 18))\" text-anchor=\"middle\">\(Self.escape(tick.label))</text>\n"
        }
        for tick in Self.ticks(yRange, axis: yAxis) {
            let y = Self.format(py(tick.value))
            svg += "<line x1=\"\(Self.format(left))\" y1=\"\(y)\" x2=\"\(Self.format(left + plotWidth))\" y2=\"\(y)\" stroke=\"#e4e4e4\"/>\n"
            svg += "<text x=\"\(Self.format(left - 8))\" y=\"\(y)\" text-anchor=\"end\" dominant-baseline=\"middle\">"
                + "\(Self.escape(tick.label))</text>\n"
        }
        svg += "<rect x=\"\(Self.format(left))\" y=\"\(Self.format(top))\" width=\"\(Self.format(plotWidth))\" "
            + "height=\"\(Self.format(plotHeight))\" fill=\"none\" stroke=\"#444\"/>\n"
        svg += "<text x=\"\(Self.format(left + plotWidth / 2))\" y=\"\(Self.format(height - 16))\" text-anchor=\"middle\">"
            + "\(Self.escape(xLabel))</text>\n"
        svg += "<text transform=\"translate(18 \(Self.format(top + plotHeight / 2))) rotate(-90)\" text-anchor=\"middle\">"
            + "\(Self.escape(yLabel))</text>\n"
        // Series and legend.
        for (i, s) in series.enumerated() {
            let points = s.points.map { "\(Self.format(px($0.x))),\(Self.format(py($0.y)))" }.joined(separator: " ")
            let dash = s.dashed ? " stroke-dasharray=\"7 4\"" : ""
            svg += "<polyline fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"1.8\"\(dash) points=\"\(points)\"/>\n"
            let ly = top + 10 + Double(i) * 20
            let lx = left + plotWidth + 16
            svg += "<line x1=\"\(Self.format(lx))\" y1=\"\(Self.format(ly))\" x2=\"\(Self.format(lx + 26))\" y2=\"\(Self.format(ly))\" "
                + "stroke=\"\(s.color)\" stroke-width=\"2\"\(dash)/>\n"
            svg += "<text x=\"\(Self.format(lx + 32))\" y=\"\(Self.format(ly))\" dominant-baseline=\"middle\">\(Self.escape(s.name))</text>\n"
        }
        return svg + "</svg>\n"
    }

    // MARK: Scales

    /// Log-scale tick marks: 1 s, 10 s, 1 min, 10 min, 1 h, 10 h, 1 d, 10 d, 100 d.
    static let logMarks: [Double] = [1, 10, 60, 600, 3600, 36_000, 86_400, 864_000, 8_640_000]
    /// Linear duration tick steps, the first giving at most 8 ticks is used.
    static let durationSteps: [Double] = [1, 5, 10, 30, 60, 300, 600, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400,
                                          172_800, 604_800, 1_209_600, 2_592_000, 7_776_000, 31_536_000]

    /// The axis' range: from 0 (1 s on a log scale) to the first tick at or above the largest value.
    static func range(_ values: [Double], axis: Axis) -> ClosedRange<Double> {
        let top = values.max() ?? 0
        switch axis {
        case .percent: return 0...max(1, top)
        case .logDuration: return 1...(logMarks.first { $0 >= max(top, 10) } ?? top)
        case .count:
            guard top > 0 else { return 0...1 }
            let step = niceStep(top / 6)
            return 0...(top / step).rounded(.up) * step
        case .duration:
            guard top > 0 else { return 0...1 }
            let step = durationSteps.first { top / $0 <= 8 } ?? niceStep(top / 6)
            return 0...(top / step).rounded(.up) * step
        }
    }

    static func position(_ value: Double, in range: ClosedRange<Double>, axis: Axis) -> Double {
        if case .logDuration = axis {
            return (log10(max(value, 1)) - log10(range.lowerBound)) / (log10(range.upperBound) - log10(range.lowerBound))
        }
        return (value - range.lowerBound) / (range.upperBound - range.lowerBound)
    }

    static func ticks(_ range: ClosedRange<Double>, axis: Axis) -> [(value: Double, label: String)] {
        switch axis {
        case .logDuration:
            return logMarks.filter { range.contains($0) }.map { ($0, Quantities.formatWalltime(Int($0))) }
        case .percent:
            return stride(from: 0.0, through: range.upperBound + 1e-9, by: 0.2).map { ($0, "\(Int(($0 * 100).rounded()))%") }
        case .count:
            let step = niceStep(range.upperBound / 6)
            return stride(from: 0.0, through: range.upperBound + 1e-9, by: step).map { ($0, format($0)) }
        case .duration:
            let step = durationSteps.first { range.upperBound / $0 <= 8 } ?? niceStep(range.upperBound / 6)
            return stride(from: 0.0, through: range.upperBound + 1e-9, by: step).map { ($0, Quantities.formatWalltime(Int($0))) }
        }
    }

    /// 1, 2 or 5 times a power of ten, at least `rough`.
    static func niceStep(_ rough: Double) -> Double {
        guard rough > 0 else { return 1 }
        let power = pow(10, floor(log10(rough)))
        return [1.0, 2, 5, 10].map { $0 * power }.first { $0 >= rough } ?? 10 * power
    }

    static func format(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e12 ? String(Int64(value)) : String(format: "%.1f", value)
    }

    /// Configuration text (queue and VO names) as SVG text: control characters as `?`.
    static func escape(_ text: String) -> String { XMLText.escape(ReplayReport.clean(text)) }
}
