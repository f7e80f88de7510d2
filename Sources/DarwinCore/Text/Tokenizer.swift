import Foundation

/// A Hugging Face `tokenizer.json` tokenizer: added/special tokens, normalizer, pre-tokenizer, BPE model
/// (byte-level as in GPT-2 / Llama 3 / Qwen2, or SentencePiece-style with byte fallback as in Llama 2 / Mistral),
/// template post-processing and decoders. Ids equal those of the `tokenizers` library.
public final class Tokenizer {
    /// The file it was loaded from.
    public let path: String
    let model: BPEModel
    let normalizer: Normalizer?
    let preTokenizer: PreTokenizer?
    let decoder: TokenDecoder?
    /// Added tokens and how text is split around them: those matched in the raw text (`normalized: false`), and
    /// those matched, in their normalized spelling, in the normalized text (`normalized: true`), as `tokenizers` does.
    let addedTokens: AddedTokens, normalizedAddedTokens: AddedTokens
    /// Ids placed before / after a single sequence by the post-processor when special tokens are added.
    let prefixIds: [Int32], suffixIds: [Int32]
    private let tokenOfId: [Int32: String]
    let specialIds: Set<Int32>

    /// Loads `path` (a `tokenizer.json`, or a directory containing one).
    public init(path given: String) throws {
        var isDir: ObjCBool = false
        let path = FileManager.default.fileExists(atPath: given, isDirectory: &isDir) && isDir.boolValue ? given + "/tokenizer.json" : given
        self.path = path
        let json = try JSONFields(contentsOf: path)
        guard let m = try json.nested("model") else { throw FormatError(file: path, "field 'model' is missing") }
        let type = try m.string("type", "BPE")
        guard type == "BPE" else { throw FormatError(file: path, "model type '\(type)' is not supported (supported: BPE)") }
        for unsupported in ["continuing_subword_prefix", "end_of_word_suffix"] where m.has(unsupported) && !((m.object[unsupported] as? String) ?? "").isEmpty {
            throw FormatError(file: path, "field 'model.\(unsupported)' is not supported")
        }
        guard m.object["vocab"] is [String: Any], let data = FileManager.default.contents(atPath: path),
              let pairs = try LiteralJSON.numberPairs(in: data, path: ["model", "vocab"], file: path) else {
            throw FormatError(file: path, "field 'model.vocab' must be an object of token to id")
        }
        // Keys exactly as written (é and e + U+0301 are two tokens), read past the dictionary that merges them.
        var vocab: [Literal: Int32] = [:]
        for (token, id) in pairs {
            guard let value = Tokenizer.tokenId(NSNumber(value: id)) else {
                throw FormatError(file: path, "field 'model.vocab' maps '\(token)' to \(id), expected an integer id in 0...\(Int32.max)")
            }
            vocab[Literal(token)] = value
        }
        let merges: [(String, String)] = try (m.array("merges") ?? []).enumerated().map { i, entry in
            if let pair = entry as? [String], pair.count == 2 { return (pair[0], pair[1]) }
            if let s = entry as? String, let space = s.firstIndex(of: " ") { return (String(s[..<space]), String(s[s.index(after: space)...])) }
            throw FormatError(file: path, "field 'model.merges' entry \(i + 1) must be \"a b\" or [\"a\", \"b\"]")
        }
        model = try BPEModel(vocab: vocab, merges: merges, unknown: m.object["unk_token"] as? String,
                             byteFallback: try m.bool("byte_fallback", false), fuseUnknown: try m.bool("fuse_unk", false),
                             ignoreMerges: try m.bool("ignore_merges", false), file: path)
        normalizer = try Normalizer.parse(json.object["normalizer"], file: path)
        preTokenizer = try PreTokenizer.parse(json.object["pre_tokenizer"], file: path)
        decoder = try TokenDecoder.parse(json.object["decoder"], file: path)
        var added: [AddedTokens.Token] = [], normalizedAdded: [AddedTokens.Token] = []
        for entry in (try json.array("added_tokens") ?? []) {
            guard let o = entry as? [String: Any], let content = o["content"] as? String, let id = (o["id"] as? NSNumber).flatMap(Tokenizer.tokenId) else {
                throw FormatError(file: path, "field 'added_tokens' entries need 'content' and an integer 'id' in 0...\(Int32.max)")
            }
            let special = o["special"] as? Bool ?? false, normalized = o["normalized"] as? Bool ?? !special
            let pattern = normalized ? (normalizer?.apply(content) ?? content) : content
            let token = AddedTokens.Token(content: content, id: id, special: special, singleWord: o["single_word"] as? Bool ?? false,
                                          lstrip: o["lstrip"] as? Bool ?? false, rstrip: o["rstrip"] as? Bool ?? false,
                                          scalars: Array(pattern.unicodeScalars))
            if normalized { normalizedAdded.append(token) } else { added.append(token) }
        }
        addedTokens = AddedTokens(added)
        normalizedAddedTokens = AddedTokens(normalizedAdded)
        added += normalizedAdded
        (prefixIds, suffixIds) = try Tokenizer.template(json.object["post_processor"], file: path)
        var reverse: [Int32: String] = [:]
        for (t, id) in vocab { reverse[id] = t.text }
        // A normalized added token reads back in its normalized spelling, as `tokenizers`' id_to_token gives it.
        for t in added { reverse[t.id] = String(String.UnicodeScalarView(t.scalars)) }
        tokenOfId = reverse
        specialIds = Set(added.filter(\.special).map(\.id))
    }

