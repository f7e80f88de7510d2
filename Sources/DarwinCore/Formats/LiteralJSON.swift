import Foundation

/// A string compared scalar by scalar. Swift's `String` equality is canonical equivalence (é == e + U+0301), but a
/// tokenizer's vocabulary holds both spellings as different tokens, as `tokenizers` compares them.
struct Literal: Hashable {
    let text: String
    init(_ text: String) { self.text = text }
    static func == (a: Literal, b: Literal) -> Bool { a.text.unicodeScalars.elementsEqual(b.text.unicodeScalars) }
    func hash(into hasher: inout Hasher) { for s in text.unicodeScalars { hasher.combine(s.value) } }
}

/// Reads one object of string keys and number values out of JSON text with its keys exactly as written: JSON
/// parsers that return Swift dictionaries merge canonically equivalent keys (and keep only one of the tokens).
struct LiteralJSON {
    private let bytes: [UInt8]
    private var i = 0
    let file: String

    /// The `(key, number)` pairs of the object at `path` (object keys from the root) in `data`, or nil when absent.
    static func numberPairs(in data: Data, path: [String], file: String) throws -> [(String, Double)]? {
        var scanner = LiteralJSON(bytes: [UInt8](data), file: file)
        return try scanner.find(path[...])
    }

    private init(bytes: [UInt8], file: String) { self.bytes = bytes; self.file = file }

    private func fail(_ what: String) -> FormatError { FormatError(file: file, "invalid JSON at byte \(i): \(what)") }

    private mutating func skipSpace() { while i < bytes.count, [0x20, 0x09, 0x0A, 0x0D].contains(bytes[i]) { i += 1 } }

    private mutating func expect(_ c: UInt8) throws {
        skipSpace()
        guard i < bytes.count, bytes[i] == c else { throw fail("expected '\(Character(Unicode.Scalar(c)))'") }
        i += 1
    }

    /// Walks into the object at `path`, skipping everything else.
    private mutating func find(_ path: ArraySlice<String>) throws -> [(String, Double)]? {
        try expect(0x7B)
        var first = true
        while true {
            skipSpace()
            if i < bytes.count, bytes[i] == 0x7D { i += 1; return nil }
            if !first { try expect(0x2C); skipSpace() }
            first = false
            let key = try string()
            try expect(0x3A)
            skipSpace()
            if key == path.first, i < bytes.count, bytes[i] == 0x7B {
                return path.count == 1 ? try pairs() : try find(path.dropFirst())
            }
            try skipValue()
        }
    }

    private mutating func pairs() throws -> [(String, Double)] {
        try expect(0x7B)
        var out: [(String, Double)] = []
        skipSpace()
        if i < bytes.count, bytes[i] == 0x7D { i += 1; return out }
        while true {
            skipSpace()
            let key = try string()
            try expect(0x3A)
            skipSpace()
            let start = i
            while i < bytes.count, (0x30...0x39).contains(bytes[i]) || [0x2D, 0x2B, 0x2E, 0x65, 0x45].contains(bytes[i]) { i += 1 }
            guard let value = Double(String(decoding: bytes[start..<i], as: UTF8.self)) else { throw fail("value of '\(key)' is not a number") }
            out.append((key, value))
            skipSpace()
            guard i < bytes.count else { throw fail("unterminated object") }
            if bytes[i] == 0x7D { i += 1; return out }
            try expect(0x2C)
        }
    }

    /// A string with its escapes decoded into exactly the scalars written.
    private mutating func string() throws -> String {
        guard i < bytes.count, bytes[i] == 0x22 else { throw fail("expected a string") }
        i += 1
        var scalars = String.UnicodeScalarView()
        var run = i
        func flush(_ end: Int) { scalars.append(contentsOf: String(decoding: bytes[run..<end], as: UTF8.self).unicodeScalars) }
        while i < bytes.count {
            let c = bytes[i]
            if c == 0x22 { flush(i); i += 1; return String(scalars) }
            guard c == 0x5C else { i += 1; continue }
            flush(i)
            guard i + 1 < bytes.count else { break }
            let e = bytes[i + 1]
            i += 2
            switch e {
            case 0x6E: scalars.append("\n")
            case 0x74: scalars.append("\t")
            case 0x72: scalars.append("\r")
            case 0x62: scalars.append("\u{08}")
            case 0x66: scalars.append("\u{0C}")
            case 0x75:
                var unit = try hex4()
                if (0xD800..<0xDC00).contains(unit), i + 1 < bytes.count, bytes[i] == 0x5C, bytes[i + 1] == 0x75 {
                    i += 2
                    let low = try hex4()
                    unit = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00)
                }
                guard let s = Unicode.Scalar(unit) else { throw fail("\\u escape \(unit) is not a scalar") }
                scalars.append(s)
            default: scalars.append(Unicode.Scalar(e))
            }
            run = i
        }
        throw fail("unterminated string")
    }

    private mutating func hex4() throws -> UInt32 {
        guard i + 4 <= bytes.count, let v = UInt32(String(decoding: bytes[i..<(i + 4)], as: UTF8.self), radix: 16) else { throw fail("bad \\u escape") }
        i += 4
        return v
    }

    /// Skips one value of any kind.
    private mutating func skipValue() throws {
        skipSpace()
        guard i < bytes.count else { throw fail("missing value") }
        switch bytes[i] {
        case 0x22: _ = try string()
        case 0x7B, 0x5B:
            var depth = 0
            while i < bytes.count {
                let c = bytes[i]
                if c == 0x22 { _ = try string(); continue }
                if c == 0x7B || c == 0x5B { depth += 1 } else if c == 0x7D || c == 0x5D { depth -= 1 }
                i += 1
                if depth == 0 { return }
            }
            throw fail("unterminated value")
        default:
            while i < bytes.count, ![0x2C, 0x7D, 0x5D, 0x20, 0x0A, 0x0D, 0x09].contains(bytes[i]) { i += 1 }
        }
    }
}
