/// The tokenizer as GGUF metadata, the ways llama.cpp's loader reads a vocabulary: byte-level BPE (`gpt2`: merges by
/// rank and the pre-tokenizer by llama.cpp's name for its split pattern) or SentencePiece-style BPE (`llama`: a score
/// per token, byte-fallback tokens, ▁ for spaces); tokens in id order with their types, and the special tokens the
/// post-processor adds.
extension Tokenizer {
    /// How llama.cpp tokenizes like this tokenizer.
    enum LlamaCppVocabulary: Equatable {
        /// Byte-level BPE with llama.cpp's name for the pre-tokenizer (`tokenizer.ggml.pre`).
        case byteLevel(pre: String)
        /// SentencePiece-style BPE: spaces as ▁, byte fallback, and whether a ▁ goes before the text.
        case sentencePiece(addSpacePrefix: Bool)
    }

    /// llama.cpp's vocabulary kind for this tokenizer, when it has one.
    var llamaCppVocabulary: LlamaCppVocabulary? {
        if model.byteFallback { return sentencePieceLayout.map { .sentencePiece(addSpacePrefix: $0) } }
        return llamaCppPreTokenizer.map { .byteLevel(pre: $0) }
    }

    /// For a SentencePiece-style tokenizer (Llama 2, Mistral: spaces replaced by ▁ through a normalizer, or through a
    /// Metaspace pre-tokenizer that does not split), whether a ▁ is put before the text; nil for other layouts.
    var sentencePieceLayout: Bool? {
        switch (normalizer, preTokenizer) {
        case (.sequence(let steps)?, nil):
            var replaces = false, prepends = false
            for step in steps {
                switch step {
                case .replace(" ", "▁"): replaces = true
                case .prepend("▁"): prepends = true
                default: return nil
                }
            }
            return replaces ? prepends : nil
        case (nil, .metaspace("▁", let scheme, false)?):
            return scheme != "never"
        default:
            return nil
        }
    }

    /// What llama.cpp will tokenize differently, for the export's notes.
    var ggufNotes: [String] {
        guard case .sentencePiece = llamaCppVocabulary, case .metaspace? = preTokenizer else { return [] }
        return ["tokenizer: llama.cpp puts a ▁ before text that already starts with a space, as SentencePiece does, where this Metaspace tokenizer does not: such text differs in its first token"]
    }

    /// llama.cpp's name for this tokenizer's pre-tokenization (`tokenizer.ggml.pre`), when it has one.
    var llamaCppPreTokenizer: String? {
        guard normalizer == nil else { return nil }
        switch preTokenizer {
        case .byteLevel(false, let splitter as KnownPatternSplitter)?:
            if case .gpt2 = splitter.kind { return "gpt-2" }
        case .sequence(let list)?:
            guard list.count == 2, case .split(let splitter as KnownPatternSplitter, "Isolated", false) = list[0],
                  case .byteLevel(false, nil) = list[1], case .llama3(let digits) = splitter.kind else { return nil }
            return digits == 3 ? "llama-bpe" : "qwen2"
        default: break
        }
        return nil
    }

    /// The metadata entries for a model with `vocabularySize` embedding rows (ids past the tokenizer's are written as
    /// unused `[PAD<id>]` tokens, as llama.cpp's converter does).
    func ggufMetadata(vocabularySize: Int, config: ModelConfig) throws -> [(String, GGUFValue)] {
        guard let kind = llamaCppVocabulary else {
            throw FormatError(file: path, "GGUF export embeds byte-level BPE tokenizers whose pre-tokenizer llama.cpp names (GPT-2, Llama 3, Qwen2 patterns, no normalizer) and SentencePiece-style BPE tokenizers (byte fallback, ▁ for spaces by a normalizer or a non-splitting Metaspace); this one is neither")
        }
        guard self.vocabularySize <= vocabularySize else {
            throw FormatError(file: path, "the tokenizer has \(self.vocabularySize) ids but the model only \(vocabularySize) embedding rows")
        }
        let added = Set((addedTokens.tokens + normalizedAddedTokens.tokens).map(\.id)), bytes = model.byteFallbackIds
        var tokens: [String] = [], types: [Int32] = []
        for id in 0..<Int32(vocabularySize) {
            // llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte.
            if let token = token(of: id) {
                tokens.append(token)
                types.append(id == model.unknownId ? 2 : bytes.contains(id) ? 6 : specialIds.contains(id) ? 3 : added.contains(id) ? 4 : 1)
            } else {
                tokens.append("[PAD\(id)]"); types.append(5)
            }
        }
        var out: [(String, GGUFValue)] = [("tokenizer.ggml.tokens", .strings(tokens)), ("tokenizer.ggml.token_type", .int32s(types))]
        switch kind {
        case .byteLevel(let pre):
            out += [("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string(pre)),
                    ("tokenizer.ggml.merges", .strings(model.rankedMerges.map { tokens[Int($0.0)] + " " + tokens[Int($0.1)] }))]
        case .sentencePiece(let addSpacePrefix):
            // llama.cpp merges the adjacent pair whose joined text has the highest score: the score of a token is
            // minus the rank of the merge that makes it, so merges happen in the tokenizer's order.
            let ranks = model.mergeRankOfToken
            let scores = (0..<Int32(vocabularySize)).map { id in ranks[id].map { -Float($0) } ?? -Float(ranks.count + 1) }
            out += [("tokenizer.ggml.model", .string("llama")), ("tokenizer.ggml.pre", .string("default")),
                    ("tokenizer.ggml.scores", .float32s(scores)), ("tokenizer.ggml.add_space_prefix", .bool(addSpacePrefix))]
            if let unknown = model.unknownId { out.append(("tokenizer.ggml.unknown_token_id", .uint32(UInt32(unknown)))) }
        }
        out += [("tokenizer.ggml.add_bos_token", .bool(prefixIds.count == 1)), ("tokenizer.ggml.add_eos_token", .bool(suffixIds.count == 1))]
        if let bos = prefixIds.first ?? config.bosTokenId.map(Int32.init) { out.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos = suffixIds.first ?? config.eosTokenId.map(Int32.init), eos >= 0 { out.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        return out
    }
}
