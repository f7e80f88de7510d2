import Foundation

/// `tokenizer.json` normalizers that darwinhost implements.
indirect enum Normalizer {
    case sequence([Normalizer])
    case prepend(String)
    case replace(String, String)
    case nfc, nfkc, lowercase

    static func parse(_ json: Any?, file: String) throws -> Normalizer? {
        guard let o = json as? [String: Any] else { return nil }
        switch o["type"] as? String {
        case "Sequence": return .sequence(try (o["normalizers"] as? [Any] ?? []).compactMap { try parse($0, file: file) })
        case "Prepend": return .prepend(o["prepend"] as? String ?? "")
        case "Replace": return .replace(try patternString(o, file: file), o["content"] as? String ?? "")
        case "NFC": return .nfc
        case "NFKC": return .nfkc
        case "Lowercase": return .lowercase
        default: throw FormatError(file: file, "normalizer type '\(o["type"] ?? "?")' is not supported (supported: Sequence, Prepend, Replace, NFC, NFKC, Lowercase)")
        }
    }

    func apply(_ s: String) -> String {
        switch self {
        case .sequence(let list): return list.reduce(s) { $1.apply($0) }
        case .prepend(let p): return s.isEmpty ? s : p + s
        case .replace(let a, let b): return ScalarText.replacing(s, a, with: b)
        case .nfc: return s.precomposedStringWithCanonicalMapping
        case .nfkc: return s.precomposedStringWithCompatibilityMapping
        case .lowercase: return s.lowercased()
        }
    }
}

/// Reads `{"pattern": {"String": s}}` (a literal); regex patterns are rejected where only literals work.
func patternString(_ o: [String: Any], file: String) throws -> String {
    if let p = o["pattern"] as? [String: Any], let s = p["String"] as? String { return s }
    throw FormatError(file: file, "\(o["type"] ?? "?") with a regex pattern is not supported here (only {\"String\": ...})")
}

