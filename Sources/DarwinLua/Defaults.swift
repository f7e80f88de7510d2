import CLua

/// The defaults darwinhost's bindings and its Lua modules share (`darwin.defaults` in Lua): one place, so that
/// `model:kl(ids, targets)` and a search script batch the same way and a trainer made in Lua or by the stdlib uses
/// the same learning rate.
public enum Defaults {
    /// Sequences per batch in evaluation, scoring and training.
    public static let batchSize = 4
    /// The fine-tuning learning rate (AdamW), as DarwinLM fine-tunes pruned models.
    public static let learningRate = 1e-4

    /// Pushes the table `{batch_size =, lr =}`.
    static func push(_ host: LuaHost) {
        lua_createtable(host.state, 0, 2)
        lua_pushinteger(host.state, lua_Integer(batchSize)); host.rawSetField(tableIndex: -2, "batch_size")
        lua_pushnumber(host.state, learningRate); host.rawSetField(tableIndex: -2, "lr")
    }
}
