import CLua
import CLuaGlue
import DarwinCore

/// Installs `darwin.load` and the `darwin.Model` / `darwin.Targets` classes.
enum ModelModule {
    static func install(into host: LuaHost, darwinTableIndex t: Int32) throws {
        try host.defineClass(LanguageModel.self, name: "darwin.Model", methods: methods + DatabaseModule.modelMethods + StructureMethods.modelMethods + [("save", TrainingModule.save)],
                             metamethods: [("__tostring", { c in c.push(ModelModule.summaryText(try c.object(1, as: LanguageModel.self))); return 1 })],
                             namespace: "model")
        try host.defineClass(TargetDistribution.self, name: "darwin.Targets", methods: [
            ("bytes", { c in c.push(try c.object(1, as: TargetDistribution.self).byteCount); return 1 }),
        ], metamethods: [("__tostring", { c in
            let d = try c.object(1, as: TargetDistribution.self)
            c.push("darwin.Targets(\(d.sequenceCount)x\(d.sequenceLength) positions, \(d.topK.map { "top-\($0)" } ?? "full") distributions, \(d.byteCount / 1_048_576) MiB)")
            return 1
        })], namespace: "targets")
        host.pushFunction("darwin.load") { c in
            // darwin.load(dir [, {dtype = "checkpoint" | "float32"}])
            let dtype = try LuaOptions(c, 2, allowed: ["dtype"]).string("dtype") ?? "checkpoint"
            guard dtype == "checkpoint" || dtype == "float32" else {
                throw LuaError("darwin.load: dtype must be \"checkpoint\" (16-bit weights stay 16-bit) or \"float32\", got \"\(dtype)\"")
            }
            c.push(object: try ModelLoader.load(directory: try c.string(1), keepHalf: dtype == "checkpoint")); return 1
        }
        host.rawSetField(tableIndex: t, "load")
        Defaults.push(host)
        host.rawSetField(tableIndex: t, "defaults")
        host.pushFunction("darwin.random_model") { c in
            // darwin.random_model{vocab=, hidden=, layers=, heads=, kv_heads=, intermediate=, head_dim=, tied=, std=, seed=}
            let o = try LuaOptions(c, 1, allowed: ["vocab", "hidden", "layers", "heads", "kv_heads", "intermediate", "head_dim", "tied", "std", "seed"])
            func need(_ k: String) throws -> Int {
                guard let v = try o.integer(k), v > 0 else { throw LuaError("option '\(k)' must be a positive integer") }
                return v
            }
            let heads = try need("heads")
            let kv = try o.integer("kv_heads") ?? heads
            guard kv > 0, heads % kv == 0 else { throw LuaError("option 'heads' (\(heads)) must be a multiple of 'kv_heads' (\(kv))") }
            c.push(object: try LanguageModel.random(vocab: try need("vocab"), hidden: try need("hidden"), layers: try need("layers"), heads: heads,
                                                    kvHeads: kv, intermediate: try need("intermediate"), headDim: try o.integer("head_dim"),
                                                    tied: try o.boolean("tied") ?? true, std: Float(try o.number("std") ?? 0.02),
                                                    seed: UInt64(bitPattern: Int64(try o.integer("seed") ?? 0))))
            return 1
        }
        host.rawSetField(tableIndex: t, "random_model")
    }

    static let evaluationOptions = ["batch_size", "progress"]

    /// Runs an evaluation of `count` items (sequences, requests) with the options every evaluation takes (table at
    /// argument `i`): `batch_size`, and `progress`, a label for a live progress line over the items.
    static func evaluating<T>(_ c: LuaCall, _ model: LanguageModel, count: Int, unit: String = "sequences", optionsAt i: Int32,
                              extra: [String] = [], _ body: (Int, LuaOptions) throws -> T) throws -> T {
        let options = try LuaOptions(c, i, allowed: evaluationOptions + extra)
        let batch = try options.integer("batch_size") ?? Defaults.batchSize
        if let label = try options.string("progress") {
            model.evaluationProgress = ProgressLine(label, total: Double(count), unit: unit)
        }
        defer { model.evaluationProgress?.finish(); model.evaluationProgress = nil }
        return try body(batch, options)
    }

