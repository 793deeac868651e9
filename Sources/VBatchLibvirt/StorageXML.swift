/// Storage pool and volume XML, built through ``XMLElement`` like the domain XML, so no name
/// or path can change the document's structure. Formats are always explicit: libvirt never
/// probes a volume's format from its contents.
public enum StorageXML {
    /// A directory pool (`<pool type='dir'>`) at `path`.
    public static func directoryPool(name: String, path: String) throws -> String {
        try XMLElement("pool", attributes: [("type", "dir")], children: [
            XMLElement("name", text: name),
            XMLElement("target", children: [
                XMLElement("path", text: path),
                XMLElement("permissions", children: [XMLElement("mode", text: "0711")]),
            ]),
        ]).render()
    }

    /// A volume of `capacityBytes` in `format` (`raw` or `qcow2`), sparse (allocation 0),
    /// mode 0600; with `backing`, a copy-on-write overlay on that file (path and format).
    public static func volume(name: String, capacityBytes: UInt64, format: String,
                              backing: (path: String, format: String)? = nil) throws -> String {
        for (field, value) in [("format", format), ("backing.format", backing?.format ?? "raw")]
        where !["raw", "qcow2"].contains(value) {
            throw DomainSpecError(field: "volume.\(field)", reason: "must be raw or qcow2, not \(value.debugDescription)")
        }
        var children = [
            XMLElement("name", text: name),
            XMLElement("capacity", attributes: [("unit", "bytes")], text: String(capacityBytes)),
            XMLElement("allocation", attributes: [("unit", "bytes")], text: "0"),
            XMLElement("target", children: [
                XMLElement("format", attributes: [("type", format)]),
                XMLElement("permissions", children: [XMLElement("mode", text: "0600")]),
            ]),
        ]
        if let backing {
            children.append(XMLElement("backingStore", children: [
                XMLElement("path", text: backing.path),
                XMLElement("format", attributes: [("type", backing.format)]),
            ]))
        }
        return try XMLElement("volume", attributes: [("type", "file")], children: children).render()
    }

    /// The `type` of the `<format>` inside `<target>` of a volume's XML (libvirt's own output).
    static func targetFormat(ofVolumeXML xml: String) -> String? {
        guard let target = xml.range(of: "<target>"),
              let end = xml.range(of: "</target>", range: target.upperBound..<xml.endIndex) else { return nil }
        let inside = xml[target.upperBound..<end.lowerBound]
        guard let format = inside.range(of: "<format type='") ?? inside.range(of: "<format type=\"") else { return nil }
        return String(inside[format.upperBound...].prefix { $0 != "'" && $0 != "\"" })
    }
}
