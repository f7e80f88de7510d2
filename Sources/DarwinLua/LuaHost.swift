import CLua
import CLuaGlue
import DarwinCore

/// The body of a Swift function callable from Lua: reads its arguments from `call`, pushes its results and
/// returns how many it pushed. Throwing turns into a Lua error; it never raises a Lua error itself.
public typealias LuaFunction = (LuaCall) throws -> Int32

/// An error raised by a bound function; the message is shown to the Lua user as is (after the function name).
public struct LuaError: Error, CustomStringConvertible {
    /// The message.
    public let message: String
    /// Creates an error with `message`.
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Owns one Lua state and the Swift functions bound into it.
///
/// Every Swift function reaches Lua through the C trampoline in `CLuaGlue`: the Swift body runs to completion
/// (its `defer`s and ARC releases included) and the trampoline raises the Lua error afterwards.
public final class LuaHost {
    /// The main thread of the Lua state (owned: closed with the host).
    public let mainState: OpaquePointer
    /// The thread bindings work on: during a call from Lua the calling thread (the main one or a coroutine, whose
    /// stack holds the arguments), else the main thread. Only non-raising API may be called on it from Swift.
    public private(set) var state: OpaquePointer
    private var functions: [(name: String, body: LuaFunction)] = []
    /// This state's default random generator (`tensor.manual_seed` reseeds it); each host has its own,
    /// so scripts are reproducible whatever else runs in the process.
    public let generator = RandomGenerator(seed: 42)
    /// Tensor bytes handed to Lua since the last full collection (Lua itself sees only small userdata).
    var tensorBytesSinceCollection = 0
    /// Tensor bytes referenced by this state's live tensor userdata (a view counts its whole storage).
    /// Host-local, unlike `LiveTensorCounter`, so pacing is not thrown off by other hosts in the process.
    public internal(set) var tensorBytesHeldByLua = 0
    /// Collect once this many tensor bytes were handed out since the last collection.
    var collectionThreshold = LuaHost.minimumCollectionThreshold
    /// The smallest allocation volume between forced collections.
    static let minimumCollectionThreshold = 64 << 20
    /// Metatable names registered with `defineClass`, keyed by Swift type.
    var classNames: [ObjectIdentifier: String] = [:]

    /// Creates a state with the standard libraries; `LuaHost.standard()` also installs darwinhost's modules.
    public init() {
        darwin_set_dispatcher(luaDispatch)
        guard let L = darwin_newstate() else { fatalError("darwinhost: could not create a Lua state") }
        mainState = L
        state = L
        darwin_extraspace(L).pointee = Unmanaged.passUnretained(self).toOpaque()
    }

    deinit { darwin_close(mainState) }

    /// The host that owns `L` (any of its threads: a coroutine's extra space is a copy of the main thread's).
    static func from(_ L: OpaquePointer) -> LuaHost {
        Unmanaged<LuaHost>.fromOpaque(darwin_extraspace(L).pointee!).takeUnretainedValue()
    }

    /// Pushes a Lua function that runs `body`; `name` (e.g. `tensor.matmul`) prefixes its error messages.
    public func pushFunction(_ name: String, _ body: @escaping LuaFunction) {
        functions.append((name, body))
        darwin_push_swift_function(state, lua_Integer(functions.count - 1))
    }

    /// Runs function `id` for the trampoline, called on thread `L`: returns the result count, or -1 with a
    /// message pushed.
    fileprivate func dispatch(_ id: Int, on L: OpaquePointer) -> Int32 {
        let outer = state
        state = L
        defer { state = outer }
        let entry = functions[id]
        do {
            let results = try entry.body(LuaCall(host: self, name: entry.name))
            collectIfTensorMemoryGrew()
            return results
        } catch {
            lua_pushstring(state, LuaHost.qualify(String(describing: error), with: entry.name))
            return -1
        }
    }

    /// Records memory handed to Lua with a bound object, so the collector runs as that memory grows.
    func noteMemoryHandedToLua(bytes: Int) {
        tensorBytesSinceCollection += bytes
        tensorBytesHeldByLua += bytes
    }

    /// Records that a bound object of `bytes` was collected or closed.
    func noteMemoryReleased(bytes: Int) { tensorBytesHeldByLua -= bytes }

    /// Runs a full collection when the tensor bytes handed to Lua since the last one exceed the threshold
    /// (at least 64 MiB, and at least what Lua still held after the last collection: memory at most about doubles).
    /// Safe from Swift: finalizer errors become warnings in Lua 5.4 and allocation failure aborts.
    private func collectIfTensorMemoryGrew() {
        guard tensorBytesSinceCollection > collectionThreshold else { return }
        darwin_gc_collect(state)
        tensorBytesSinceCollection = 0
        collectionThreshold = max(LuaHost.minimumCollectionThreshold, tensorBytesHeldByLua)
    }

    /// Prefixes `message` with the function name, without repeating a short name the message already starts with
    /// (`matmul: shapes ...` from `tensor.matmul` becomes `tensor.matmul: shapes ...`).
    static func qualify(_ message: String, with name: String) -> String {
        if message.hasPrefix("bad argument") { return message }
        let short = name.split(separator: ".").last.map(String.init) ?? name
        if message.hasPrefix(short + ":") || message.hasPrefix(short + "_:") { return String(name.dropLast(short.count)) + message }
        return name + ": " + message
    }

    /// Sets `table[key] = value-on-top` (pops the value) without invoking metamethods.
    func rawSetField(tableIndex: Int32, _ key: String) {
        let t = lua_absindex(state, tableIndex)
        lua_pushstring(state, key)
        lua_rotate(state, -2, 1)
        lua_rawset(state, t)
    }

    /// Sets a global without invoking metamethods of the globals table (pops the value).
    public func setGlobal(_ name: String) {
        darwin_pushglobaltable(state)
        lua_rotate(state, -2, 1)
        rawSetField(tableIndex: -2, name)
        darwin_pop(state, 1)
    }

    /// Pushes the global `name` (raw access), or nil.
    public func pushGlobal(_ name: String) {
        darwin_pushglobaltable(state)
        lua_pushstring(state, name)
        lua_rawget(state, -2)
        lua_rotate(state, -2, 1)
        darwin_pop(state, 1)
    }

    /// Creates a table of Swift functions, leaves it on the stack.
    public func pushModule(_ name: String, _ functions: [(String, LuaFunction)]) {
        lua_createtable(state, 0, Int32(functions.count))
        for (field, body) in functions {
            pushFunction("\(name).\(field)", body)
            rawSetField(tableIndex: -2, field)
        }
    }
}

/// The process-wide dispatcher installed into the C glue: finds the host of `L` and runs function `id`.
private let luaDispatch: darwin_dispatch_fn = { L, id in
    guard let L else { return -1 }
    return LuaHost.from(L).dispatch(Int(id), on: L)
}
