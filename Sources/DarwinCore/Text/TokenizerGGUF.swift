/// The tokenizer as GGUF metadata, the way llama.cpp's loader reads a byte-level BPE vocabulary (`gpt2`): tokens in
/// id order with their types, merges by rank, the pre-tokenizer by llama.cpp's name for its split pattern, and the
/// special tokens the post-processor adds.
extension Tokenizer {
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
        guard let pre = llamaCppPreTokenizer, !model.byteFallback else {
            throw FormatError(file: path, "GGUF export embeds byte-level BPE tokenizers whose pre-tokenizer llama.cpp names (GPT-2, Llama 3, Qwen2 patterns, no normalizer); this one is not such a tokenizer")
        }
        guard self.vocabularySize <= vocabularySize else {
            throw FormatError(file: path, "the tokenizer has \(self.vocabularySize) ids but the model only \(vocabularySize) embedding rows")
        }
        let added = Set((addedTokens.tokens + normalizedAddedTokens.tokens).map(\.id))
        var tokens: [String] = [], types: [Int32] = []
        for id in 0..<Int32(vocabularySize) {
            // llama.cpp's token types: 1 normal, 3 control, 4 user-defined, 5 unused.
            if let token = token(of: id) {
                tokens.append(token)
                types.append(specialIds.contains(id) ? 3 : added.contains(id) ? 4 : 1)
            } else {
                tokens.append("[PAD\(id)]"); types.append(5)
            }
        }
        let merges = model.rankedMerges.map { tokens[Int($0.0)] + " " + tokens[Int($0.1)] }
        var out: [(String, GGUFValue)] = [
            ("tokenizer.ggml.model", .string("gpt2")),
            ("tokenizer.ggml.pre", .string(pre)),
            ("tokenizer.ggml.tokens", .strings(tokens)),
            ("tokenizer.ggml.token_type", .int32s(types)),
            ("tokenizer.ggml.merges", .strings(merges)),
            ("tokenizer.ggml.add_bos_token", .bool(prefixIds.count == 1)),
            ("tokenizer.ggml.add_eos_token", .bool(suffixIds.count == 1)),
        ]
        if let bos = prefixIds.first ?? config.bosTokenId.map(Int32.init) { out.append(("tokenizer.ggml.bos_token_id", .uint32(UInt32(bos)))) }
        if let eos = suffixIds.first ?? config.eosTokenId.map(Int32.init), eos >= 0 { out.append(("tokenizer.ggml.eos_token_id", .uint32(UInt32(eos)))) }
        return out
    }
}
