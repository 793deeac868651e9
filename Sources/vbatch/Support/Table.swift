/// A plain-text table: left-aligned columns (right-aligned where asked), two spaces apart,
/// long cells cut with `…`, control characters shown as `?` so hostile names cannot drive the
/// terminal.
struct Table {
    struct Column {
        var title: String
        /// Cells longer than this are cut.
        var maxWidth: Int = 40
        var rightAligned = false
    }

    var columns: [Column]
    private var rows: [[String]] = []

    init(_ columns: [Column]) { self.columns = columns }

    mutating func append(_ cells: [String]) {
        rows.append(zip(cells, columns).map { Self.clean($0, max: $1.maxWidth) })
    }

    func render() -> String {
        var widths = columns.map { $0.title.count }
        for row in rows {
            for (i, cell) in row.enumerated() where cell.count > widths[i] { widths[i] = cell.count }
        }
        var out = ""
        out.reserveCapacity((rows.count + 1) * (widths.reduce(0, +) + 2 * widths.count))
        func line(_ cells: [String]) {
            var text = ""
            for (i, cell) in cells.enumerated() {
                let last = i == cells.count - 1
                let pad = String(repeating: " ", count: widths[i] - cell.count)
                if columns[i].rightAligned { text += pad + cell } else { text += last ? cell : cell + pad }
                if !last { text += "  " }
            }
            while text.last == " " { text.removeLast() }
            out += text
            out += "\n"
        }
        line(columns.map(\.title))
        for row in rows { line(row) }
        return out
    }

    /// `text` with control characters as `?`, cut to `max` characters (the last one `…`).
    static func clean(_ text: String, max: Int) -> String {
        var out = ""
        var count = 0
        var index = text.startIndex
        while index < text.endIndex {
            let ch = text[index]
            index = text.index(after: index)
            if count == max - 1, index < text.endIndex {
                out += "…"
                break
            }
            out.append(ch.unicodeScalars.contains { $0.value < 32 || ($0.value >= 127 && $0.value < 160) } ? "?" : ch)
            count += 1
        }
        return out
    }
}
