/// The subject common name of an X.509 certificate, read from its DER bytes: how vbatchd
/// names the relay behind a client certificate (`[api] relays`). Only the path to the
/// subject is walked; the TLS library has already verified the certificate.
enum CertificateSubject {
    /// The last (most specific) `CN` of the subject, or nil if there is none or the DER is malformed.
    static func commonName(der: [UInt8]) -> String? {
        var reader = DERReader(bytes: der[...])
        guard var certificate = reader.enter(tag: 0x30), var tbs = certificate.enter(tag: 0x30) else { return nil }
        if tbs.peekTag == 0xA0 { _ = tbs.next() }  // version
        for tag in [0x02, 0x30, 0x30, 0x30] as [UInt8] {  // serial, signature, issuer, validity
            guard tbs.next()?.tag == tag else { return nil }
        }
        guard var subject = tbs.enter(tag: 0x30) else { return nil }
        var name: String?
        while var set = subject.enter(tag: 0x31) {
            while var attribute = set.enter(tag: 0x30) {
                guard let oid = attribute.next(), oid.tag == 0x06, let value = attribute.next() else { return nil }
                // 2.5.4.3 commonName; UTF8String, PrintableString, IA5String or T61String
                if Array(oid.content) == [0x55, 0x04, 0x03], [0x0C, 0x13, 0x16, 0x14].contains(value.tag) {
                    name = String(decoding: value.content, as: UTF8.self)
                }
            }
        }
        return name
    }

    /// A cursor over DER elements: tag, definite length, content.
    struct DERReader {
        var bytes: ArraySlice<UInt8>

        var peekTag: UInt8? { bytes.first }

        /// The next element, or nil at the end or on a malformed length.
        mutating func next() -> (tag: UInt8, content: ArraySlice<UInt8>)? {
            guard bytes.count >= 2 else { return nil }
            let start = bytes.startIndex
            let tag = bytes[start]
            var length = Int(bytes[start + 1]), offset = start + 2
            if length & 0x80 != 0 {
                let count = length & 0x7F
                guard (1...4).contains(count), bytes.endIndex - offset >= count else { return nil }
                length = 0
                for i in 0..<count { length = length << 8 | Int(bytes[offset + i]) }
                offset += count
            }
            guard length >= 0, bytes.endIndex - offset >= length else { return nil }
            let content = bytes[offset..<offset + length]
            bytes = bytes[(offset + length)...]
            return (tag, content)
        }

        /// The next element's content as a reader, if its tag is `tag`.
        mutating func enter(tag: UInt8) -> DERReader? {
            guard peekTag == tag, let element = next() else { return nil }
            return DERReader(bytes: element.content)
        }
    }
}
