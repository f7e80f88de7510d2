import CLua
import CLuaGlue

/// The REPL's logic, independent of the terminal: feeds lines, detects incomplete chunks (as `lua.c` does),
/// evaluates expressions and statements, and renders results or errors.
public final class ReplSession {
    /// What one submitted line produced.
    public enum Outcome: Equatable {
        /// The chunk is incomplete; show the continuation prompt and submit the next line.
        case needsMore
        /// The chunk ran; these are its rendered results (empty for statements).
        case values([String])
        /// Compilation or runtime error, with traceback for runtime errors.
        case error(String)
    }

    /// The host the session evaluates in.
    public let host: LuaHost
    private var buffer: [String] = []

    /// A session on `host`.
    public init(host: LuaHost) { self.host = host }

    /// True while a multi-line chunk is being collected.
    public var isContinuing: Bool { !buffer.isEmpty }

    /// Submits one line of input.
    public func submit(_ line: String) -> Outcome {
        if buffer.isEmpty && line.hasPrefix("=") { return evaluate(expression: String(line.dropFirst())) ?? .error("syntax error in '=' expression") }
        buffer.append(line)
        let chunk = buffer.joined(separator: "\n")
        // A single bare expression prints its value: try it as `return <chunk>` first.
        if buffer.count == 1, let outcome = evaluate(expression: chunk) { buffer.removeAll(); return outcome }
        let L = host.state
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        do {
            try host.load(chunk, chunkName: "=stdin")
        } catch let error as LuaError {
            if error.message.hasSuffix("<eof>") { return .needsMore }
            buffer.removeAll()
            return .error(error.message)
        } catch { buffer.removeAll(); return .error("\(error)") }
        buffer.removeAll()
        return execute(loadedAt: top)
    }

    /// Abandons a partially entered chunk (Ctrl-C at the continuation prompt).
    public func reset() { buffer.removeAll() }

    /// Compiles `return <expression>`; nil when that does not compile (the caller falls back to statements).
    private func evaluate(expression: String) -> Outcome? {
        let L = host.state
        let top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard (try? host.load("return " + expression, chunkName: "=stdin")) != nil else { return nil }
        return execute(loadedAt: top)
    }

    /// Runs the function loaded just above stack slot `top` and renders its results.
    private func execute(loadedAt top: Int32) -> Outcome {
        darwin_interrupt_guard_begin(host.state)
        defer { darwin_interrupt_guard_end() }
        do {
            let n = try host.call(nargs: 0)
            return .values(try (0..<n).map { try render(at: top + 1 + $0) })
        } catch {
            return .error("\(error)")
        }
    }

    /// Lua that lists the completions of a word: the keys of the table (or, after `:`, the methods of the object)
    /// the word's path names, that start with its last part. Reads fields raw, `__index` tables and the `__methods` of
    /// darwinhost's classes only: completing never runs user code.
    private static let completer = """
        local word = ...
        local path, sep, partial = word:match("^(.-)([%.:]?)([%w_]*)$")
        local value = _G
        if path ~= "" then
          if sep == "" then return {} end
          for name in path:gmatch("[^%.]+") do
            if type(value) ~= "table" then return {} end
            value = rawget(value, name)
          end
        end
        local found, seen = {}, {}
        local function add(t)
          if type(t) ~= "table" then return end
          for k in next, t do
            if type(k) == "string" and k:match("^[%a_][%w_]*$") and k:sub(1, #partial) == partial and not seen[k] then
              seen[k] = true
              found[#found + 1] = path .. sep .. k
            end
          end
        end
        if sep ~= ":" then add(value) end
        local mt = getmetatable(value)
        if type(mt) == "table" then add(rawget(mt, "__index")); add(rawget(mt, "__methods")) end
        table.sort(found)
        return found
        """

    /// The completions of `word` (the text before the cursor back to a space or bracket: `darwin.tensor.ze`,
    /// `model:per`), from the values the session holds now. Never raises: a word that names nothing has none.
    public func completions(for word: String) -> [String] {
        let L = host.state, top = lua_gettop(L)
        defer { lua_settop(L, top) }
        guard (try? host.load(Self.completer, chunkName: "=(completion)")) != nil else { return [] }
        host.push(string: word)
        guard (try? host.call(nargs: 1, nresults: 1)) != nil, lua_type(L, -1) == LUA_TTABLE else { return [] }
        return (1...max(1, Int(lua_rawlen(L, -1)))).prefix(Int(lua_rawlen(L, -1))).compactMap { i in
            lua_rawgeti(L, -1, lua_Integer(i))
            defer { darwin_pop(L, 1) }
            return host.string(at: -1)
        }
    }

    /// Renders one value with the stdlib's `pretty.format` when available, else `tostring`.
    private func render(at index: Int32) throws -> String {
        let L = host.state
        if lua_type(L, index) == LUA_TTABLE,
           (try? host.load("local ok, pretty = pcall(require, 'pretty')\nif ok then return pretty.format(...) end\nreturn tostring(...)", chunkName: "=(repl)")) != nil {
            lua_pushvalue(L, index)
            if (try? host.call(nargs: 1, nresults: 1)) != nil, let text = host.string(at: -1) {
                darwin_pop(L, 1)
                return text
            }
        }
        return try host.describe(at: index)
    }
}
