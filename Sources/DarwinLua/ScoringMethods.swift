import CLua
import CLuaGlue
import DarwinCore

/// `model:loglikelihoods`: log-likelihoods of continuations given contexts, the primitive of zero-shot evaluation.
enum ScoringMethods {
    /// `model:loglikelihoods({{context_ids, continuation_ids}, ...}, {batch_size, max_length, progress})` returns two
    /// lists in the requests' order: each continuation's summed log-probability (nats) and whether greedy decoding
    /// gives every one of its tokens. The input is left-truncated to `max_length` tokens (default: the model's window).
    static func loglikelihoods(_ c: LuaCall) throws -> Int32 {
        let model = try c.object(1, as: LanguageModel.self)
        let requests = try readRequests(c, 2)
        let scores = try ModelModule.evaluating(c, model, count: requests.count, unit: "requests", optionsAt: 3, extra: ["max_length"]) { batch, options in
            try model.scoreContinuations(requests, batchSize: batch, maxLength: try options.integer("max_length", in: 1...(1 << 24)))
        }
        c.push(numbers: scores.map(\.logLikelihood))
        let L = c.host.state
        lua_createtable(L, Int32(scores.count), 0)
        for (k, s) in scores.enumerated() { c.push(s.isGreedy); lua_rawseti(L, -2, lua_Integer(k + 1)) }
        return 2
    }

    /// Argument `i`: a list of `{context_ids, continuation_ids}` pairs, each a list of token ids.
    static func readRequests(_ c: LuaCall, _ i: Int32) throws -> [ContinuationRequest] {
        let L = c.host.state
        guard c.isTable(i) else { throw c.argumentError(i, "list of {context_ids, continuation_ids} pairs") }
        return try (0..<Int(lua_rawlen(L, i))).map { index in
            let k = index + 1
            lua_rawgeti(L, i, lua_Integer(k))
            defer { darwin_pop(L, 1) }
            guard lua_type(L, -1) == LUA_TTABLE else { throw LuaError("request \(k): expected a {context_ids, continuation_ids} pair") }
            func ids(_ part: Int, _ what: String) throws -> [Int32] {
                lua_rawgeti(L, -1, lua_Integer(part))
                defer { darwin_pop(L, 1) }
                guard lua_type(L, -1) == LUA_TTABLE else { throw LuaError("request \(k): the \(what) must be a list of token ids") }
                // A call view that counts the pushed list among its slots.
                return try LuaCall(host: c.host, name: c.name).numberArray(lua_gettop(L)).enumerated().map { j, v in
                    guard LuaCall.isTokenId(v) else { throw LuaError("request \(k): \(what) entry \(j + 1) is \(v), not a token id") }
                    return Int32(v)
                }
            }
            return ContinuationRequest(context: try ids(1, "context"), continuation: try ids(2, "continuation"))
        }
    }
}
