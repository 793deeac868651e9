/// A pull parser for JSON (RFC 8259) over UTF-8 bytes, without Foundation or `Codable`.
///
/// `vbatch` runs once per grid job, so what it does at start-up counts: every generic
/// `Codable` instantiation makes the Swift runtime scan its protocol conformances, and
/// `JSONDecoder` takes ~130 ms to decode 10,000 ``JobInfo`` for `qstat`. This reader walks
/// the bytes in place, makes strings straight from them (`String(decoding:as:)` when they hold
/// no escapes) and allocates nothing else. It is the counterpart of ``JSONWriter``; the wire
/// types' decoders built on it are in `WireJSON.swift`.
///
///     let jobs = try JSONReader.read(bytes) { (r) throws(JSONReader.Error) in
///         try r.readArray { (r) throws(JSONReader.Error) in try JobInfo(reading: &r) }
///     }
///
/// An object is read with ``beginObject()`` and ``nextKey()`` (nil at its end) or
/// ``readObject(fields:required:_:)``, an array with ``beginArray()`` and ``nextElement()`` (false at
/// its end) or ``readArray(reserving:_:)``; a value nobody wants with ``skipValue()``. Values are read by
/// type (``readString()``, ``readInt64()``, …), which fails with a type mismatch on a value of
/// another type; ``skipNull()`` first for an optional.
///
/// Like `JSONDecoder` it takes a leading UTF-8 byte order mark and one trailing comma before
/// `]` or `}`, and refuses invalid UTF-8, unpaired surrogate escapes, raw control characters
/// in strings, numbers the type read cannot hold and nesting deeper than ``maxDepth``. Unlike
/// it, it checks values it skips as strictly as values it reads, takes an integer only if its
/// value is exactly whole (`JSONDecoder` goes through `Double`: it takes `1.000000000000000001`
/// and `1e-400` as 1 and 0), and reads UTF-8 only (not UTF-16 or UTF-32 with a byte order mark).
public struct JSONReader {
    /// Deepest nesting of arrays and objects accepted (`JSONDecoder`'s limit too).
    public static let maxDepth = 512

