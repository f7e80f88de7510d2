/// Splits text into pieces by a pre-tokenizer pattern, returning the matched ranges (in Unicode scalar offsets).
protocol PatternSplitter {
    func matches(in scalars: [Unicode.Scalar]) -> [Range<Int>]
}

/// Unicode classes used by the tokenizer patterns (`\p{L}`, `\p{N}`, `\s`), per scalar as Oniguruma does.
enum ScalarClass {
    @inline(__always) static func isLetter(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return (s.value | 0x20) >= 0x61 && (s.value | 0x20) <= 0x7A }
        switch s.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return true
        default: return false
        }
    }
    @inline(__always) static func isNumber(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return s.value >= 0x30 && s.value <= 0x39 }
        switch s.properties.generalCategory {
        case .decimalNumber, .letterNumber, .otherNumber: return true
        default: return false
        }
    }
    @inline(__always) static func isSpace(_ s: Unicode.Scalar) -> Bool {
        if s.value < 0x80 { return s.value == 0x20 || (s.value >= 0x09 && s.value <= 0x0D) }
        return s.properties.isWhitespace
    }
    @inline(__always) static func isOther(_ s: Unicode.Scalar) -> Bool { !isSpace(s) && !isLetter(s) && !isNumber(s) }
    @inline(__always) static func isNewline(_ s: Unicode.Scalar) -> Bool { s == "\r" || s == "\n" }
}

/// The general case: any pattern the linear-time engine (`LinearRegex`) runs. A pattern it does not (a backreference,
/// a lookaround longer than one character, a possessive quantifier) is refused when the tokenizer loads, naming the
/// pattern and the construct: those need a backtracking engine, whose time on some text has no bound (`(a*){20}\1b`
/// on a run of `a`), and no real pre-tokenizer pattern uses them.
struct RegexSplitter: PatternSplitter {
    private let engine: LinearRegex

    init(pattern: String) throws {
        do {
            engine = try LinearRegex(pattern: pattern)
        } catch let unsupported as LinearRegex.Unsupported {
            throw TensorError("tokenizer: the Split pattern \(pattern) uses \(unsupported.what), which needs a backtracking regex engine whose time has no bound on some text; darwinhost runs patterns in linear time and refuses this one")
        }
    }

    func matches(in scalars: [Unicode.Scalar]) -> [Range<Int>] { engine.matches(in: scalars) }
}

/// Hand-written scanners for the split patterns of GPT-2 and Llama 3 / Qwen2 byte-level tokenizers,
/// equivalent to the regexes (tested against `RegexSplitter`) and about two orders of magnitude faster.
struct KnownPatternSplitter: PatternSplitter {
    enum Kind { case gpt2, llama3(maxDigits: Int) }
    let kind: Kind

    static let gpt2Pattern = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#
    static let llama3Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let qwen2Pattern = #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#

    /// The scanner for `pattern`, if it is one of the known ones.
    static func forPattern(_ pattern: String) -> KnownPatternSplitter? {
        switch pattern {
        case gpt2Pattern: return KnownPatternSplitter(kind: .gpt2)
        case llama3Pattern: return KnownPatternSplitter(kind: .llama3(maxDigits: 3))
        case qwen2Pattern: return KnownPatternSplitter(kind: .llama3(maxDigits: 1))
        default: return nil
        }
    }

    func matches(in s: [Unicode.Scalar]) -> [Range<Int>] {
        var out: [Range<Int>] = []
        var i = 0
        while i < s.count {
            let end: Int
            switch kind {
            case .gpt2: end = gpt2Match(s, i)
            case .llama3(let maxDigits): end = llama3Match(s, i, maxDigits: maxDigits)
            }
            out.append(i..<end)
            i = end
        }
        return out
    }

    /// Length of a contraction (`'s`, `'ll`, ...) at `i`, or 0.
    private func contraction(_ s: [Unicode.Scalar], _ i: Int, caseInsensitive: Bool) -> Int {
        guard s[i] == "'", i + 1 < s.count else { return 0 }
        func lower(_ k: Int) -> Unicode.Scalar? {
            guard k < s.count else { return nil }
            let c = s[k]
            return caseInsensitive && c.value >= 0x41 && c.value <= 0x5A ? Unicode.Scalar(c.value + 32)! : c
        }
        let a = lower(i + 1), b = lower(i + 2)
        if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") { return 3 }
        if a == "s" || a == "t" || a == "m" || a == "d" { return 2 }
        return 0
    }

    /// End of the run starting at `i` of scalars satisfying `p`.
    @inline(__always) private func run(_ s: [Unicode.Scalar], _ i: Int, _ p: (Unicode.Scalar) -> Bool) -> Int {
        var j = i
        while j < s.count && p(s[j]) { j += 1 }
        return j
    }

    /// `\s+(?!\S)|\s+` at `i` (a whitespace scalar).
    private func whitespaceMatch(_ s: [Unicode.Scalar], _ i: Int) -> Int {
        let end = run(s, i, ScalarClass.isSpace)
        if end == s.count || end - i == 1 { return end }
        return end - 1  // leave the last space to the next piece
    }

    private func gpt2Match(_ s: [Unicode.Scalar], _ i: Int) -> Int {
        let c = contraction(s, i, caseInsensitive: false)
        if c > 0 { return i + c }
        let j = s[i] == " " && i + 1 < s.count ? i + 1 : i
        if ScalarClass.isLetter(s[j]) { return run(s, j, ScalarClass.isLetter) }
        if ScalarClass.isNumber(s[j]) { return run(s, j, ScalarClass.isNumber) }
        if ScalarClass.isOther(s[j]) { return run(s, j, ScalarClass.isOther) }
        return whitespaceMatch(s, i)
    }

    private func llama3Match(_ s: [Unicode.Scalar], _ i: Int, maxDigits: Int) -> Int {
        let c = contraction(s, i, caseInsensitive: true)
        if c > 0 { return i + c }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if ScalarClass.isLetter(s[i]) { return run(s, i, ScalarClass.isLetter) }
        if !ScalarClass.isNewline(s[i]) && !ScalarClass.isNumber(s[i]) && i + 1 < s.count && ScalarClass.isLetter(s[i + 1]) {
            return run(s, i + 1, ScalarClass.isLetter)
        }
        // \p{N}{1,maxDigits}
        if ScalarClass.isNumber(s[i]) {
            var j = i
            while j < s.count && j - i < maxDigits && ScalarClass.isNumber(s[j]) { j += 1 }
            return j
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        let j = s[i] == " " && i + 1 < s.count ? i + 1 : i
        if ScalarClass.isOther(s[j]) {
            return run(s, run(s, j, ScalarClass.isOther), ScalarClass.isNewline)
        }
        // \s*[\r\n]+ : up to the last newline of the whitespace run
        let wsEnd = run(s, i, ScalarClass.isSpace)
        var lastNewline = -1
        for k in i..<wsEnd where ScalarClass.isNewline(s[k]) { lastNewline = k }
        if lastNewline >= 0 { return lastNewline + 1 }
        return whitespaceMatch(s, i)
    }
}