    static let methods: [(String, LuaFunction)] = [
        ("forward", { c in
            let model = try c.object(1, as: LanguageModel.self)
            let seqs = try c.tokenSequences(2)
            let options = try LuaOptions(c, 3, allowed: ["hidden_states"])
            let keep = try options.boolean("hidden_states") ?? false
            let r = try model.forward(tokens: Array(seqs.joined()), batch: seqs.count, keepHiddenStates: keep)
            c.push(r.logits)
            guard keep else { return 1 }
            lua_createtable(c.host.state, Int32(r.hiddenStates.count), 0)
            for (i, h) in r.hiddenStates.enumerated() { c.push(h); lua_rawseti(c.host.state, -2, lua_Integer(i + 1)) }
            return 2
        }),
        ("perplexity", { c in
            let model = try c.object(1, as: LanguageModel.self), seqs = try c.tokenSequences(2)
            c.push(try evaluating(c, model, count: seqs.count, optionsAt: 3) { batch, _ in try model.perplexity(seqs, batchSize: batch) }); return 1
        }),
        ("nll", { c in
            let model = try c.object(1, as: LanguageModel.self), seqs = try c.tokenSequences(2)
            let (sum, count) = try evaluating(c, model, count: seqs.count, optionsAt: 3) { batch, _ in try model.negativeLogLikelihood(seqs, batchSize: batch) }
            c.push(sum); c.push(count); return 2
        }),
        ("targets", { c in
            let model = try c.object(1, as: LanguageModel.self), seqs = try c.tokenSequences(2)
            c.push(object: try evaluating(c, model, count: seqs.count, optionsAt: 3, extra: ["topk"]) { batch, options in
                try model.targets(seqs, topK: try options.integer("topk"), batchSize: batch)
            })
            return 1
        }),
        ("kl", { c in
            let model = try c.object(1, as: LanguageModel.self), seqs = try c.tokenSequences(2)
            let target = try c.object(3, as: TargetDistribution.self)
            c.push(try evaluating(c, model, count: seqs.count, optionsAt: 4) { batch, _ in try model.klDivergence(seqs, to: target, batchSize: batch) }); return 1
        }),
        ("parameters", { c in c.push(try c.object(1, as: LanguageModel.self).parameterCount); return 1 }),
        ("generate", GenerationMethods.generate),
        ("loglikelihoods", ScoringMethods.loglikelihoods),
        ("dtype", { c in c.push(try c.object(1, as: LanguageModel.self).weightFormatName); return 1 }),
        ("parameter", { c in
            // model:parameter(name): the weight tensor with that Hugging Face name (shared: edits change the model;
            // a 16-bit weight matrix becomes float32 in memory for good when fetched this way).
            let model = try c.object(1, as: LanguageModel.self), name = try c.string(2)
            guard let p = model.namedWeights.first(where: { $0.0 == name })?.1 else {
                throw LuaError("no parameter named '\(name)' (names look like model.layers.0.mlp.down_proj.weight)")
            }
            switch p {
            case .matrix(let w): c.push(w.tensor)
            case .vector(let t): c.push(t)
            }
            return 1
        }),
        ("parameter_names", { c in
            let model = try c.object(1, as: LanguageModel.self)
            let names = model.namedWeights.map(\.0)
            lua_createtable(c.host.state, Int32(names.count), 0)
            for (i, n) in names.enumerated() { c.push(n); lua_rawseti(c.host.state, -2, lua_Integer(i + 1)) }
            return 1
        }),
        ("config", { c in pushConfig(c, try c.object(1, as: LanguageModel.self)); return 1 }),
        ("summary", { c in pushSummary(c, try c.object(1, as: LanguageModel.self)); return 1 }),
    ]

    /// `model:config()`: the architecture as a Lua table (Hugging Face field names).
    static func pushConfig(_ c: LuaCall, _ m: LanguageModel) {
        let cfg = m.config, L = c.host.state
        lua_createtable(L, 0, 16)
        let fields: [(String, Any)] = [
            ("architecture", cfg.architecture.rawValue), ("vocab_size", cfg.vocabSize), ("hidden_size", cfg.hiddenSize),
            ("intermediate_size", cfg.intermediateSize), ("num_hidden_layers", cfg.layerCount),
            ("num_attention_heads", cfg.headCount), ("num_key_value_heads", cfg.kvHeadCount), ("head_dim", cfg.headDim),
            ("rms_norm_eps", cfg.rmsNormEps), ("rope_theta", cfg.rope.theta), ("tie_word_embeddings", cfg.tieWordEmbeddings),
            ("max_position_embeddings", cfg.maxPositions), ("source", m.source ?? ""),
        ]
        for (key, value) in fields {
            switch value {
            case let v as Int: c.push(v)
            case let v as Double: c.push(v)
            case let v as Bool: c.push(v)
            default: c.push("\(value)")
            }
            c.host.rawSetField(tableIndex: -2, key)
        }
    }

    /// `model:summary()`: one entry per block with its heads, MLP width and parameters, plus totals.
    static func pushSummary(_ c: LuaCall, _ m: LanguageModel) {
        let L = c.host.state
        lua_createtable(L, Int32(m.blocks.count), 2)
        for (i, b) in m.blocks.enumerated() {
            lua_createtable(L, 0, 5)
            c.push(i + 1); c.host.rawSetField(tableIndex: -2, "layer")
            c.push(b.attention?.queryHeads ?? 0); c.host.rawSetField(tableIndex: -2, "query_heads")
            c.push(b.attention?.kvHeads ?? 0); c.host.rawSetField(tableIndex: -2, "kv_heads")
            c.push(b.mlp?.width ?? 0); c.host.rawSetField(tableIndex: -2, "mlp_width")
            c.push(b.parameterCount); c.host.rawSetField(tableIndex: -2, "params")
            lua_rawseti(L, -2, lua_Integer(i + 1))
        }
        c.push(m.parameterCount); c.host.rawSetField(tableIndex: -2, "total_params")
    }

