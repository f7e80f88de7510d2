import CLua
import CLuaGlue
import DarwinCore

/// The userdata behind every bound object: the retained object (nil once closed or collected) and the bytes it
/// was reported to hold when pushed (subtracted again when it is released).
struct BoundObjectSlot {
    var object: UnsafeMutableRawPointer?
    var bytes: Int
}

/// The memory a bound object holds, as the collector's pacing counts it: tensors their storage, models their
/// parameters, trainers their model and optimizer state, targets their distributions.
func heldBytes(_ object: AnyObject) -> Int {
    switch object {
    case let t as Tensor: return t.storage.count * MemoryLayout<Float>.stride
    case let m as LanguageModel: return m.parameterBytes
    case let t as Trainer: return t.model.parameterBytes + t.stateBytes
    case let d as TargetDistribution: return d.byteCount
    default: return 0
    }
}

/// Swift objects as Lua userdata: one retained pointer per userdata, released by `__gc`, `obj:close()` or when a
/// `<close>` variable goes out of scope.
extension LuaHost {
    /// Registers a Lua class for Swift type `T` under the metatable `name` (e.g. `darwin.Tensor`).
    ///
    /// - methods: reachable as `obj:method(...)` (through `__index`), also stored in the metatable's `__methods`.
    /// - metamethods: `__tostring`, `__len`, `__add`, ... (`__gc` and `__name` are provided).
    /// - indexFallback: called as `fallback(obj, key)` for keys that are not methods (e.g. numeric indexing).
    /// - namespace: how methods are named in error messages (`tensor` gives `tensor.matmul: ...`); defaults to `name`.
    public func defineClass<T: AnyObject>(_ type: T.Type, name: String, methods: [(String, LuaFunction)],
                                          metamethods: [(String, LuaFunction)] = [], indexFallback: LuaFunction? = nil,
                                          namespace: String? = nil) throws {
        classNames[ObjectIdentifier(type)] = name
        let L = state
        var methods = methods
        // close, __close and __gc check their self like every method does (a FILE* or another class's object as self
        // is an argument error, never a read of foreign memory).
        let release: LuaFunction = { call in try call.host.releaseObject(call, ofClass: name); return 0 }
        if !methods.contains(where: { $0.0 == "close" }) { methods.append(("close", release)) }
        luaL_newmetatable(L, name)
        pushModule(namespace ?? name, methods)
        lua_pushvalue(L, -1)
        rawSetField(tableIndex: -3, "__methods")
        if let indexFallback {
            // __index = function(self, key) return methods[key] or fallback(self, key) end, built in Lua.
            try load("local methods, fallback = ...\nreturn function(self, key)\n local m = methods[key]\n if m ~= nil then return m end\n return fallback(self, key)\nend",
                     chunkName: "=(darwinhost index)")
            lua_rotate(L, -2, 1)
            pushFunction("\(namespace ?? name).__index", indexFallback)
            try call(nargs: 2, nresults: 1)
        }
        rawSetField(tableIndex: -2, "__index")
        // __close (like `close` above): release the Swift object now, without waiting for the collector.
        pushFunction("\(namespace ?? name).close", release)
        rawSetField(tableIndex: -2, "__close")
        for (field, body) in metamethods {
            // Operators are named after the operation in messages: `__add` reports as `tensor.add`.
            pushFunction("\(namespace ?? name).\(field.hasPrefix("__") ? String(field.dropFirst(2)) : field)", body)
            rawSetField(tableIndex: -2, field)
        }
        pushFunction("\(name).__gc", release)
        rawSetField(tableIndex: -2, "__gc")
        darwin_pop(L, 1)
    }

    /// Pushes `object` as userdata of its registered class (retaining it until Lua collects the userdata).
    public func push(object: AnyObject) {
        guard let name = classNames[ObjectIdentifier(type(of: object))] else {
            fatalError("darwinhost: no Lua class registered for \(type(of: object))")
        }
        let bytes = heldBytes(object)
        let slot = darwin_newuserdata(state, MemoryLayout<BoundObjectSlot>.size)!.assumingMemoryBound(to: BoundObjectSlot.self)
        slot.initialize(to: BoundObjectSlot(object: Unmanaged.passRetained(object).toOpaque(), bytes: bytes))
        luaL_setmetatable(state, name)
        noteMemoryHandedToLua(bytes: bytes)
    }

    /// Releases the object of argument 1 of `call`, a userdata of class `name` (once; later calls and `__gc` do
    /// nothing). Anything else as self is an argument error.
    func releaseObject(_ call: LuaCall, ofClass name: String) throws {
        guard call.count >= 1, let slot = boundSlot(at: 1, ofClass: name) else { throw call.argumentError(1, name) }
        guard let object = slot.pointee.object else { return }
        slot.pointee.object = nil
        noteMemoryReleased(bytes: slot.pointee.bytes)
        Unmanaged<AnyObject>.fromOpaque(object).release()
    }

    /// True when the value at `index` is a bound userdata whose object was closed.
    func isClosedObject(at index: Int32) -> Bool {
        guard let name = className(at: index), classNames.values.contains(name), let slot = boundSlot(at: index, ofClass: name) else {
            return false
        }
        return slot.pointee.object == nil
    }

    /// The slot of the userdata at `index` when its metatable is the one registered for class `name` (the check
    /// `luaL_testudata` makes) and its size is a slot's, else nil: the only way Swift reads a userdata's memory.
    func boundSlot(at index: Int32, ofClass name: String) -> UnsafeMutablePointer<BoundObjectSlot>? {
        guard let raw = luaL_testudata(state, index, name), lua_rawlen(state, index) == MemoryLayout<BoundObjectSlot>.size else { return nil }
        return raw.assumingMemoryBound(to: BoundObjectSlot.self)
    }

    /// The Swift object of type `T` at stack slot `index`, or nil (never raises).
    public func object<T: AnyObject>(at index: Int32, as type: T.Type) -> T? {
        guard let name = classNames[ObjectIdentifier(type)], let object = boundSlot(at: index, ofClass: name)?.pointee.object else {
            return nil
        }
        return Unmanaged<AnyObject>.fromOpaque(object).takeUnretainedValue() as? T
    }

    /// The `__name` of the userdata at `index`'s metatable (a class of ours, or another library's such as `FILE*`).
    func className(at index: Int32) -> String? {
        guard lua_type(state, index) == LUA_TUSERDATA, lua_getmetatable(state, index) != 0 else { return nil }
        lua_pushstring(state, "__name")
        lua_rawget(state, -2)
        let name = string(at: -1)
        darwin_pop(state, 2)
        return name
    }

    /// Pushes the methods table of class `name` (nil if unknown).
    public func pushMethods(ofClass name: String) {
        darwin_getmetatable_named(state, name)
        guard lua_type(state, -1) == LUA_TTABLE else { return }  // leaves nil
        lua_pushstring(state, "__methods")
        lua_rawget(state, -2)
        lua_rotate(state, -2, 1)
        darwin_pop(state, 1)
    }
}
