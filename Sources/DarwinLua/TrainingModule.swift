import Foundation
import CDarwinMPI
import CLua
import CLuaGlue
import DarwinCore

/// Installs `darwin.trainer` (class `darwin.Trainer`) and `model:save`.
enum TrainingModule {
    static func install(into host: LuaHost, darwinTableIndex t: Int32) throws {
        try host.defineClass(Trainer.self, name: "darwin.Trainer", methods: methods, metamethods: [("__tostring", { c in
            let tr = try c.object(1, as: Trainer.self)
            c.push("darwin.Trainer(\(tr.optimizer.settings.kind.rawValue), \(tr.optimizer.parameters.count) tensors, step \(tr.optimizer.step))")
            return 1
        })], namespace: "trainer")
        host.pushFunction("darwin.trainer") { c in c.push(object: try makeTrainer(c)); return 1 }
        host.rawSetField(tableIndex: t, "trainer")
    }

    static let options = ["lr", "optimizer", "beta1", "beta2", "eps", "weight_decay", "momentum", "warmup", "total_steps",
                          "min_lr_ratio", "schedule_offset", "clip", "accumulate", "params", "ignore_index", "recompute", "state_dtype",
                          "allreduce", "thread_split"]

    /// `darwin.trainer(model, {lr=, optimizer="adamw"|"sgd", beta1=, beta2=, eps=, weight_decay=, momentum=,
    /// warmup=, total_steps=, min_lr_ratio=, schedule_offset=, clip=, accumulate=, params={patterns}, ignore_index=,
    /// recompute=, state_dtype="float32"|"bf16", thread_split="sequences"|"products"})`. Every number is checked against its range before anything is built.
    static func makeTrainer(_ c: LuaCall) throws -> Trainer {
        let model = try c.object(1, as: LanguageModel.self)
        let o = try LuaOptions(c, 2, allowed: options)
        var s = OptimizerSettings()
        s.learningRate = Defaults.learningRate
        if let name = try o.string("optimizer") {
            guard let kind = OptimizerSettings.Kind(rawValue: name) else { throw LuaError("option 'optimizer' must be 'adamw' or 'sgd', got '\(name)'") }
            s.kind = kind
        }
        if let name = try o.string("state_dtype") {
            guard let format = OptimizerSettings.StateFormat(rawValue: name) else {
                throw LuaError("option 'state_dtype' must be 'float32' or 'bf16' (the optimizer moments' storage), got '\(name)'")
            }
            s.stateFormat = format
        }
        func number(_ key: String, _ fallback: Double?, _ valid: (Double) -> Bool, _ range: String) throws -> Double? {
            guard let v = try o.number(key) else { return fallback }
            guard valid(v) else { throw LuaError("option '\(key)' must be \(range), got \(v)") }
            return v
        }
        s.learningRate = try number("lr", s.learningRate, { $0 >= 0 }, "≥ 0")!
        s.beta1 = try number("beta1", s.beta1, { $0 >= 0 && $0 < 1 }, "in [0, 1)")!
        s.beta2 = try number("beta2", s.beta2, { $0 >= 0 && $0 < 1 }, "in [0, 1)")!
        s.epsilon = try number("eps", s.epsilon, { $0 > 0 }, "> 0")!
        s.weightDecay = try number("weight_decay", s.kind == .sgd ? 0 : s.weightDecay, { $0 >= 0 }, "≥ 0")!
        s.momentum = try number("momentum", 0, { $0 >= 0 && $0 < 1 }, "in [0, 1)")!
        s.clipNorm = try number("clip", nil, { $0 > 0 }, "> 0 (a gradient-norm bound)")
        s.scheduleOffset = try o.integer("schedule_offset", in: 0...Int(Int32.max)) ?? 0
        if let total = try o.integer("total_steps", in: 1...Int(Int32.max)) {
            s.schedule = .warmupCosine(warmup: try o.integer("warmup", in: 0...Int(Int32.max)) ?? 0, total: total,
                                       minRatio: try number("min_lr_ratio", 0.1, { $0 >= 0 && $0 <= 1 }, "in [0, 1]")!)
        } else if try o.integer("warmup") != nil {
            throw LuaError("option 'warmup' needs 'total_steps' (warmup then cosine decay)")
        }
        let patterns = try patternList(c, 2)
        if let patterns, patterns.isEmpty { throw LuaError("option 'params' selects no parameter patterns") }
        let include: ((String) -> Bool)? = patterns.map { list in { name in list.contains { name.contains($0) } } }
        let trainer = Trainer(model: model, settings: s, include: include, accumulation: try o.integer("accumulate", in: 1...1_000_000) ?? 1,
                              ignoreIndex: (try o.integer("ignore_index", in: Int(Int32.min)...Int(Int32.max))).map(Int32.init))
        trainer.recompute = try o.boolean("recompute")
        if let name = try o.string("thread_split") {
            guard let split = Trainer.ThreadSplit(rawValue: name) else {
                throw LuaError("option 'thread_split' must be 'sequences' (each thread trains on its share of the batch's sequences) or 'products' (every matrix product split across the threads), got '\(name)'")
            }
            trainer.threadSplit = split
        }
        if try o.boolean("allreduce") ?? false {
            // Data parallelism over an MPI job: each gradient is summed over the ranks (after `share` scaled it).
            trainer.gradientReducer = { g in
                guard g.isContiguous else { throw LuaError("trainer: a gradient to all-reduce is not contiguous") }
                try MPIModule.check(darwin_mpi_allreduce_sum(g.data, Int64(g.count)), "allreduce")
            }
        }
        guard !trainer.optimizer.parameters.isEmpty else { throw LuaError("option 'params' matches no parameter name") }
        return trainer
    }

