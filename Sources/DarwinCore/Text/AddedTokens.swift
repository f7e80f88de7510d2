/// The added tokens of a tokenizer (`added_tokens` in tokenizer.json) and how raw text is split around them, as
/// Hugging Face `tokenizers` does: leftmost-longest matches compared scalar by scalar (so a combining mark after a
/// special token does not hide it, as grapheme-based String search would), `single_word` tokens only between
/// non-word characters, and `lstrip` / `rstrip` tokens taking the whitespace beside them.
struct AddedTokens {
    /// One added token.
    struct Token {
        let content: String, id: Int32, special: Bool
        let singleWord: Bool, lstrip: Bool, rstrip: Bool
        let scalars: [Unicode.Scalar]
    }

    let tokens: [Token]
    /// Indices into `tokens` by first scalar, longest token first.
    private let byFirstScalar: [Unicode.Scalar: [Int]]

    init(_ tokens: [Token]) {
        self.tokens = tokens
        var index: [Unicode.Scalar: [Int]] = [:]
        for (i, t) in tokens.enumerated() where !t.scalars.isEmpty { index[t.scalars[0], default: []].append(i) }
        byFirstScalar = index.mapValues { $0.sorted { tokens[$0].scalars.count > tokens[$1].scalars.count } }
    }

    /// A piece of raw text: ordinary text, or an added token.
    enum Segment { case text(String), added(Int32) }

    /// Splits `text` around the added tokens.
    func split(_ text: String) -> [Segment] {
        guard !byFirstScalar.isEmpty else { return [.text(text)] }
        let s = Array(text.unicodeScalars)
        var out: [Segment] = []
        var consumed = 0, i = 0
        func emitText(_ range: Range<Int>) {
            if !range.isEmpty { out.append(.text(String(String.UnicodeScalarView(s[range])))) }
        }
        while i < s.count {
            guard let candidates = byFirstScalar[s[i]],
                  let t = candidates.lazy.map({ tokens[$0] }).first(where: { self.matches($0, s, at: i) }) else { i += 1; continue }
            let end = i + t.scalars.count
            if t.singleWord && ((i > 0 && Self.isWordScalar(s[i - 1])) || (end < s.count && Self.isWordScalar(s[end]))) { i += 1; continue }
            var start = i, stop = end
            if t.lstrip { while start > consumed && s[start - 1].properties.isWhitespace { start -= 1 } }
            if t.rstrip { while stop < s.count && s[stop].properties.isWhitespace { stop += 1 } }
            emitText(consumed..<start)
            out.append(.added(t.id))
            consumed = stop
            i = stop
        }
        emitText(consumed..<s.count)
        return out
    }

    private func matches(_ t: Token, _ s: [Unicode.Scalar], at i: Int) -> Bool {
        guard i + t.scalars.count <= s.count else { return false }
        for (k, c) in t.scalars.enumerated() where s[i + k] != c { return false }
        return true
    }

    /// A word character for `single_word`: alphanumeric or underscore, as `tokenizers` decides.
    static func isWordScalar(_ c: Unicode.Scalar) -> Bool { c.properties.isAlphabetic || c.properties.numericType != nil || c == "_" }
}