    /// The text `print(model)` shows.
    static func summaryText(_ m: LanguageModel) -> String {
        let cfg = m.config
        var lines = ["darwin.Model \(cfg.architecture.rawValue) from \(m.source ?? "memory"): \(m.parameterCount) parameters, vocab \(cfg.vocabSize), hidden \(cfg.hiddenSize), head_dim \(cfg.headDim)"]
        for (i, b) in m.blocks.enumerated() {
            lines.append("  block \(i + 1): \(b.attention.map { "\($0.queryHeads) query / \($0.kvHeads) kv heads" } ?? "attention removed"), \(b.mlp.map { "mlp \($0.width)" } ?? "mlp removed"), \(b.parameterCount) params")
        }
        return lines.joined(separator: "\n")
    }
}

/// Installs `darwin.tokenizer` (class `darwin.Tokenizer`) and the `darwin.data` module.
enum TextModule {
    static func install(into host: LuaHost, darwinTableIndex t: Int32) throws {
        try host.defineClass(Tokenizer.self, name: "darwin.Tokenizer", methods: tokenizerMethods,
                             metamethods: [("__tostring", { c in
                                 let tok = try c.object(1, as: Tokenizer.self)
                                 c.push("darwin.Tokenizer(\(tok.path), \(tok.vocabularySize) ids)"); return 1
                             })], namespace: "tokenizer")
        host.pushFunction("darwin.tokenizer") { c in c.push(object: try Tokenizer(path: try c.string(1))); return 1 }
        host.rawSetField(tableIndex: t, "tokenizer")
        host.pushModule("data", dataFunctions)
        host.rawSetField(tableIndex: t, "data")
    }

    static let tokenizerMethods: [(String, LuaFunction)] = [
        ("encode", { c in
            let tok = try c.object(1, as: Tokenizer.self)
            let add = try LuaOptions(c, 3, allowed: ["add_special_tokens"]).boolean("add_special_tokens") ?? true
            c.push(integers: try tok.encodeStoppable(try c.string(2), addSpecialTokens: add).map(Int.init)); return 1
        }),
        ("decode", { c in
            let tok = try c.object(1, as: Tokenizer.self)
            let skip = try LuaOptions(c, 3, allowed: ["skip_special_tokens"]).boolean("skip_special_tokens") ?? false
            c.push(tok.decode(try c.tokenSequences(2).flatMap { $0 }, skipSpecialTokens: skip)); return 1
        }),
        ("vocab_size", { c in c.push(try c.object(1, as: Tokenizer.self).vocabularySize); return 1 }),
        ("path", { c in c.push(try c.object(1, as: Tokenizer.self).path); return 1 }),
        ("token_to_id", { c in
            if let id = try c.object(1, as: Tokenizer.self).id(of: try c.string(2)) { c.push(Int(id)) } else { c.pushNil() }
            return 1
        }),
        ("id_to_token", { c in
            let tok = try c.object(1, as: Tokenizer.self), id = try c.integer(2)
            if let id = Int32(exactly: id), let t = tok.token(of: id) { c.push(t) } else { c.pushNil() }
            return 1
        }),
    ]

    static let dataFunctions: [(String, LuaFunction)] = [
        ("tokens", { c in
            let tok = c.optionalObject(2, as: Tokenizer.self)
            let separator = try LuaOptions(c, 3, allowed: ["separator"]).integer("separator", in: 0...Int(Int32.max))
            let ids = try TokenSource.tokens(path: try c.string(1), tokenizer: tok, separator: separator.map(Int32.init))
            c.push(try Tensor(ids.map(Float.init), shape: [ids.count])); return 1
        }),
        ("sequences", { c in
            // data.sequences(path_or_ids, tokenizer, {seqlen=, count= | tokens=, seed=, mode=, separator=})
            let options = try LuaOptions(c, 3, allowed: ["seqlen", "count", "tokens", "seed", "mode", "separator"])
            let ids: [Int32]
            if let t = c.optionalObject(1, as: Tensor.self) { ids = try c.tokenSequences(1).flatMap { $0 }; _ = t } else {
                ids = try TokenSource.tokens(path: try c.string(1), tokenizer: c.optionalObject(2, as: Tokenizer.self),
                                             separator: try options.integer("separator", in: 0...Int(Int32.max)).map(Int32.init))
            }
            guard let length = try options.integer("seqlen") else { throw LuaError("option 'seqlen' is required") }
            let count = try options.integer("count") ?? (try options.integer("tokens")).map { max(1, $0 / max(length, 1)) }
            guard let count else { throw LuaError("give option 'count' (sequences) or 'tokens' (total tokens)") }
            let modeName = try options.string("mode") ?? "random"
            guard let mode = SequenceSampler.Mode(rawValue: modeName) else { throw LuaError("option 'mode' must be 'random' or 'sequential', got '\(modeName)'") }
            let seed = try options.integer("seed") ?? 0
            try c.push(sequences: try SequenceSampler.sequences(ids, length: length, count: count, mode: mode, seed: UInt64(bitPattern: Int64(seed))))
            return 1
        }),
    ]
}