    /// A JSON number as a token id, if it is an integer in `0...Int32.max`.
    static func tokenId(_ n: NSNumber) -> Int32? {
        let v = n.doubleValue
        return v == v.rounded() && v >= 0 && v <= Double(Int32.max) ? Int32(v) : nil
    }

    /// True when the pre-tokenizer always splits after a newline that precedes a non-space character
    /// (the GPT-2 and Llama 3 / Qwen2 byte-level patterns), so text can be tokenized in pieces cut there.
    var splitsAfterNewlines: Bool {
        func check(_ p: PreTokenizer?) -> Bool {
            switch p {
            case .byteLevel(_, let splitter)?: return splitter is KnownPatternSplitter
            case .split(let splitter, let behavior, let invert)?: return splitter is KnownPatternSplitter && behavior == "Isolated" && !invert
            case .sequence(let list)?: return list.contains { check($0) } && !list.contains { if case .metaspace = $0 { return true } else { return false } }
            default: return false
            }
        }
        // A prefix space (ByteLevel's add_prefix_space, Metaspace's prepend) would be added at every chunk's start.
        func addsPrefix(_ p: PreTokenizer?) -> Bool {
            switch p {
            case .byteLevel(let prefix, _)?: return prefix
            case .metaspace?: return true
            case .sequence(let list)?: return list.contains { addsPrefix($0) }
            default: return false
            }
        }
        return normalizer == nil && check(preTokenizer) && !addsPrefix(preTokenizer)
    }

    /// A tokenizer sharing this one's tables but with its own word cache, for use on another thread.
    func copyForThread() -> Tokenizer { Tokenizer(sharing: self) }

    private init(sharing t: Tokenizer) {
        path = t.path; model = t.model.copyWithEmptyCache(); normalizer = t.normalizer; preTokenizer = t.preTokenizer
        decoder = t.decoder; addedTokens = t.addedTokens; normalizedAddedTokens = t.normalizedAddedTokens; prefixIds = t.prefixIds; suffixIds = t.suffixIds
        tokenOfId = t.tokenOfId; specialIds = t.specialIds
    }

    /// Number of ids (vocabulary plus added tokens).
    public var vocabularySize: Int { (tokenOfId.keys.max().map { Int($0) + 1 }) ?? 0 }

