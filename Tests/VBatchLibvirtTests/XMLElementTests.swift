import Testing
@testable import VBatchLibvirt

@Suite("XMLElement")
struct XMLElementTests {
    static let hostile = "a<b>&c'd\"e\nf\r\tg]]>h<!--i--><![CDATA[j]]>&amp;\u{e9}\u{1F600}"

    @Test("text and attribute values parse back unchanged")
    func roundTrip() throws {
        let element = VBatchLibvirt.XMLElement("root", attributes: [("value", Self.hostile), ("b", "")], children: [
            VBatchLibvirt.XMLElement("leaf", text: Self.hostile),
            VBatchLibvirt.XMLElement("empty"),
        ])
        let parsed = try parseXML(try element.render())
        #expect(parsed.shape == ["0 root [b,value]", "1 leaf []", "1 empty []"])
        #expect(parsed.nodes[0].attributes["value"] == Self.hostile)
        #expect(parsed.nodes[0].attributes["b"] == "")
        #expect(parsed.nodes[1].text == Self.hostile)
    }

    @Test("attributes keep their order and escaping")
    func rendering() throws {
        let xml = try VBatchLibvirt.XMLElement("a", attributes: [("z", "1"), ("y", "<\"'&>")], text: "x").render()
        #expect(xml == "<a z=\"1\" y=\"&lt;&quot;&apos;&amp;&gt;\">x</a>\n")
    }

    @Test("mixed content gets no added whitespace")
    func mixedContent() throws {
        let xml = try VBatchLibvirt.XMLElement("p", text: "t", children: [
            VBatchLibvirt.XMLElement("b", children: [VBatchLibvirt.XMLElement("i", text: "x")]),
        ]).render()
        #expect(xml == "<p>t<b><i>x</i></b></p>\n")
    }

    @Test("characters XML 1.0 forbids are rejected", arguments: ["\u{0}", "a\u{1}b", "\u{1F}", "\u{FFFE}", "\u{FFFF}"])
    func forbiddenCharacters(_ value: String) throws {
        #expect(throws: XMLError.self) { try VBatchLibvirt.XMLElement("a", text: value).render() }
        #expect(throws: XMLError.self) { try VBatchLibvirt.XMLElement("a", attributes: [("k", value)]).render() }
        #expect(throws: XMLError.self) {
            try VBatchLibvirt.XMLElement("a", children: [VBatchLibvirt.XMLElement("b", text: value)]).render()
        }
    }

    @Test("invalid names are rejected", arguments: ["", "1a", "a b", "a>", "a:b:c", ":a", "a\"", "é"])
    func invalidNames(_ name: String) throws {
        #expect(throws: XMLError.invalidName(name)) { try VBatchLibvirt.XMLElement(name).render() }
        #expect(throws: XMLError.invalidName(name)) {
            try VBatchLibvirt.XMLElement("a", attributes: [(name, "v")]).render()
        }
    }

    @Test("prefixed adds the prefix to element names only")
    func prefixing() throws {
        let element = VBatchLibvirt.XMLElement("job", attributes: [("id", "1")], children: [
            VBatchLibvirt.XMLElement("queue", text: "grid"), VBatchLibvirt.XMLElement("x:kept"),
        ]).prefixed("vb")
        #expect(element.name == "vb:job")
        #expect(element.attributes.map(\.0) == ["id"])
        #expect(element.children.map(\.name) == ["vb:queue", "x:kept"])
    }
}
