import CLua
import DarwinCore

/// Model methods for pruning a trained model directly (without a compression database):
/// `model:gradients` for gradient-based importance scores and `model:keep` to remove structures.
enum StructureMethods {
    static let modelMethods: [(String, LuaFunction)] = [
        ("gradients", { c in
            // model:gradients(ids [, {batch_size = 8}]) -> loss, {name = gradient tensor}
            let model = try c.object(1, as: LanguageModel.self)
            let batch = try LuaOptions(c, 3, allowed: ["batch_size"]).integer("batch_size") ?? Defaults.batchSize
            let (loss, grads) = try model.lossGradients(try c.tokenSequences(2), batchSize: batch)
            c.push(loss)
            lua_createtable(c.host.state, 0, Int32(grads.count))
            for (name, g) in grads { c.push(g); c.host.rawSetField(tableIndex: -2, name) }
            return 2
        }),
        ("keep", { c in
            // model:keep(block, "attention" | "mlp", indices): keep only these heads / neurons (1-based, ascending).
            let model = try c.object(1, as: LanguageModel.self)
            let kindName = try c.string(3)
            guard let kind = UnitKind(rawValue: kindName) else { throw LuaError("bad argument #3 to 'model.keep' (expected 'attention' or 'mlp', got '\(kindName)')") }
            try model.keep(block: try c.index(2), kind: kind, try c.indexList(4))
            return 0
        }),
    ]
}