    /// The id of a token string, if any.
    public func id(of token: String) -> Int32? {
        model.vocab[Literal(token)] ?? (addedTokens.tokens + normalizedAddedTokens.tokens).first { Literal($0.content) == Literal(token) }?.id
    }

    /// The token string of an id, if any.
    public func token(of id: Int32) -> String? { tokenOfId[id] }

    /// Encodes `text`; with `addSpecialTokens` the post-processor's tokens (e.g. BOS) are added, as in `tokenizers`.
    public func encode(_ text: String, addSpecialTokens: Bool = true) -> [Int32] {
        encode(text, addSpecialTokens: addSpecialTokens, poll: {})
    }

    /// `encode` that stops with an "interrupted" error at Ctrl-C (checked between pre-tokenized pieces), for text
    /// of any length given from a script.
    public func encodeStoppable(_ text: String, addSpecialTokens: Bool = true) throws -> [Int32] {
        try encode(text, addSpecialTokens: addSpecialTokens, poll: Interrupt.check)
    }

    private func encode(_ text: String, addSpecialTokens: Bool, poll: () throws -> Void) rethrows -> [Int32] {
        var ids: [Int32] = []
        var isFirst = true
        for segment in addedTokens.split(text) {
            switch segment {
            case .added(let id): ids.append(id); isFirst = false
            case .text(let raw):
                for inner in normalizedAddedTokens.split(normalizer?.apply(raw) ?? raw) {
                    switch inner {
                    case .added(let id): ids.append(id)
                    case .text(let s):
                        let pieces = preTokenizer?.apply(s, isFirst: isFirst) ?? [s]
                        for p in pieces where !p.isEmpty {
                            try poll()
                            ids.append(contentsOf: model.encode(p))
                        }
                    }
                    isFirst = false
                }
            }
        }
        return addSpecialTokens ? prefixIds + ids + suffixIds : ids
    }

    /// Decodes `ids` to text through the decoder chain (unknown ids are skipped).
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool = false) -> String {
        let tokens = ids.compactMap { id -> String? in
            if skipSpecialTokens && specialIds.contains(id) { return nil }
            return tokenOfId[id]
        }
        guard let decoder else { return tokens.joined(separator: " ") }
        return decoder.apply(tokens).joined()
    }

    /// The ids a `TemplateProcessing` post-processor puts around a single sequence (none for others).
    static func template(_ json: Any?, file: String) throws -> ([Int32], [Int32]) {
        guard let o = json as? [String: Any] else { return ([], []) }
        switch o["type"] as? String {
        case "TemplateProcessing":
            let specials = o["special_tokens"] as? [String: Any] ?? [:]
            var before: [Int32] = [], after: [Int32] = [], seenSequence = false
            for item in o["single"] as? [Any] ?? [] {
                guard let entry = item as? [String: Any] else { continue }
                if entry["Sequence"] != nil { seenSequence = true; continue }
                guard let special = entry["SpecialToken"] as? [String: Any], let name = special["id"] as? String,
                      let ids = (specials[name] as? [String: Any])?["ids"] as? [NSNumber] else {
                    throw FormatError(file: file, "post_processor template names a special token without ids")
                }
                let values = ids.compactMap(Tokenizer.tokenId)
                guard values.count == ids.count else { throw FormatError(file: file, "post_processor special token '\(name)' has ids outside 0...\(Int32.max)") }
                if seenSequence { after += values } else { before += values }
            }
            return (before, after)
        case "Sequence":
            var result: ([Int32], [Int32]) = ([], [])
            for p in o["processors"] as? [Any] ?? [] {
                let (b, a) = try template(p, file: file)
                result.0 += b; result.1 += a
            }
            return result
        case "ByteLevel", nil: return ([], [])
        default: throw FormatError(file: file, "post_processor type '\(o["type"] ?? "?")' is not supported (supported: TemplateProcessing, ByteLevel, Sequence)")
        }
    }
}
