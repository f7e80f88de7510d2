import CLua
import DarwinCore

/// `model:generate`: text or token continuation with a key/value cache.
enum GenerationMethods {
    static let options = ["max_tokens", "temperature", "top_k", "top_p", "seed", "stop", "tokenizer"]

    /// `model:generate(prompt, {max_tokens = 32, temperature = 0, top_k, top_p = 1, seed = 0, stop = {ids}, tokenizer})`.
    /// `prompt` is token ids (returns the new ids) or a string (needs `tokenizer`, or a tokenizer.json beside the
    /// model; returns the new text and the new ids). Greedy at temperature 0; stops after `max_tokens` or a token of
    /// `stop` (default: the config's eos_token_id).
    static func generate(_ c: LuaCall) throws -> Int32 {
        let model = try c.object(1, as: LanguageModel.self)
        let o = try LuaOptions(c, 3, allowed: options)
        var sampling = SamplingSettings()
        if let t = try o.number("temperature") {
            guard t >= 0, t.isFinite else { throw LuaError("option 'temperature' must be a finite number >= 0, got \(t)") }
            sampling.temperature = t
        }
        sampling.topK = try o.integer("top_k", in: 1...Int(Int32.max))
        if let p = try o.number("top_p") {
            guard p > 0, p <= 1 else { throw LuaError("option 'top_p' must be in (0, 1], got \(p)") }
            sampling.topP = p
        }
        sampling.seed = UInt64(try o.integer("seed", in: 0...Int.max) ?? 0)
        let maxTokens = try o.integer("max_tokens", in: 0...1_000_000) ?? 32
        let vocab = model.config.vocabSize - 1
        let stop = try o.integerList("stop", in: 0...vocab) ?? model.config.eosTokenId.map { [$0] } ?? []
        let text = lua_type(c.host.state, 2) == LUA_TSTRING
        var tokenizer = try o.object("tokenizer", as: Tokenizer.self, named: "darwin.Tokenizer")
        if text && tokenizer == nil {
            guard let source = model.source else { throw LuaError("model:generate: a text prompt needs {tokenizer = tok}") }
            tokenizer = try Tokenizer(path: source)
        }
        let prompt = text ? try tokenizer!.encodeStoppable(try c.string(2)) : try c.tokenSequences(2).first ?? []
        let ids = try model.generate(prompt: prompt, maxTokens: maxTokens, sampling: sampling, stop: Set(stop.map { Int32($0) }))
        let L = c.host.state
        if text { c.push(tokenizer!.decode(ids)) }
        lua_createtable(L, Int32(ids.count), 0)
        for (i, id) in ids.enumerated() { c.push(Int(id)); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        return text ? 2 : 1
    }
}
