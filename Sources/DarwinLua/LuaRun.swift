import CLua
import CLuaGlue

/// Running Lua code from Swift, always under `lua_pcall` with a traceback handler.
extension LuaHost {
    /// Loads `code` as a chunk named `chunkName`; on success the function is left on the stack.
    public func load(_ code: String, chunkName: String) throws {
        try load(bytes: Array(code.utf8), chunkName: Array(chunkName.utf8))
    }

    /// Loads the bytes of a chunk exactly as given (Lua source is bytes: any encoding, binary string literals).
    public func load(bytes code: [UInt8], chunkName: [UInt8]) throws {
        let status = (code + [0]).withUnsafeBufferPointer { buf in
            (chunkName + [0]).withUnsafeBufferPointer { name in
                buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { text in
                    name.baseAddress!.withMemoryRebound(to: CChar.self, capacity: name.count) { darwin_load(state, text, code.count, $0) }
                }
            }
        }
        if status != LUA_OK { throw LuaError(popMessage()) }
    }

    /// Pushes a Lua string with exactly these bytes.
    public func push(bytes: [UInt8]) {
        (bytes + [0]).withUnsafeBufferPointer { buf in
            buf.baseAddress!.withMemoryRebound(to: CChar.self, capacity: buf.count) { _ = lua_pushlstring(state, $0, bytes.count) }
        }
    }

    /// Calls the function below `nargs` arguments on the stack; returns the number of results left there.
    /// Errors carry a full Lua traceback.
    @discardableResult
    public func call(nargs: Int32, nresults: Int32 = LUA_MULTRET) throws -> Int32 {
        let base = lua_gettop(state) - nargs - 1
        let status = darwin_pcall_traceback(state, nargs, nresults)
        if status != LUA_OK { throw LuaError(popMessage()) }
        return lua_gettop(state) - base
    }

    /// Runs `code` and returns its results converted with `tostring`.
    @discardableResult
    public func run(_ code: String, chunkName: String = "=(darwinhost)") throws -> [String] {
        let top = lua_gettop(state)
        defer { lua_settop(state, top) }
        try load(code, chunkName: chunkName)
        let n = try call(nargs: 0)
        return try (0..<n).map { try describe(at: top + 1 + $0) }
    }

    /// `tostring(value)` of the stack slot `index`, run under protection (it may call `__tostring`).
    public func describe(at index: Int32) throws -> String {
        let status = darwin_tostring_protected(state, index)
        let text = string(at: -1) ?? "?"
        darwin_pop(state, 1)
        if status != LUA_OK { throw LuaError(text) }
        return text
    }

    /// The string at `index` when it is a string or number, without raising.
    public func string(at index: Int32) -> String? {
        guard lua_type(state, index) == LUA_TSTRING || lua_type(state, index) == LUA_TNUMBER else { return nil }
        var len = 0
        guard let p = lua_tolstring(state, index, &len) else { return nil }
        return String(decoding: UnsafeRawBufferPointer(start: p, count: len), as: UTF8.self)
    }

    /// Pops the error object on top of the stack and returns it as text.
    func popMessage() -> String {
        let message = string(at: -1) ?? "(error object is a \(String(cString: lua_typename(state, lua_type(state, -1)))) value)"
        darwin_pop(state, 1)
        return message
    }
}
