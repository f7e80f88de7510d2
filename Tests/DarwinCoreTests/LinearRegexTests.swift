import Foundation
import Testing
@testable import DarwinCore

/// The linear-time regex engine against Swift's backtracking `Regex` (leftmost-first, as Oniguruma): the same
/// matches on random text for real pre-tokenizer patterns and for the constructs they are made of.
@Suite("linear-time tokenizer regexes")
struct LinearRegexTests {
    static let patterns = [
        KnownPatternSplitter.gpt2Pattern, KnownPatternSplitter.llama3Pattern, KnownPatternSplitter.qwen2Pattern,
        // GPT-4o / o200k style: cased letter runs, optional contractions, digit groups
        #"[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+"#,
        #"\p{N}"#, #"[0-9][0-9][0-9]"#, #"\d+|[^\d\s]"#,
        "(ab)+", "(a+b)?", "[(*]+", #"\(a*\)*"#, "(a{2,3})+", "(a|b)?c", "[a|b]+", "a|b+", "(?i:'s|'t)", "a*?b", "(?:ab|a)c",
        "(a|ab)(c|bcd)(d*)", #"\p{Lu}\p{Ll}+"#, #"[^\s\p{L}]+"#, "x{2}|y{1,}", "(?i)ss|é", "a{0,2}?b", "(a*)*b", "(a|a)*b",
        #"[\x{4e00}-\x{9fff}]+|[\u00e0-\u00ff]"#, #"\s+(?=\S)|."#, "[-a]+|[^-]", #"[\S]+|\s"#, #"[^\P{L}]+"#,
        // anchors: of a line (Oniguruma's Ruby syntax; Swift's with anchorsMatchLineEndings) and of the text
        "^a|b$", #"^\s*|\s+$"#, #"(?:\n|^)x"#, #"\Aa|a\z|\s\Z"#, "$|^",
    ]

    /// The non-empty matches of Swift's `Regex`, in scalar offsets: the reference the engine is compared with.
    static func referenceMatches(of regex: Regex<AnyRegexOutput>, in scalars: [Unicode.Scalar]) -> [Range<Int>] {
        var text = String.UnicodeScalarView()
        text.append(contentsOf: scalars)
        let string = String(text)
        var out: [Range<Int>] = []
        for m in string.matches(of: regex) where !m.range.isEmpty {
            let lo = string.unicodeScalars.distance(from: string.unicodeScalars.startIndex, to: m.range.lowerBound)
            out.append(lo..<(lo + string.unicodeScalars[m.range].count))
        }
        return out
    }

    @Test("the same matches as Swift's Regex on random text", arguments: 0..<3)
    func sameMatches(seed: Int) throws {
        let pool: [Unicode.Scalar] = Array("ab Z'sltrevmdLLSE09 \t\n\n.,;:(-)_#\"'*/ßéàΣж日本한👍\u{301}\u{200b}\u{a0}\u{3000}xyc123".unicodeScalars)
        let g = RandomGenerator(seed: UInt64(seed))
        for pattern in Self.patterns {
            let linear = try LinearRegex(pattern: pattern)
            let swift = try Regex(pattern).matchingSemantics(.unicodeScalar).anchorsMatchLineEndings()
            for _ in 0..<120 {
                let text = (0..<g.integer(0, 30)).map { _ in pool[g.integer(0, pool.count - 1)] }
                #expect(linear.matches(in: text) == Self.referenceMatches(of: swift, in: text),
                        "\(pattern) on \(text.map { String($0) }.joined().debugDescription)")
            }
        }
    }

    /// Not compared with Swift's: its \w leaves out combining marks (Oniguruma's, UTS #18's, has them), and its \w+
    /// splits "s93本" into "s9", "3", "本" and "_Σ" into two.
    @Test("\\w is UTS #18's word class, as in Oniguruma: letters, marks, decimal digits, connector punctuation")
    func wordClass() throws {
        #expect(try LinearRegex(pattern: #"\d+|\w+|[^\w\s]"#).matches(in: Array("s93本 42x, é".unicodeScalars)) == [0..<4, 5..<7, 7..<8, 8..<9, 10..<11])
        let word = try LinearRegex(pattern: "\\w+")
        #expect(word.matches(in: Array("e\u{301}_9\u{200d}x²-y".unicodeScalars)) == [0..<6, 8..<9])
        #expect(word.matches(in: Array("_Σ _日".unicodeScalars)) == [0..<2, 3..<5])
    }

    @Test("nested repetition runs in linear time per search; what the engine lacks is refused, naming the pattern")
    func nestedRepetition() throws {
        let text = [Unicode.Scalar](repeating: "a", count: 20_000)
        // Exponential (or, anchored, quadratic per search) for a backtracking engine; here each takes milliseconds.
        for pattern in ["(a*)*b", "(a|a)*b", "((a+)+)+c", "(x|y+){2,}z", "^(a?){30}a{30}b", "(a*){25}$b", "(?:\\s+)+$x"] {
            let started = Date()
            #expect(try RegexSplitter(pattern: pattern).matches(in: text).isEmpty, "\(pattern) finds nothing")
            #expect(Date().timeIntervalSince(started) < 20, "\(pattern)")
        }
        let ignoringCase = try LinearRegex(pattern: "(?i:k|[a-c]+)")
        #expect(ignoringCase.matches(in: Array("K\u{212A}k ABc".unicodeScalars)) == [0..<1, 1..<2, 2..<3, 4..<7])
        #expect(try RegexSplitter(pattern: "(a*)*b").matches(in: Array("aaab aab".unicodeScalars)) == [0..<4, 5..<8])
        #expect(try RegexSplitter(pattern: "^a|b$").matches(in: Array("ab\nab".unicodeScalars)) == [0..<1, 1..<2, 3..<4, 4..<5])
        #expect(try RegexSplitter(pattern: "\\b\\w+\\b|\\B.").matches(in: Array("ab, c".unicodeScalars)) == [0..<2, 3..<4, 4..<5])
        // What needs backtracking is refused when the tokenizer loads, with the pattern in the message.
        for refused in ["(a*){20}\\1b", "(?=ab)a", "a++"] {
            #expect { try RegexSplitter(pattern: refused) } throws: { "\($0)".contains(refused) && "\($0)".contains("linear time") }
        }
        let deep = String(repeating: "(", count: 5000) + "a" + String(repeating: ")", count: 5000)
        #expect(throws: LinearRegex.Unsupported.self) { try LinearRegex(pattern: deep) }
        for unsupported in ["^*", "(a)\\1", "(?<n>a)", "(?=ab)", "[[:alpha:]]", "a++", "a{3,1}", "\\p{Greek}"] {
            #expect(throws: LinearRegex.Unsupported.self, "\(unsupported)") { try LinearRegex(pattern: unsupported) }
        }
    }
}