/// `tokenizer.json` pre-tokenizers that darwinhost implements. Each splits a piece into smaller pieces.
indirect enum PreTokenizer {
    case sequence([PreTokenizer])
    /// GPT-2 byte-level: optional prefix space, optional GPT-2 regex split, bytes mapped to the byte alphabet.
    case byteLevel(addPrefixSpace: Bool, splitter: PatternSplitter?)
    /// Split on a pattern; `isolated` keeps matches as pieces, `removed` drops them.
    case split(PatternSplitter, behavior: String, invert: Bool)
    /// SentencePiece-style: spaces become `replacement`, a prefix is added, optionally split before each.
    case metaspace(replacement: String, prependScheme: String, split: Bool)

    static func parse(_ json: Any?, file: String) throws -> PreTokenizer? {
        guard let o = json as? [String: Any] else { return nil }
        switch o["type"] as? String {
        case "Sequence": return .sequence(try (o["pretokenizers"] as? [Any] ?? []).compactMap { try parse($0, file: file) })
        case "ByteLevel":
            let useRegex = o["use_regex"] as? Bool ?? true
            return .byteLevel(addPrefixSpace: o["add_prefix_space"] as? Bool ?? false,
                              splitter: useRegex ? KnownPatternSplitter(kind: .gpt2) : nil)
        case "Split":
            guard let p = o["pattern"] as? [String: Any] else { throw FormatError(file: file, "Split pre-tokenizer needs a pattern") }
            let splitter: PatternSplitter
            if let regex = p["Regex"] as? String {
                splitter = try KnownPatternSplitter.forPattern(regex) ?? RegexSplitter(pattern: regex)
            } else if let literal = p["String"] as? String {
                splitter = try RegexSplitter(pattern: NSRegularExpression.escapedPattern(for: literal))
            } else { throw FormatError(file: file, "Split pre-tokenizer pattern must be {\"Regex\": ...} or {\"String\": ...}") }
            let behavior = (o["behavior"] as? String ?? "Isolated")
            guard ["Isolated", "Removed", "MergedWithPrevious", "MergedWithNext"].contains(behavior) else {
                throw FormatError(file: file, "Split behavior '\(behavior)' is not supported (supported: Isolated, Removed, MergedWithPrevious, MergedWithNext)")
            }
            return .split(splitter, behavior: behavior, invert: o["invert"] as? Bool ?? false)
        case "Metaspace":
            let legacy = (o["add_prefix_space"] as? Bool).map { $0 ? "always" : "never" }
            return .metaspace(replacement: o["replacement"] as? String ?? "▁",
                              prependScheme: o["prepend_scheme"] as? String ?? legacy ?? "always",
                              split: o["split"] as? Bool ?? true)
        default:
            throw FormatError(file: file, "pre_tokenizer type '\(o["type"] ?? "?")' is not supported (supported: Sequence, ByteLevel, Split, Metaspace)")
        }
    }

    /// Splits `piece`; `isFirst` tells whether it starts the input (Metaspace's `first` scheme).
    func apply(_ piece: String, isFirst: Bool) -> [String] {
        switch self {
        case .sequence(let list):
            return list.reduce([piece]) { pieces, stage in pieces.flatMap { stage.apply($0, isFirst: isFirst) } }
        case .byteLevel(let addPrefixSpace, let splitter):
            var text = piece
            if addPrefixSpace && !text.hasPrefix(" ") { text = " " + text }
            let parts = splitter.map { PreTokenizer.isolate(text, $0) } ?? [text]
            return parts.map { ByteLevelAlphabet.encode($0.utf8) }
        case .split(let splitter, let behavior, _):
            return PreTokenizer.splitPieces(piece, splitter, behavior: behavior)
        case .metaspace(let replacement, let scheme, let split):
            // On scalars: a space before a combining mark is one Character to Swift but still a space here.
            var text = ScalarText.replacing(piece, " ", with: replacement)
            if (scheme == "always" || (scheme == "first" && isFirst)) && !text.unicodeScalars.starts(with: replacement.unicodeScalars) {
                text = replacement + text
            }
            guard split, let mark = replacement.unicodeScalars.first, replacement.unicodeScalars.count == 1 else { return [text] }
            // Split before every replacement character (MergedWithNext): "▁a▁b" -> ["▁a", "▁b"].
            var out: [String] = [], current = String.UnicodeScalarView()
            for scalar in text.unicodeScalars {
                if scalar == mark && !current.isEmpty { out.append(String(current)); current = String.UnicodeScalarView() }
                current.append(scalar)
            }
            if !current.isEmpty { out.append(String(current)) }
            return out
        }
    }

    /// Matches and the text between them, each as a piece (`Isolated`).
    static func isolate(_ text: String, _ splitter: PatternSplitter) -> [String] { splitPieces(text, splitter, behavior: "Isolated") }

    static func splitPieces(_ text: String, _ splitter: PatternSplitter, behavior: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        func str(_ r: Range<Int>) -> String { var v = String.UnicodeScalarView(); v.append(contentsOf: scalars[r]); return String(v) }
        var pieces: [(Range<Int>, Bool)] = []  // (range, isMatch)
        var last = 0
        for m in splitter.matches(in: scalars) {
            if m.lowerBound > last { pieces.append((last..<m.lowerBound, false)) }
            pieces.append((m, true))
            last = m.upperBound
        }
        if last < scalars.count { pieces.append((last..<scalars.count, false)) }
        switch behavior {
        case "Removed": return pieces.filter { !$0.1 }.map { str($0.0) }
        case "MergedWithPrevious", "MergedWithNext":
            // A match joins the piece before it (Previous) or the piece after it (Next).
            var out: [Range<Int>] = []
            var previousWasMatch = false
            for (r, isMatch) in pieces {
                let join = behavior == "MergedWithPrevious" ? isMatch : previousWasMatch
                if join, let last = out.last { out[out.count - 1] = last.lowerBound..<r.upperBound } else { out.append(r) }
                previousWasMatch = isMatch
            }
            return out.map(str)
        default: return pieces.map { str($0.0) }
        }
    }
}

