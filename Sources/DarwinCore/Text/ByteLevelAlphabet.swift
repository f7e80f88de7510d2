/// GPT-2's reversible map between bytes and printable Unicode characters (`bytes_to_unicode`).
enum ByteLevelAlphabet {
    /// The character standing for each byte value.
    static let characterOfByte: [Unicode.Scalar] = {
        var bytes = Array(33...126) + Array(161...172) + Array(174...255)
        var chars = bytes
        var n = 0
        for b in 0..<256 where !bytes.contains(b) {
            bytes.append(b)
            chars.append(256 + n)
            n += 1
        }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for (b, c) in zip(bytes, chars) { table[b] = Unicode.Scalar(UInt32(c))! }
        return table
    }()

    /// The byte each alphabet character stands for.
    static let byteOfCharacter: [Unicode.Scalar: UInt8] = {
        Dictionary(uniqueKeysWithValues: characterOfByte.enumerated().map { ($1, UInt8($0)) })
    }()

    /// Maps the UTF-8 bytes of `text` to alphabet characters.
    static func encode<S: Sequence>(_ utf8: S) -> String where S.Element == UInt8 {
        var out = String.UnicodeScalarView()
        for b in utf8 { out.append(characterOfByte[Int(b)]) }
        return String(out)
    }
}