    /// The `params` option: a list of substrings of parameter names (`{"mlp", "self_attn.o_proj"}`).
    static func patternList(_ c: LuaCall, _ i: Int32) throws -> [String]? {
        guard c.isTable(i) else { return nil }
        let L = c.host.state
        lua_pushstring(L, "params")
        lua_rawget(L, i)
        defer { darwin_pop(L, 1) }
        if lua_type(L, -1) == LUA_TNIL { return nil }
        guard lua_type(L, -1) == LUA_TTABLE else { throw LuaError("option 'params' must be a list of name patterns") }
        var out: [String] = []
        for k in 1...max(1, Int(lua_rawlen(L, -1))) where lua_rawlen(L, -1) > 0 {
            lua_rawgeti(L, -1, lua_Integer(k))
            defer { darwin_pop(L, 1) }
            guard let s = c.host.string(at: -1) else { throw LuaError("option 'params' entry \(k) must be a string") }
            out.append(s)
        }
        return out
    }

    static let methods: [(String, LuaFunction)] = [
        ("step", { c in
            // trainer:step(batch [, targets [, first_sequence]]): cross-entropy, or distillation KL to dense targets
            // made on a set of sequences of which `batch` are rows first_sequence... (default 1).
            let tr = try c.object(1, as: Trainer.self)
            let seqs = try c.tokenSequences(2)
            let distillation = try c.optionalObject(3, as: TargetDistribution.self).map { ($0, try c.integer(4, default: 1) - 1) }
            if !c.isNil(3) && distillation == nil { throw c.argumentError(3, "darwin.Targets") }
            c.push(try tr.step(tokens: Array(seqs.joined()), batch: seqs.count, distillation: distillation)); return 1
        }),
        ("share", { c in
            // trainer:share(fraction): this rank's part of the next batches in data-parallel training (its rows / all rows).
            let tr = try c.object(1, as: Trainer.self)
            let f = try c.number(2)
            guard f >= 0 && f <= 1 else { throw LuaError("trainer:share: the fraction must be in [0, 1], got \(f)") }
            tr.gradientShare = Float(f)
            return 0
        }),
        ("lr", { c in c.push(try c.object(1, as: Trainer.self).optimizer.currentLearningRate); return 1 }),
        ("steps", { c in c.push(try c.object(1, as: Trainer.self).optimizer.step); return 1 }),
        ("tokens", { c in c.push(try c.object(1, as: Trainer.self).tokensSeen); return 1 }),
        ("parameters", { c in c.push(try c.object(1, as: Trainer.self).optimizer.parameters.map(\.1.count).reduce(0, +)); return 1 }),
    ]

    /// `model:save(dir [, {dtype = "float32" | "bfloat16", padded = false}])`; `padded` writes a pruned model in
    /// the dense shapes with zeros for removed structures (loadable by `transformers`, same logits).
    /// `model:save(file, {format = "gguf", dtype = "f32" | "f16" | "bf16" | "q8_0", tokenizer = tok})` writes one
    /// GGUF file for llama.cpp, per-block shapes kept, and returns `{architecture, notes, parameters}`.
    static let save: LuaFunction = { c in
        var model = try c.object(1, as: LanguageModel.self)
        let options = try LuaOptions(c, 3, allowed: ["dtype", "padded", "format", "tokenizer"])
        let format = try options.string("format") ?? "safetensors"
        if format == "gguf" { return try saveGGUF(c, model, options) }
        guard format == "safetensors" else { throw LuaError("option 'format' must be 'safetensors' or 'gguf', got '\(format)'") }
        if try options.boolean("padded") ?? false { model = try model.zeroPadded() }
        let dtype = try options.string("dtype") ?? "float32"
        guard dtype == "float32" || dtype == "bfloat16" else { throw LuaError("option 'dtype' must be 'float32' or 'bfloat16', got '\(dtype)'") }
        try ModelSaver.save(model, to: try c.string(2), precision: dtype == "float32" ? .f32 : .bf16)
        return 0
    }

    /// The GGUF branch of `model:save`: the tokenizer is the option's, else the one beside the loaded checkpoint.
    static func saveGGUF(_ c: LuaCall, _ model: LanguageModel, _ options: LuaOptions) throws -> Int32 {
        let names = GGMLType.allCases.map(\.name)
        let dtype = try options.string("dtype") ?? "f32"
        guard let type = GGMLType.allCases.first(where: { $0.name == dtype }) else {
            throw LuaError("option 'dtype' must be one of \(names.joined(separator: ", ")) for GGUF, got '\(dtype)'")
        }
        if try options.boolean("padded") == true { throw LuaError("option 'padded' does not apply to GGUF, which keeps per-block shapes") }
        let tokenizer: Tokenizer
        if let given = try options.object("tokenizer", as: Tokenizer.self, named: "darwin.Tokenizer") {
            tokenizer = given
        } else if let source = model.source, FileManager.default.fileExists(atPath: source + "/tokenizer.json") {
            tokenizer = try Tokenizer(path: source + "/tokenizer.json")
        } else {
            throw LuaError("GGUF embeds the tokenizer: pass {tokenizer = darwin.tokenizer(path)}; the model has no tokenizer.json beside its checkpoint")
        }
        let report = try GGUFExport.save(model, tokenizer: tokenizer, to: try c.string(2), type: type)
        c.push(fields: [("architecture", { c.push(report.architecture) }), ("notes", { c.push(strings: report.notes) }),
                        ("parameters", { c.push(report.writtenParameters) })])
        return 1
    }
}