/// `tokenizer.json` decoders that darwinhost implements; they turn token strings back into text.
indirect enum TokenDecoder {
    case sequence([TokenDecoder])
    case byteLevel
    case replace(String, String)
    case byteFallback
    case fuse
    case strip(content: Character, start: Int, stop: Int)
    case metaspace(replacement: String, prependScheme: String)

    static func parse(_ json: Any?, file: String) throws -> TokenDecoder? {
        guard let o = json as? [String: Any] else { return nil }
        switch o["type"] as? String {
        case "Sequence": return .sequence(try (o["decoders"] as? [Any] ?? []).compactMap { try parse($0, file: file) })
        case "ByteLevel": return .byteLevel
        case "Replace": return .replace(try patternString(o, file: file), o["content"] as? String ?? "")
        case "ByteFallback": return .byteFallback
        case "Fuse": return .fuse
        case "Strip": return .strip(content: (o["content"] as? String)?.first ?? " ", start: o["start"] as? Int ?? 0, stop: o["stop"] as? Int ?? 0)
        case "Metaspace":
            let legacy = (o["add_prefix_space"] as? Bool).map { $0 ? "always" : "never" }
            return .metaspace(replacement: o["replacement"] as? String ?? "▁", prependScheme: o["prepend_scheme"] as? String ?? legacy ?? "always")
        default:
            throw FormatError(file: file, "decoder type '\(o["type"] ?? "?")' is not supported (supported: Sequence, ByteLevel, Replace, ByteFallback, Fuse, Strip, Metaspace)")
        }
    }

    /// Transforms the list of token strings (as the `tokenizers` decoders do, token by token).
    func apply(_ tokens: [String]) -> [String] {
        switch self {
        case .sequence(let list): return list.reduce(tokens) { $1.apply($0) }
        case .byteLevel:
            var bytes: [UInt8] = []
            for t in tokens { for s in t.unicodeScalars { if let b = ByteLevelAlphabet.byteOfCharacter[s] { bytes.append(b) } else { bytes.append(contentsOf: Array(String(s).utf8)) } } }
            return [String(decoding: bytes, as: UTF8.self)]
        case .replace(let a, let b): return tokens.map { ScalarText.replacing($0, a, with: b) }
        case .byteFallback: return TokenDecoder.byteFallback(tokens)
        case .fuse: return [tokens.joined()]
        case .strip(let c, let start, let stop):
            return tokens.map { t in
                var chars = Array(t)
                var s = 0, e = chars.count
                while s < min(start, chars.count) && chars[s] == c { s += 1 }
                var removed = 0
                while removed < stop && e > s && chars[e - 1] == c { e -= 1; removed += 1 }
                chars = Array(chars[s..<e])
                return String(chars)
            }
        case .metaspace(let replacement, let scheme):
            // As in `tokenizers`: in the first token every replacement character is dropped (unless the
            // prepend scheme is "never"); elsewhere each becomes a space.
            return tokens.enumerated().map { i, t in
                t.replacingOccurrences(of: replacement, with: i == 0 && scheme != "never" ? "" : " ")
            }
        }
    }

    /// Runs of `<0xXX>` tokens become the text of their bytes (invalid UTF-8: one U+FFFD per byte).
    static func byteFallback(_ tokens: [String]) -> [String] {
        var out: [String] = [], pending: [UInt8] = []
        func flush() {
            guard !pending.isEmpty else { return }
            if let s = String(validatingUTF8: pending.map { CChar(bitPattern: $0) } + [0]) { out.append(s) } else {
                out.append(contentsOf: Array(repeating: "\u{FFFD}", count: pending.count))
            }
            pending = []
        }
        for t in tokens {
            if t.count == 6, t.hasPrefix("<0x"), t.hasSuffix(">"), let b = UInt8(t.dropFirst(3).prefix(2), radix: 16) {
                pending.append(b)
            } else { flush(); out.append(t) }
        }
        flush()
        return out
    }
}

/// Text operations on Unicode scalars, as `tokenizers` performs them: Swift's `String` works on grapheme clusters
/// (a space followed by a combining mark is one Character) and compares by canonical equivalence.
enum ScalarText {
    /// `text` with every occurrence of `target` replaced by `replacement`, scalar by scalar, left to right.
    static func replacing(_ text: String, _ target: String, with replacement: String) -> String {
        let t = Array(target.unicodeScalars)
        guard !t.isEmpty else { return text }
        let s = Array(text.unicodeScalars)
        var out = String.UnicodeScalarView()
        var i = 0
        while i < s.count {
            if s[i] == t[0], i + t.count <= s.count, s[i..<(i + t.count)].elementsEqual(t) {
                out.append(contentsOf: replacement.unicodeScalars)
                i += t.count
            } else {
                out.append(s[i])
                i += 1
            }
        }
        return String(out)
    }
}
