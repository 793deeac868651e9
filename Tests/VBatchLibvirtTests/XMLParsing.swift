import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif

/// Parses `xml` with XMLParser (no namespace processing: names keep their prefixes).
func parseXML(_ xml: String) throws -> ParsedXML {
    let parser = XMLParser(data: Data(xml.utf8))
    let collector = NodeCollector()
    parser.delegate = collector
    guard parser.parse() else {
        throw ParseFailure(message: parser.parserError.map { "\($0)" } ?? "unknown parse error")
    }
    return ParsedXML(nodes: collector.nodes)
}

struct ParseFailure: Error, CustomStringConvertible {
    let message: String
    var description: String { "XML does not parse: \(message)" }
}

private final class NodeCollector: NSObject, XMLParserDelegate {
    var nodes: [ParsedXML.Node] = []
    private var open: [Int] = []

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?,
                qualifiedName: String?, attributes: [String: String] = [:]) {
        nodes.append(ParsedXML.Node(depth: open.count, name: elementName, attributes: attributes, text: ""))
        open.append(nodes.count - 1)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        if let index = open.popLast() {
            let text = nodes[index].text
            // Indentation between child elements is not content.
            if text.allSatisfy({ $0 == " " || $0 == "\n" }) && nodes.count - 1 > index {
                nodes[index].text = ""
            }
        }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        if let index = open.last {
            nodes[index].text += string
        }
    }

    func parser(_ parser: XMLParser, foundCDATA CDATABlock: Data) {
        if let index = open.last {
            nodes[index].text += String(decoding: CDATABlock, as: UTF8.self)
        }
    }
}
