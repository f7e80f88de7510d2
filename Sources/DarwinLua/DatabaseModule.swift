import CLua
import CLuaGlue
import DarwinCore
import Foundation

/// Installs `darwin.database` (class `darwin.Database`) and the model methods that use it.
enum DatabaseModule {
    static func install(into host: LuaHost, darwinTableIndex t: Int32) throws {
        try host.defineClass(PruningDatabase.self, name: "darwin.Database", methods: methods, metamethods: [("__tostring", { c in
            let db = try c.object(1, as: PruningDatabase.self)
            let m = db.manifest
            c.push("darwin.Database(\(db.path): \(m.blocks.count)/\(m.blockCount) blocks, \(m.attentionLevels.count) attention and \(m.mlpLevels.count) MLP levels)")
            return 1
        })], namespace: "database")
        host.pushModule("database", functions)
        host.rawSetField(tableIndex: t, "database")
    }

    static let functions: [(String, LuaFunction)] = [
        ("build", { c in
            // database.build(model, calibration, {path=, levels=n or {attention={...}, mlp={...}}, rel_damp=, max_blocks=, quiet=})
            let model = try c.object(1, as: LanguageModel.self)
            let calibration = try c.tokenSequences(2)
            let options = try LuaOptions(c, 3, allowed: ["path", "levels", "attention_levels", "mlp_levels", "rel_damp", "max_blocks", "quiet", "rank", "ranks"])
            guard let path = try options.string("path") else { throw LuaError("option 'path' (the database directory) is required") }
            var builder = DatabaseBuilder(model: model, steps: try options.integer("levels", in: 1...1000) ?? 10)
            if let a = try options.integerList("attention_levels", in: Int.min...Int.max) { builder.attentionLevels = a }
            if let m = try options.integerList("mlp_levels", in: Int.min...Int.max) { builder.mlpLevels = m }
            builder.relDamp = try options.number("rel_damp") ?? 0.01
            guard builder.relDamp >= 0 else { throw LuaError("option 'rel_damp' must be ≥ 0, got \(builder.relDamp)") }
            builder.maxNewBlocks = try options.integer("max_blocks", in: 0...Int(Int32.max))
            if !(try options.boolean("quiet") ?? false) {
                builder.progress = ProgressLine("database", total: Double(model.blocks.count), unit: "blocks")
            }
            // rank / ranks: a build shared by `ranks` processes (darwin.mpi); this one builds its blocks and returns nothing.
            if let ranks = try options.integer("ranks", in: 1...(1 << 20)), ranks > 1 {
                builder.share = (try options.integer("rank", in: 0...(ranks - 1)) ?? 0, ranks)
                try builder.buildShare(model: model, calibration: calibration, path: path)
                return 0
            }
            c.push(object: try builder.build(model: model, calibration: calibration, path: path))
            return 1
        }),
        ("merge", { c in
            // database.merge(path): joins the parts of a shared build into its manifest.
            c.push(object: try DatabaseBuilder.mergeParts(path: try c.string(1))); return 1
        }),
        ("open", { c in c.push(object: try PruningDatabase(path: try c.string(1))); return 1 }),
        ("levels", { c in
            // database.levels(structures, steps): the default level list build uses ({levels = steps}).
            c.push(integers: PruningLevels.evenlySpaced(structures: try c.integer(1, in: 1...(1 << 24)), steps: try c.integer(2, in: 1...1000)))
            return 1
        }),
    ]

    static func kind(_ c: LuaCall, _ i: Int32) throws -> UnitKind {
        let name = try c.string(i)
        guard let k = UnitKind(rawValue: name) else { throw LuaError("unit kind must be 'attention' or 'mlp', got '\(name)'") }
        return k
    }

    static let methods: [(String, LuaFunction)] = [
        ("levels", { c in c.push(integers: try c.object(1, as: PruningDatabase.self).levels(try kind(c, 2))); return 1 }),
        ("blocks", { c in c.push(try c.object(1, as: PruningDatabase.self).manifest.blockCount); return 1 }),
        // db:max_level(kind): the highest level of that kind (the unit fully removed).
        ("max_level", { c in c.push(try c.object(1, as: PruningDatabase.self).levels(try kind(c, 2)).count - 1); return 1 }),
        ("units", { c in
            let db = try c.object(1, as: PruningDatabase.self)
            let L = c.host.state
            lua_createtable(L, Int32(2 * db.manifest.blockCount), 0)
            for b in 0..<db.manifest.blockCount {
                for (j, k) in UnitKind.allCases.enumerated() {
                    lua_createtable(L, 0, 3)
                    c.push(b + 1); c.host.rawSetField(tableIndex: -2, "block")
                    c.push(k.rawValue); c.host.rawSetField(tableIndex: -2, "kind")
                    c.push(db.levels(k).count - 1); c.host.rawSetField(tableIndex: -2, "max_level")
                    lua_rawseti(L, -2, lua_Integer(2 * b + j + 1))
                }
            }
            return 1
        }),
        ("params", { c in
            let db = try c.object(1, as: PruningDatabase.self)
            if c.isTable(2) { c.push(try db.params(try genome(c, 2))); return 1 }
            c.push(try db.params(block: try c.index(2), kind: try kind(c, 3), level: try c.integer(4))); return 1
        }),
        ("kept", { c in
            let db = try c.object(1, as: PruningDatabase.self)
            c.push(integers: try db.kept(block: try c.index(2), kind: try kind(c, 3), level: try c.integer(4)).map { $0 + 1 }); return 1
        }),
        ("complete", { c in c.push(try c.object(1, as: PruningDatabase.self).manifest.isComplete); return 1 }),
    ]

    /// A genome table `{attention = {levels...}, mlp = {levels...}}` (level numbers, 0 = dense).
    static func genome(_ c: LuaCall, _ i: Int32) throws -> Genome {
        guard c.isTable(i) else { throw c.argumentError(i, "genome table {attention = {...}, mlp = {...}}") }
        func list(_ key: String) throws -> [Int] {
            let L = c.host.state
            lua_pushstring(L, key)
            lua_rawget(L, i)
            defer { darwin_pop(L, 1) }
            guard lua_type(L, -1) == LUA_TTABLE else { throw LuaError("genome field '\(key)' must be a table of levels, one per block") }
            return try LuaCall(host: c.host, name: c.name).integerList(from: lua_gettop(L))
        }
        return Genome(attention: try list("attention"), mlp: try list("mlp"))
    }

    /// Pushes a genome table.
    static func push(_ c: LuaCall, genome g: Genome) {
        lua_createtable(c.host.state, 0, 2)
        c.push(integers: g.attention); c.host.rawSetField(tableIndex: -2, "attention")
        c.push(integers: g.mlp); c.host.rawSetField(tableIndex: -2, "mlp")
    }

    /// Model methods: `apply`, `genome`, `clone`.
    static let modelMethods: [(String, LuaFunction)] = [
        ("apply", { c in
            let model = try c.object(1, as: LanguageModel.self)
            try model.apply(try c.object(2, as: PruningDatabase.self), try genome(c, 3))
            return 0
        }),
        ("genome", { c in
            let model = try c.object(1, as: LanguageModel.self)
            push(c, genome: model.genome ?? Genome(attention: Array(repeating: 0, count: model.blocks.count), mlp: Array(repeating: 0, count: model.blocks.count)))
            return 1
        }),
        ("clone", { c in c.push(object: try c.object(1, as: LanguageModel.self).clone()); return 1 }),
    ]
}
