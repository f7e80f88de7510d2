import CLua
import CLuaGlue
import Foundation

/// Runs scripts the way the `lua` executable does (Ctrl-C interrupts with an error and a traceback): the global `arg` holds the script name at 0 and its
/// arguments from 1 (interpreter options at negative indices), and the chunk receives the arguments as `...`.
public enum ScriptRunner {
    /// Sets the global `arg` table.
    public static func setArguments(_ host: LuaHost, interpreter: [String], script: String?, arguments: [String]) {
        let L = host.state
        lua_createtable(L, Int32(arguments.count), Int32(interpreter.count + 1))
        for (i, a) in interpreter.enumerated() {
            host.push(string: a)
            lua_rawseti(L, -2, lua_Integer(i - interpreter.count))
        }
        if let script { host.push(string: script); lua_rawseti(L, -2, 0) }
        for (i, a) in arguments.enumerated() { host.push(string: a); lua_rawseti(L, -2, lua_Integer(i + 1)) }
        host.setGlobal("arg")
    }

    /// Runs the file at `path` with `arguments` as `...`. Errors carry a traceback; an unreadable file is an error naming it.
    public static func runFile(_ host: LuaHost, path: String, arguments: [String]) throws {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw LuaError("cannot open \(path): no such file or not readable")
        }
        var code = String(decoding: data, as: UTF8.self)
        if code.hasPrefix("#") { code = "--" + code }  // shebang line, keeping line numbers
        try runChunk(host, code: code, chunkName: "@" + path, arguments: arguments)
    }

    /// Runs `code` as a chunk with `arguments` as `...`.
    public static func runChunk(_ host: LuaHost, code: String, chunkName: String, arguments: [String] = []) throws {
        let L = host.state
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        try host.load(code, chunkName: chunkName)
        for a in arguments { host.push(string: a) }
        darwin_interrupt_guard_begin(L)
        defer { darwin_interrupt_guard_end() }
        try host.call(nargs: Int32(arguments.count), nresults: 0)
    }
}
