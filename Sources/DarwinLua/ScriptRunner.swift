import CLua
import CLuaGlue
import Foundation

/// Runs scripts the way the `lua` executable does: Ctrl-C interrupts with an error and a traceback; the global `arg`
/// holds the command line with the script at index 0 (what comes before it at negative indices, what follows from
/// 1), and the chunk receives the arguments as `...`. Everything is bytes, as in Lua: scripts, `-e` chunks, standard
/// input, arguments and paths in any encoding reach Lua unchanged.
public enum ScriptRunner {
    /// Sets the global `arg` table from the whole command line (`argv`, program name first) as lua.c does:
    /// `arg[i - scriptIndex] = argv[i]`, with `scriptIndex` 0 when there is no script.
    public static func setArguments(_ host: LuaHost, argv: [[UInt8]], scriptIndex: Int) {
        let L = host.state
        lua_createtable(L, Int32(max(0, argv.count - scriptIndex - 1)), Int32(scriptIndex + 1))
        for (i, a) in argv.enumerated() {
            host.push(bytes: a)
            lua_rawseti(L, -2, lua_Integer(i - scriptIndex))
        }
        host.setGlobal("arg")
    }

    /// String form of `setArguments(_:argv:scriptIndex:)` (interpreter options, then the script and its arguments).
    public static func setArguments(_ host: LuaHost, interpreter: [String], script: String?, arguments: [String]) {
        let argv = (interpreter + (script.map { [$0] } ?? []) + arguments).map { Array($0.utf8) }
        setArguments(host, argv: argv, scriptIndex: script == nil ? 0 : interpreter.count)
    }

    /// Runs the file at `path` with `arguments` as `...`. Errors carry a traceback; an unreadable file is an error naming it.
    public static func runFile(_ host: LuaHost, path: String, arguments: [String]) throws {
        try runFile(host, path: Array(path.utf8), arguments: arguments.map { Array($0.utf8) })
    }

    /// Runs the file whose path has these bytes, like `luaL_loadfile`: a UTF-8 byte-order mark and a first line
    /// starting with `#` (a shebang) are skipped, keeping line numbers.
    public static func runFile(_ host: LuaHost, path: [UInt8], arguments: [[UInt8]]) throws {
        guard let code = readFile(path) else {
            throw LuaError("cannot open \(String(decoding: path, as: UTF8.self)): no such file or not readable")
        }
        try runChunk(host, code: skipPreamble(code), chunkName: Array("@".utf8) + path, arguments: arguments)
    }

    /// Runs standard input as a script (`darwinhost -` or piped input), with the same preamble rules as a file.
    public static func runStandardInput(_ host: LuaHost, arguments: [[UInt8]]) throws {
        let code = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        try runChunk(host, code: skipPreamble(code), chunkName: Array("=stdin".utf8), arguments: arguments)
    }

    /// Runs `code` as a chunk with `arguments` as `...`.
    public static func runChunk(_ host: LuaHost, code: String, chunkName: String, arguments: [String] = []) throws {
        try runChunk(host, code: Array(code.utf8), chunkName: Array(chunkName.utf8), arguments: arguments.map { Array($0.utf8) })
    }

    /// Runs the bytes `code` as a chunk with `arguments` as `...`.
    public static func runChunk(_ host: LuaHost, code: [UInt8], chunkName: [UInt8], arguments: [[UInt8]] = []) throws {
        let L = host.state
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        try host.load(bytes: code, chunkName: chunkName)
        for a in arguments { host.push(bytes: a) }
        darwin_interrupt_guard_begin(L)
        defer { darwin_interrupt_guard_end() }
        try host.call(nargs: Int32(arguments.count), nresults: 0)
    }

    /// Drops a UTF-8 byte-order mark and turns a first line starting with `#` into a comment (line numbers kept).
    static func skipPreamble(_ code: [UInt8]) -> [UInt8] {
        var body = code.starts(with: [0xEF, 0xBB, 0xBF]) ? Array(code.dropFirst(3)) : code
        if body.first == UInt8(ascii: "#") { body = Array("--".utf8) + body }
        return body
    }

    /// The bytes of the file at a raw path, or nil.
    static func readFile(_ path: [UInt8]) -> [UInt8]? {
        guard let file = (path + [0]).withUnsafeBufferPointer({ p in
            p.baseAddress!.withMemoryRebound(to: CChar.self, capacity: p.count) { fopen($0, "rb") }
        }) else { return nil }
        defer { fclose(file) }
        var out: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&buffer, 1, buffer.count, file)
            if n > 0 { out.append(contentsOf: buffer[0..<n]) }
            if n < buffer.count { return ferror(file) == 0 ? out : nil }
        }
    }
}
