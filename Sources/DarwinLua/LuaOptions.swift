import CLua
import CLuaGlue
import DarwinCore

/// An options table argument (`{batch_size = 8, topk = 64}`), read with raw access. Unknown keys are errors,
/// so a misspelt option is reported rather than silently ignored.
public struct LuaOptions {
    let call: LuaCall
    let index: Int32
    let allowed: Set<String>

    /// Reads argument `i` (absent or nil means no options); `allowed` lists the keys the function accepts.
    public init(_ call: LuaCall, _ i: Int32, allowed: [String]) throws {
        self.call = call
        self.index = i
        self.allowed = Set(allowed)
        guard call.isNil(i) || call.isTable(i) else { throw call.argumentError(i, "options table") }
        if call.isTable(i) {
            let L = call.host.state
            lua_pushnil(L)
            while lua_next(L, i) != 0 {
                let key = call.host.string(at: -2) ?? "?"
                darwin_pop(L, 1)
                if lua_type(L, -1) != LUA_TSTRING || !self.allowed.contains(key) {
                    darwin_pop(L, 1)
                    throw LuaError("unknown option '\(key)' (accepted: \(allowed.sorted().joined(separator: ", ")))")
                }
            }
        }
    }

    /// Pushes the value of `key` (nil when absent) and runs `read` on it.
    private func with<T>(_ key: String, _ read: (OpaquePointer) throws -> T?) rethrows -> T? {
        guard call.isTable(index) else { return nil }
        let L = call.host.state
        lua_pushstring(L, key)
        lua_rawget(L, index)
        defer { darwin_pop(L, 1) }
        return lua_type(L, -1) == LUA_TNIL ? nil : try read(L)
    }

    /// An integer option.
    public func integer(_ key: String) throws -> Int? {
        try with(key) { L in
            var ok: Int32 = 0
            let v = lua_tonumberx(L, -1, &ok)
            guard ok != 0, lua_type(L, -1) == LUA_TNUMBER, let value = v.exactInteger else {
                throw LuaError("option '\(key)' must be an integer, got \(v)")
            }
            return value
        }
    }

    /// A list of integers option (`{2, 7}`), each within `range`.
    public func integerList(_ key: String, in range: ClosedRange<Int>) throws -> [Int]? {
        try with(key) { L in
            guard lua_type(L, -1) == LUA_TTABLE else { throw LuaError("option '\(key)' must be a list of integers") }
            // A call view that counts the pushed value among its slots (the original call's count ends at its arguments).
            return try LuaCall(host: call.host, name: call.name).numberArray(lua_gettop(L)).enumerated().map { k, v in
                guard let value = v.exactInteger, range.contains(value) else {
                    throw LuaError("option '\(key)' item \(k + 1) must be an integer in \(range.lowerBound)...\(range.upperBound)")
                }
                return value
            }
        }
    }

    /// An object option of class `T` (`{tokenizer = tok}`).
    public func object<T: AnyObject>(_ key: String, as type: T.Type, named name: String) throws -> T? {
        try with(key) { _ in
            guard let object = call.host.object(at: -1, as: type) else { throw LuaError("option '\(key)' must be a \(name)") }
            return object
        }
    }

    /// An integer option within `range`.
    public func integer(_ key: String, in range: ClosedRange<Int>) throws -> Int? {
        guard let v = try integer(key) else { return nil }
        guard range.contains(v) else { throw LuaError("option '\(key)' must be an integer in \(range.lowerBound)...\(range.upperBound), got \(v)") }
        return v
    }

    /// A number option.
    public func number(_ key: String) throws -> Double? {
        try with(key) { L in
            guard lua_type(L, -1) == LUA_TNUMBER, lua_tonumberx(L, -1, nil).isFinite else {
                throw LuaError("option '\(key)' must be a finite number")
            }
            return lua_tonumberx(L, -1, nil)
        }
    }

    /// A boolean option.
    public func boolean(_ key: String) throws -> Bool? {
        try with(key) { L in
            guard lua_type(L, -1) == LUA_TBOOLEAN else { throw LuaError("option '\(key)' must be true or false") }
            return lua_toboolean(L, -1) != 0
        }
    }

    /// A string option.
    public func string(_ key: String) throws -> String? {
        try with(key) { _ in
            guard let s = call.host.string(at: -1), lua_type(call.host.state, -1) == LUA_TSTRING else { throw LuaError("option '\(key)' must be a string") }
            return s
        }
    }
}

/// Token ids as Lua passes them: a tensor `[batch, seq]` or `[seq]`, a table of ids, or a table of tables.
extension LuaCall {
    /// Argument `i` as equal-length id sequences.
    public func tokenSequences(_ i: Int32) throws -> [[Int32]] {
        if let t = optionalObject(i, as: Tensor.self) {
            guard t.rank == 1 || t.rank == 2 else { throw LuaError("token ids must be a 1-d or 2-d tensor, got shape \(TensorError.show(t.shape))") }
            let values = t.toArray()
            if let bad = values.first(where: { !LuaCall.isTokenId(Double($0)) }) { throw LuaError("token id \(bad) is not an integer in 0...\(Int32.max)") }
            let seq = t.shape[t.rank - 1]
            let rows = t.rank == 1 ? 1 : t.shape[0]
            return (0..<rows).map { r in values[(r * seq)..<((r + 1) * seq)].map { Int32($0) } }
        }
        let (values, shape) = try nestedNumbers(i)
        guard shape.count == 1 || shape.count == 2 else { throw LuaError("token ids must be a table of ids or a table of equal-length tables") }
        if let bad = values.first(where: { !LuaCall.isTokenId(Double($0)) }) { throw LuaError("token id \(bad) is not an integer in 0...\(Int32.max)") }
        let seq = shape[shape.count - 1], rows = shape.count == 1 ? 1 : shape[0]
        return (0..<rows).map { r in values[(r * seq)..<((r + 1) * seq)].map { Int32($0) } }
    }

    /// True for a number that is a token id: an integer in `0...Int32.max`.
    static func isTokenId(_ v: Double) -> Bool { v == v.rounded() && v >= 0 && v < 2147483648 }

    /// Pushes sequences as a `[count, seq]` tensor of ids.
    public func push(sequences: [[Int32]]) throws {
        let seq = sequences.first?.count ?? 0
        push(try Tensor(sequences.flatMap { $0.map(Float.init) }, shape: [sequences.count, seq]))
    }
}