    /// What went wrong, where: ``offset`` is the byte offset in the input, ``path`` the member
    /// (`[3].cores`) whose value was being read, if known.
    public struct Error: Swift.Error, Sendable, Equatable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            /// Not JSON: an unexpected byte, a bad escape, invalid UTF-8, an unpaired surrogate.
            case syntax
            /// The input ends inside a value.
            case unexpectedEnd
            /// Arrays and objects nested deeper than ``JSONReader/maxDepth``.
            case tooDeep
            /// A value of another JSON type than expected (`null` for a required value too),
            /// or a number with a fraction where an integer is expected.
            case typeMismatch
            /// A number too large (or too small) for the type read.
            case numberOutOfRange
            /// A required object member is absent.
            case missingKey
            /// A value of the right JSON type that the field does not accept (an unknown enum case).
            case invalidValue
        }

        public var kind: Kind
        /// Byte offset of the problem in the input.
        public var offset: Int
        public var message: String
        /// The member being read, as `key`, `[index]` and `.key` steps; empty at the top level.
        public var path: String

        public init(_ kind: Kind, _ message: String, offset: Int, path: String = "") {
            self.kind = kind
            self.message = message
            self.offset = offset
            self.path = path
        }

        public var description: String {
            (path.isEmpty ? "" : path + ": ") + message + " (at byte \(offset))"
        }

        /// The same error, as met inside the member `key` of an object.
        public func inKey(_ key: String) -> Error {
            var e = self
            e.path = path.isEmpty ? key : path.hasPrefix("[") ? key + path : key + "." + path
            return e
        }

        /// The same error, as met inside element `index` of an array.
        public func atIndex(_ index: Int) -> Error {
            var e = self
            e.path = path.isEmpty || path.hasPrefix("[") ? "[\(index)]" + path : "[\(index)]." + path
            return e
        }
    }

    /// The JSON type of the next value (``peek()``).
    public enum ValueKind: Sendable, Equatable {
        case object, array, string, number, bool, null
    }

    /// An object member's name, valid while the reader's input is.
    public struct Key {
        /// The bytes between the quotes, escapes undecoded.
        let raw: UnsafeBufferPointer<UInt8>
        /// The name, if it holds escapes (then ``raw`` cannot be compared as is).
        let decoded: String?

        /// The member name.
        public var string: String { decoded ?? String(decoding: raw, as: UTF8.self) }

        public static func == (key: Key, name: StaticString) -> Bool {
            name.withUTF8Buffer { name in
                if let decoded = key.decoded {
                    return decoded.utf8.elementsEqual(name)
                }
                guard key.raw.count == name.count else { return false }
                for i in 0..<name.count where key.raw[i] != name[i] { return false }
                return true
            }
        }

        /// This key's position in `names`, or nil. `hint` is tried first and left after the
        /// match: the encoders write members in declaration order, so it is usually right.
        public func index(in names: [StaticString], hint: inout Int) -> Int? {
            if hint < names.count, self == names[hint] {
                hint += 1
                return hint - 1
            }
            for i in names.indices where i != hint && self == names[i] {
                hint = i + 1
                return i
            }
            return nil
        }
    }

    private let buffer: UnsafeBufferPointer<UInt8>
    /// Byte offset of the next byte to read.
    public private(set) var offset: Int
    /// Open arrays and objects.
    public private(set) var depth = 0
    /// In the innermost open container, no member or element has been read yet.
    private var first = false

    /// A reader over `buffer`, which must outlive it; a leading UTF-8 byte order mark is skipped.
    public init(_ buffer: UnsafeBufferPointer<UInt8>) {
        self.buffer = buffer
        offset = 0
        if buffer.count >= 3, buffer[0] == 0xEF, buffer[1] == 0xBB, buffer[2] == 0xBF { offset = 3 }
    }

    /// Reads one JSON document: `body` reads its value, then only whitespace may follow.
    public static func read<T>(_ bytes: [UInt8], _ body: (inout JSONReader) throws(Error) -> T) throws(Error) -> T {
        let result: Result<T, Error> = bytes.withUnsafeBufferPointer { buffer in
            readResult(buffer, body)
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw error
        }
    }

    /// Reads one JSON document from `buffer`: `body` reads its value, then only whitespace may follow.
    public static func read<T>(_ buffer: UnsafeBufferPointer<UInt8>,
                               _ body: (inout JSONReader) throws(Error) -> T) throws(Error) -> T {
        let result: Result<T, Error> = readResult(buffer, body)
        switch result {
        case .success(let value): return value
        case .failure(let error): throw error
        }
    }

    private static func readResult<T>(_ buffer: UnsafeBufferPointer<UInt8>,
                                _ body: (inout JSONReader) throws(Error) -> T) -> Result<T, Error> {
        var reader = JSONReader(buffer)
        do throws(Error) {
            let value = try body(&reader)
            try reader.finish()
            return .success(value)
        } catch {
            return .failure(error)
        }
    }

    /// Checks that nothing but whitespace is left.
    public mutating func finish() throws(Error) {
        skipWhitespace()
        guard offset == buffer.count else {
            throw error(.syntax, "unexpected \(found()) after the JSON value")
        }
    }

    /// An error at `offset` (default: the reader's position), for decoders built on this reader.
    public func error(_ kind: Error.Kind, _ message: String, at offset: Int? = nil) -> Error {
        Error(kind, message, offset: offset ?? self.offset)
    }

    // MARK: - Looking ahead

    /// The type of the next value, after skipping whitespace; consumes nothing else.
    public mutating func peek() throws(Error) -> ValueKind {
        skipWhitespace()
        guard offset < buffer.count else { throw endError("a value") }
        switch buffer[offset] {
        case UInt8(ascii: "{"): return .object
        case UInt8(ascii: "["): return .array
        case UInt8(ascii: "\""): return .string
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return .number
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return .bool
        case UInt8(ascii: "n"): return .null
        default: throw error(.syntax, "expected a value, found \(found())")
        }
    }

    /// Consumes a `null` and returns true; returns false, consuming nothing but whitespace, at
    /// any other value. For optionals: `x = try r.skipNull() ? nil : r.readString()`.
    public mutating func skipNull() throws(Error) -> Bool {
        skipWhitespace()
        guard offset < buffer.count, buffer[offset] == UInt8(ascii: "n") else { return false }
        try literal("null")
        return true
    }

    // MARK: - Containers

    /// Consumes the `{` that starts an object.
    public mutating func beginObject() throws(Error) {
        try open(UInt8(ascii: "{"), "an object")
    }

    /// The next member's key, having consumed it and its `:` (its value is next), or nil having
    /// consumed the object's `}`.
    public mutating func nextKey() throws(Error) -> Key? {
        if try closes(UInt8(ascii: "}"), in: "an object", next: "a key") { return nil }
        guard buffer[offset] == UInt8(ascii: "\"") else { throw error(.syntax, "expected a key string, found \(found())") }
        let span = try scanString()
        skipWhitespace()
        guard offset < buffer.count else { throw endError("':'") }
        guard buffer[offset] == UInt8(ascii: ":") else { throw error(.syntax, "expected ':' after a key, found \(found())") }
        offset += 1
        let raw = UnsafeBufferPointer(rebasing: buffer[span.start..<span.end])
        return Key(raw: raw, decoded: span.escaped ? Self.unescape(raw) : nil)
    }

    /// Consumes the `[` that starts an array.
    public mutating func beginArray() throws(Error) {
        try open(UInt8(ascii: "["), "an array")
    }

    /// True if another element follows (read it next), false having consumed the array's `]`.
    public mutating func nextElement() throws(Error) -> Bool {
        try !closes(UInt8(ascii: "]"), in: "an array", next: "a value")
    }

    /// Between the members or elements of the open container: true having consumed its
    /// `closing` bracket (after a trailing comma too, as JSONDecoder accepts); else false,
    /// having consumed the `,` before any but the first, at what comes `next`.
    @inline(__always)
    private mutating func closes(_ closing: UInt8, in container: String, next: String) throws(Error) -> Bool {
        skipWhitespace()
        guard offset < buffer.count else { throw endError("'\(Character(Unicode.Scalar(closing)))'") }
        if buffer[offset] == closing { close(); return true }
        if !first {
            guard buffer[offset] == UInt8(ascii: ",") else {
                throw error(.syntax, "expected ',' or '\(Character(Unicode.Scalar(closing)))' in \(container), found \(found())")
            }
            offset += 1
            skipWhitespace()
            guard offset < buffer.count else { throw endError(next) }
            if buffer[offset] == closing { close(); return true }
        }
        first = false
        return false
    }

    /// A whole array, each element read by `element`; errors name the element's index.
    /// `reserving`: room to make at once (a guess at the count), so that a long array of
    /// large elements is not copied on every doubling.
    public mutating func readArray<T>(reserving: Int = 0, _ element: (inout JSONReader) throws(Error) -> T) throws(Error) -> [T] {
        try beginArray()
        var result: [T] = []
        result.reserveCapacity(reserving)
        var index = 0
        while try nextElement() {
            do throws(Error) {
                result.append(try element(&self))
            } catch {
                throw error.atIndex(index)
            }
            index += 1
        }
        return result
    }

    /// A whole object whose members are named in `fields`: `member` reads the value of the
    /// member at that index. Unknown members are skipped and, as with `JSONDecoder`, only the
    /// first of repeated ones counts; errors name the member. `required` has a bit set for each
    /// index that must be present: the first one missing is a
    /// ``Error/Kind-swift.enum/missingKey`` at the object's start. At most 64 fields.
    public mutating func readObject(fields: [StaticString], required: UInt64,
                                    _ member: (inout JSONReader, Int) throws(Error) -> Void) throws(Error) {
        precondition(fields.count <= 64)
        _ = try peek()
        let start = offset
        try beginObject()
        var seen: UInt64 = 0
        var hint = 0
        while let key = try nextKey() {
            do throws(Error) {
                if let i = key.index(in: fields, hint: &hint), seen & (1 << UInt64(i)) == 0 {
                    seen |= 1 << UInt64(i)
                    try member(&self, i)
                } else {
                    try skipValue()
                }
            } catch {
                throw error.inKey(key.string)
            }
        }
        let missing = required & ~seen
        guard missing != 0 else { return }
        let name = fields[missing.trailingZeroBitCount].withUTF8Buffer { String(decoding: $0, as: UTF8.self) }
        throw error(.missingKey, "missing field \"\(name)\"", at: start)
    }

    // MARK: - Scalars

    /// A string value, escapes decoded.
    public mutating func readString() throws(Error) -> String {
        try expect(UInt8(ascii: "\""), "a string")
        let span = try scanString()
        let raw = UnsafeBufferPointer(rebasing: buffer[span.start..<span.end])
        return span.escaped ? Self.unescape(raw) : String(decoding: raw, as: UTF8.self)
    }

    /// A string value that must be the raw value of a case of `E` (``Error/Kind-swift.enum/invalidValue`` if not).
    public mutating func readEnum<E: RawRepresentable>(_ type: E.Type) throws(Error) -> E where E.RawValue == String {
        try expect(UInt8(ascii: "\""), "a string")
        let start = offset
        let raw = try readString()
        guard let value = E(rawValue: raw) else {
            throw error(.invalidValue, "\"\(raw)\" is not a valid \(E.self)", at: start)
        }
        return value
    }

    /// `true` or `false`.
    public mutating func readBool() throws(Error) -> Bool {
        skipWhitespace()
        guard offset < buffer.count else { throw endError("true or false") }
        switch buffer[offset] {
        case UInt8(ascii: "t"): try literal("true"); return true
        case UInt8(ascii: "f"): try literal("false"); return false
        default: throw mismatch("true or false")
        }
    }

    /// An integer. Written with a fraction or exponent it is taken if its value is exactly whole
    /// (`1.0`, `1e2`, as `JSONDecoder` takes them); `1.5` is a type mismatch.
    public mutating func readInt64() throws(Error) -> Int64 {
        try expectNumber("an integer")
        let number = try scanNumber()
        return try integer(number)
    }

    /// An integer that fits in `Int` (see ``readInt64()``).
    public mutating func readInt() throws(Error) -> Int {
        try expectNumber("an integer")
        let number = try scanNumber()
        guard let value = Int(exactly: try integer(number)) else {
            throw error(.numberOutOfRange, "\(text(number)) does not fit in Int", at: number.start)
        }
        return value
    }

    /// A number, correctly rounded; integers are numbers too. One whose magnitude rounds to
    /// infinity, or a non-zero one that rounds to zero, is out of range, as with `JSONDecoder`.
    public mutating func readDouble() throws(Error) -> Double {
        try expectNumber("a number")
        let n = try scanNumber()
        // Up to 19 significant digits, in a UInt64.
        var mantissa: UInt64 = 0
        var digits = 0
        var exact = true
        for i in n.digitIndices where exact {
            let d = UInt64(buffer[i] &- UInt8(ascii: "0"))
            if mantissa == 0 && d == 0 { continue }
            digits += 1
            if digits > 19 { exact = false } else { mantissa = mantissa &* 10 &+ d }
        }
        if exact {
            if mantissa == 0 { return n.negative ? -0.0 : 0.0 }
            // Clinger's fast path: both operands exact, so the one rounding is correct.
            let scale = n.exponent - n.fractionDigits
            if mantissa <= 1 << 53, scale >= -22, scale <= 22 {
                let m = Double(mantissa)
                let v = scale < 0 ? m / Self.powersOfTen[-scale] : m * Self.powersOfTen[scale]
                return n.negative ? -v : v
            }
        }
        // Otherwise the standard library's correctly rounded conversion of the number's text.
        let string = text(n)
        guard let value = Double(string), value.isFinite, value != 0 else {
            throw error(.numberOutOfRange, "\(string) is out of the range of Double", at: n.start)
        }
        return value
    }

    private static let powersOfTen: [Double] = [
        1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11,
        1e12, 1e13, 1e14, 1e15, 1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
    ]

    // MARK: - Skipping

    /// Skips one value of any type and depth, checking that it is well-formed JSON. Iterative:
    /// hostile nesting cannot exhaust the stack, and stops at ``maxDepth``.
    public mutating func skipValue() throws(Error) {
        var kinds = ContainerBits()  // per open level: 1 object, 0 array
        var level = 0
        while true {
            // A value starts here.
            skipWhitespace()
            guard offset < buffer.count else { throw endError("a value") }
            switch buffer[offset] {
            case UInt8(ascii: "{"), UInt8(ascii: "["):
                guard depth + level < Self.maxDepth else {
                    throw error(.tooDeep, "arrays and objects nested deeper than \(Self.maxDepth)")
                }
                let isObject = buffer[offset] == UInt8(ascii: "{")
                offset += 1
                kinds[level] = isObject
                level += 1
                skipWhitespace()
                guard offset < buffer.count else { throw endError(isObject ? "a key" : "a value") }
                if buffer[offset] == (isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")) {
                    offset += 1
                    level -= 1
                } else {
                    if isObject { try skipKeyAndColon() }
                    continue
                }
            case UInt8(ascii: "\""): _ = try scanString()
            case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): _ = try scanNumber()
            case UInt8(ascii: "t"): try literal("true")
            case UInt8(ascii: "f"): try literal("false")
            case UInt8(ascii: "n"): try literal("null")
            default: throw error(.syntax, "expected a value, found \(found())")
            }
            // A value ended: close containers, or go on to the next member or element.
            while true {
                if level == 0 { return }
                let isObject = kinds[level - 1]
                let closing = isObject ? UInt8(ascii: "}") : UInt8(ascii: "]")
                skipWhitespace()
                guard offset < buffer.count else { throw endError(isObject ? "'}'" : "']'") }
                if buffer[offset] == closing {
                    offset += 1
                    level -= 1
                    continue
                }
                guard buffer[offset] == UInt8(ascii: ",") else {
                    throw error(.syntax, "expected ',' or '\(Character(Unicode.Scalar(closing)))', found \(found())")
                }
                offset += 1
                skipWhitespace()
                guard offset < buffer.count else { throw endError(isObject ? "a key" : "a value") }
                if buffer[offset] == closing {  // a trailing comma, as JSONDecoder accepts
                    offset += 1
                    level -= 1
                    continue
                }
                if isObject { try skipKeyAndColon() }
                break
            }
        }
    }

    private mutating func skipKeyAndColon() throws(Error) {
        guard buffer[offset] == UInt8(ascii: "\"") else { throw error(.syntax, "expected a key string, found \(found())") }
        _ = try scanString()
        skipWhitespace()
        guard offset < buffer.count else { throw endError("':'") }
        guard buffer[offset] == UInt8(ascii: ":") else { throw error(.syntax, "expected ':' after a key, found \(found())") }
        offset += 1
    }

    /// One bit per nesting level, for ``skipValue()``: enough for ``maxDepth`` without allocating.
    private struct ContainerBits {
        private var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0, 0, 0, 0, 0)

        subscript(level: Int) -> Bool {
            get {
                withUnsafeBytes(of: words) { raw in
                    raw.load(fromByteOffset: (level >> 6) * 8, as: UInt64.self) & (1 << UInt64(level & 63)) != 0
                }
            }
            set {
                withUnsafeMutableBytes(of: &words) { raw in
                    var word = raw.load(fromByteOffset: (level >> 6) * 8, as: UInt64.self)
                    if newValue { word |= 1 << UInt64(level & 63) } else { word &= ~(1 << UInt64(level & 63)) }
                    raw.storeBytes(of: word, toByteOffset: (level >> 6) * 8, as: UInt64.self)
                }
            }
        }
    }

    // MARK: - Scanning

    private mutating func skipWhitespace() {
        while offset < buffer.count {
            switch buffer[offset] {
            case 0x20, 0x0A, 0x0D, 0x09: offset += 1
            default: return
            }
        }
    }

    private mutating func open(_ bracket: UInt8, _ what: String) throws(Error) {
        skipWhitespace()
        guard offset < buffer.count, buffer[offset] == bracket else { throw mismatch(what) }
        guard depth < Self.maxDepth else {
            throw error(.tooDeep, "arrays and objects nested deeper than \(Self.maxDepth)")
        }
        depth += 1
        offset += 1
        first = true
    }

    /// Consumes the closing bracket at `offset`.
    private mutating func close() {
        offset += 1
        depth -= 1
        first = false
    }

    /// Skips whitespace and checks the next value starts with `byte`, consuming nothing.
    private mutating func expect(_ byte: UInt8, _ what: String) throws(Error) {
        skipWhitespace()
        guard offset < buffer.count, buffer[offset] == byte else { throw mismatch(what) }
    }

    private mutating func expectNumber(_ what: String) throws(Error) {
        skipWhitespace()
        guard offset < buffer.count else { throw endError(what) }
        switch buffer[offset] {
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return
        default: throw mismatch(what)
        }
    }

    /// Consumes `word` (`true`, `false`, `null`) at `offset`.
    private mutating func literal(_ word: StaticString) throws(Error) {
        let start = offset
        let ok = word.withUTF8Buffer { w -> Bool? in
            for (i, b) in w.enumerated() {
                guard start + i < buffer.count else { return nil }
                if buffer[start + i] != b { return false }
            }
            return true
        }
        switch ok {
        case nil: throw endError("\(word)")
        case false?: throw error(.syntax, "invalid literal, expected \(word)")
        case true?: offset += word.utf8CodeUnitCount
        }
    }

    /// Validates the string whose opening quote is at `offset` and consumes it; returns the
    /// range of its contents and whether it holds escapes.
    private mutating func scanString() throws(Error) -> (start: Int, end: Int, escaped: Bool) {
        let start = offset + 1
        var i = start
        var escaped = false
        let count = buffer.count
        while i < count {
            // Eight plain ASCII bytes at a time (this is where a job list's time goes).
            if let base = buffer.baseAddress {
                while i + 8 <= count, Self.isPlainASCII(UnsafeRawPointer(base + i).loadUnaligned(as: UInt64.self)) {
                    i += 8
                }
                guard i < count else { break }
            }
            let b = buffer[i]
            if b == UInt8(ascii: "\"") {
                offset = i + 1
                return (start, i, escaped)
            } else if b == UInt8(ascii: "\\") {
                escaped = true
                i = try scanEscape(at: i)
            } else if b < 0x20 {
                throw error(.syntax, "unescaped control character 0x\(String(b, radix: 16)) in a string", at: i)
            } else if b < 0x80 {
                i += 1
            } else {
                i = try scanUTF8(at: i)
            }
        }
        offset = count
        throw endError("the end of a string")
    }

    /// True if none of the 8 bytes in `w` is a quote, a backslash, a control character or
    /// non-ASCII (the usual bit tricks; a false alarm only sends them the slow way).
    @inline(__always)
    private static func isPlainASCII(_ w: UInt64) -> Bool {
        let ones: UInt64 = 0x0101_0101_0101_0101
        let high: UInt64 = 0x8080_8080_8080_8080
        let quotes = w ^ (ones &* 0x22)
        let backslashes = w ^ (ones &* 0x5C)
        let special = ((quotes &- ones) & ~quotes) | ((backslashes &- ones) & ~backslashes) | (w &- ones &* 0x20) | w
        return special & high == 0
    }

    /// Validates the escape at `i` (a backslash); returns the index after it.
    private func scanEscape(at i: Int) throws(Error) -> Int {
        guard i + 1 < buffer.count else { throw error(.unexpectedEnd, "the input ends in an escape", at: i) }
        switch buffer[i + 1] {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
             UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"):
            return i + 2
        case UInt8(ascii: "u"):
            let unit = try hex4(at: i + 2, escapeAt: i)
            switch unit {
            case 0xD800...0xDBFF:
                if i + 6 == buffer.count || (i + 7 == buffer.count && buffer[i + 6] == UInt8(ascii: "\\")) {
                    throw error(.unexpectedEnd, "the input ends after a high surrogate", at: i)
                }
                guard i + 7 < buffer.count, buffer[i + 6] == UInt8(ascii: "\\"), buffer[i + 7] == UInt8(ascii: "u") else {
                    throw error(.syntax, "unpaired high surrogate \\u\(String(unit, radix: 16))", at: i)
                }
                let low = try hex4(at: i + 8, escapeAt: i + 6)
                guard (0xDC00...0xDFFF).contains(low) else {
                    throw error(.syntax, "high surrogate \\u\(String(unit, radix: 16)) not followed by a low one", at: i)
                }
                return i + 12
            case 0xDC00...0xDFFF:
                throw error(.syntax, "unpaired low surrogate \\u\(String(unit, radix: 16))", at: i)
            default:
                return i + 6
            }
        default:
            throw error(.syntax, "invalid escape \\\(Character(Unicode.Scalar(buffer[i + 1])))", at: i)
        }
    }

    private func hex4(at i: Int, escapeAt e: Int) throws(Error) -> UInt32 {
        guard i + 4 <= buffer.count else { throw error(.unexpectedEnd, "the input ends in a \\u escape", at: e) }
        var value: UInt32 = 0
        for k in i..<(i + 4) {
            guard let d = Self.hexDigit(buffer[k]) else { throw error(.syntax, "invalid \\u escape", at: e) }
            value = value << 4 | d
        }
        return value
    }

    private static func hexDigit(_ b: UInt8) -> UInt32? {
        switch b {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): UInt32(b - UInt8(ascii: "0"))
        case UInt8(ascii: "a")...UInt8(ascii: "f"): UInt32(b - UInt8(ascii: "a") + 10)
        case UInt8(ascii: "A")...UInt8(ascii: "F"): UInt32(b - UInt8(ascii: "A") + 10)
        default: nil
        }
    }

    /// Validates the multi-byte UTF-8 sequence starting at `i` (no overlong forms, surrogates
    /// or code points above U+10FFFF); returns the index after it.
    private func scanUTF8(at i: Int) throws(Error) -> Int {
        let lead = buffer[i]
        let length: Int
        var low: UInt8 = 0x80, high: UInt8 = 0xBF  // bounds of the second byte
        switch lead {
        case 0xC2...0xDF: length = 2
        case 0xE0: length = 3; low = 0xA0
        case 0xE1...0xEC, 0xEE...0xEF: length = 3
        case 0xED: length = 3; high = 0x9F
        case 0xF0: length = 4; low = 0x90
        case 0xF1...0xF3: length = 4
        case 0xF4: length = 4; high = 0x8F
        default: throw error(.syntax, "invalid UTF-8 byte 0x\(String(lead, radix: 16))", at: i)
        }
        guard i + length <= buffer.count else {
            // Only an error of its own if what is there is not a valid start.
            for k in (i + 1)..<buffer.count where buffer[k] & 0xC0 != 0x80 || (k == i + 1 && !(low...high).contains(buffer[k])) {
                throw error(.syntax, "invalid UTF-8 sequence", at: i)
            }
            throw error(.unexpectedEnd, "the input ends in a UTF-8 sequence", at: i)
        }
        guard (low...high).contains(buffer[i + 1]) else { throw error(.syntax, "invalid UTF-8 sequence", at: i) }
        for k in (i + 2)..<(i + length) where buffer[k] & 0xC0 != 0x80 {
            throw error(.syntax, "invalid UTF-8 sequence", at: i)
        }
        return i + length
    }

    /// The contents of a validated string with escapes, decoded.
    private static func unescape(_ raw: UnsafeBufferPointer<UInt8>) -> String {
        // Decoded, a string is never longer than escaped.
        String(unsafeUninitializedCapacity: raw.count) { out in
            var n = 0
            var i = 0
            func hex(_ at: Int) -> UInt32 {
                var v: UInt32 = 0
                for k in at..<(at + 4) { v = v << 4 | hexDigit(raw[k])! }
                return v
            }
            while i < raw.count {
                let b = raw[i]
                guard b == UInt8(ascii: "\\") else {
                    out[n] = b
                    n += 1
                    i += 1
                    continue
                }
                let e = raw[i + 1]
                i += 2
                var scalar: UInt32
                switch e {
                case UInt8(ascii: "b"): scalar = 0x08
                case UInt8(ascii: "f"): scalar = 0x0C
                case UInt8(ascii: "n"): scalar = 0x0A
                case UInt8(ascii: "r"): scalar = 0x0D
                case UInt8(ascii: "t"): scalar = 0x09
                case UInt8(ascii: "u"):
                    scalar = hex(i)
                    i += 4
                    if (0xD800...0xDBFF).contains(scalar) {
                        scalar = 0x10000 + ((scalar - 0xD800) << 10) + (hex(i + 2) - 0xDC00)
                        i += 6
                    }
                default: scalar = UInt32(e)  // " \ /
                }
                switch scalar {
                case ..<0x80:
                    out[n] = UInt8(scalar); n += 1
                case ..<0x800:
                    out[n] = UInt8(0xC0 | scalar >> 6)
                    out[n + 1] = UInt8(0x80 | scalar & 0x3F)
                    n += 2
                case ..<0x10000:
                    out[n] = UInt8(0xE0 | scalar >> 12)
                    out[n + 1] = UInt8(0x80 | scalar >> 6 & 0x3F)
                    out[n + 2] = UInt8(0x80 | scalar & 0x3F)
                    n += 3
                default:
                    out[n] = UInt8(0xF0 | scalar >> 18)
                    out[n + 1] = UInt8(0x80 | scalar >> 12 & 0x3F)
                    out[n + 2] = UInt8(0x80 | scalar >> 6 & 0x3F)
                    out[n + 3] = UInt8(0x80 | scalar & 0x3F)
                    n += 4
                }
            }
            return n
        }
    }

    /// A validated number's parts: `[start, end)` its text, digits in `[intStart, intEnd)` and
    /// `[fractionStart, fractionEnd)`, times 10^exponent.
    private struct Number {
        var start: Int
        var end: Int
        var negative: Bool
        var intStart: Int
        var intEnd: Int
        var fractionStart: Int
        var fractionEnd: Int
        /// Clamped to ±1e9, far beyond any Double or Int64.
        var exponent: Int

        var fractionDigits: Int { fractionEnd - fractionStart }
        /// The byte offsets of all the mantissa's digits, in order.
        var digitIndices: DigitIndices {
            DigitIndices(position: intStart, intEnd: intEnd, fractionStart: fractionStart, end: fractionEnd)
        }
    }

    /// The integer part's digit offsets, then the fraction's, without allocating.
    private struct DigitIndices: Sequence, IteratorProtocol {
        var position: Int
        let intEnd: Int
        let fractionStart: Int
        let end: Int

        mutating func next() -> Int? {
            if position == intEnd { position = fractionStart }
            guard position < end else { return nil }
            position += 1
            return position - 1
        }
    }

    private func text(_ n: Number) -> String {
        String(decoding: UnsafeBufferPointer(rebasing: buffer[n.start..<n.end]), as: UTF8.self)
    }

    /// Validates the number at `offset` (RFC 8259's grammar) and consumes it.
    private mutating func scanNumber() throws(Error) -> Number {
        let count = buffer.count
        let start = offset
        var i = start
        func isDigit(_ i: Int) -> Bool { i < count && buffer[i] &- UInt8(ascii: "0") < 10 }
        func digitExpected(_ i: Int, _ after: String) -> Error {
            i < count ? error(.syntax, "expected a digit \(after), found \(found(at: i))", at: i)
                : error(.unexpectedEnd, "the input ends in a number", at: i)
        }
        let negative = buffer[i] == UInt8(ascii: "-")
        if negative { i += 1 }
        let intStart = i
        guard isDigit(i) else { throw digitExpected(i, "in a number") }
        if buffer[i] == UInt8(ascii: "0") {
            i += 1
        } else {
            while isDigit(i) { i += 1 }
        }
        let intEnd = i
        var fractionStart = i, fractionEnd = i
        if i < count, buffer[i] == UInt8(ascii: ".") {
            i += 1
            fractionStart = i
            guard isDigit(i) else { throw digitExpected(i, "after '.'") }
            while isDigit(i) { i += 1 }
            fractionEnd = i
        }
        var exponent = 0
        if i < count, buffer[i] | 0x20 == UInt8(ascii: "e") {
            i += 1
            var negativeExponent = false
            if i < count, buffer[i] == UInt8(ascii: "-") || buffer[i] == UInt8(ascii: "+") {
                negativeExponent = buffer[i] == UInt8(ascii: "-")
                i += 1
            }
            guard isDigit(i) else { throw digitExpected(i, "in an exponent") }
            while isDigit(i) {
                if exponent < 1_000_000_000 { exponent = exponent * 10 + Int(buffer[i] - UInt8(ascii: "0")) }
                i += 1
            }
            if negativeExponent { exponent = -exponent }
        }
        offset = i
        return Number(start: start, end: i, negative: negative, intStart: intStart, intEnd: intEnd,
                      fractionStart: fractionStart, fractionEnd: fractionEnd, exponent: exponent)
    }

    /// The exact integer value of `n`, if it is a whole number that fits in Int64.
    private func integer(_ n: Number) throws(Error) -> Int64 {
        let limit: UInt64 = n.negative ? 1 << 63 : UInt64(Int64.max)
        var magnitude: UInt64 = 0
        if n.fractionStart == n.fractionEnd && n.exponent == 0 {
            // Plain digits: the usual case.
            for i in n.intStart..<n.intEnd {
                let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                let (sum, o2) = times10.addingReportingOverflow(UInt64(buffer[i] - UInt8(ascii: "0")))
                guard !o1, !o2, sum <= limit else { throw outOfRange(n, "Int64") }
                magnitude = sum
            }
        } else {
            // digits × 10^scale: whole if the digits' trailing zeros make up for a negative scale.
            var last = -1  // the last non-zero digit's byte offset
            for i in n.digitIndices where buffer[i] != UInt8(ascii: "0") { last = i }
            if last >= 0 {
                var scale = n.exponent - n.fractionDigits
                // Trailing zeros after `last` count as powers of ten.
                scale += last < n.intEnd ? (n.intEnd - 1 - last) + n.fractionDigits : n.fractionEnd - 1 - last
                guard scale >= 0 else {
                    throw error(.typeMismatch, "expected an integer, found \(text(n))", at: n.start)
                }
                for i in n.digitIndices {
                    let (times10, o1) = magnitude.multipliedReportingOverflow(by: 10)
                    let (sum, o2) = times10.addingReportingOverflow(UInt64(buffer[i] - UInt8(ascii: "0")))
                    guard !o1, !o2, sum <= limit else { throw outOfRange(n, "Int64") }
                    magnitude = sum
                    if i == last { break }
                }
                guard scale <= 19 else { throw outOfRange(n, "Int64") }
                for _ in 0..<scale {
                    let (times10, o) = magnitude.multipliedReportingOverflow(by: 10)
                    guard !o, times10 <= limit else { throw outOfRange(n, "Int64") }
                    magnitude = times10
                }
            }
        }
        if n.negative {
            return magnitude == 1 << 63 ? .min : -Int64(magnitude)
        }
        return Int64(magnitude)
    }

    private func outOfRange(_ n: Number, _ type: String) -> Error {
        error(.numberOutOfRange, "\(text(n)) does not fit in \(type)", at: n.start)
    }

    // MARK: - Errors

    private func mismatch(_ expected: String) -> Error {
        guard offset < buffer.count else { return endError(expected) }
        switch buffer[offset] {
        case UInt8(ascii: "{"), UInt8(ascii: "["), UInt8(ascii: "\""), UInt8(ascii: "-"),
             UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "t"), UInt8(ascii: "f"), UInt8(ascii: "n"):
            return error(.typeMismatch, "expected \(expected), found \(found())")
        default:
            return error(.syntax, "expected \(expected), found \(found())")
        }
    }

    private func endError(_ expected: String) -> Error {
        error(.unexpectedEnd, "the input ends where \(expected) should be", at: buffer.count)
    }

    /// What is at `at`, for messages.
    private func found(at i: Int? = nil) -> String {
        let i = i ?? offset
        guard i < buffer.count else { return "the end of the input" }
        switch buffer[i] {
        case UInt8(ascii: "{"): return "an object"
        case UInt8(ascii: "["): return "an array"
        case UInt8(ascii: "\""): return "a string"
        case UInt8(ascii: "-"), UInt8(ascii: "0")...UInt8(ascii: "9"): return "a number"
        case UInt8(ascii: "t"), UInt8(ascii: "f"): return "a boolean"
        case UInt8(ascii: "n"): return "null"
        case let b where b >= 0x21 && b < 0x7F: return "'\(Character(Unicode.Scalar(b)))'"
        case let b: return "byte 0x\(String(b, radix: 16))"
        }
    }
}
