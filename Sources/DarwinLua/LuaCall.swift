import Foundation
import CLua
import CLuaGlue
import DarwinCore

/// The arguments and results of one call from Lua into Swift. Every accessor is non-raising:
/// a wrong argument throws a Swift `LuaError` ("bad argument #2 to 'tensor.narrow' (number expected, got nil)").
public struct LuaCall {
    /// The host running the call.
    public let host: LuaHost
    /// The qualified function name, used in error messages.
    public let name: String
    /// Number of arguments passed.
    public let count: Int32

    init(host: LuaHost, name: String) {
        self.host = host
        self.name = name
        self.count = lua_gettop(host.state)
    }

    var L: OpaquePointer { host.state }

    // MARK: reading arguments

    /// Lua type name of argument `i` ("no value" when absent).
    public func typeName(_ i: Int32) -> String {
        if i > count { return "no value" }
        if let className = host.className(at: i) { return className }
        return String(cString: lua_typename(L, lua_type(L, i)))
    }

    /// True when argument `i` is absent or nil.
    public func isNil(_ i: Int32) -> Bool { i > count || darwin_isnoneornil(L, i) != 0 }

    /// True when argument `i` is a number.
    public func isNumber(_ i: Int32) -> Bool { i <= count && lua_type(L, i) == LUA_TNUMBER }

    /// True when argument `i` is a table.
    public func isTable(_ i: Int32) -> Bool { i <= count && lua_type(L, i) == LUA_TTABLE }

    /// A "bad argument" error for argument `i`.
    public func argumentError(_ i: Int32, _ expected: String) -> LuaError {
        LuaError("bad argument #\(i) to '\(name)' (\(expected) expected, got \(typeName(i)))")
    }

    /// Argument `i` as a number.
    public func number(_ i: Int32) throws -> Double {
        var ok: Int32 = 0
        let v = lua_tonumberx(L, i, &ok)
        guard i <= count, lua_type(L, i) == LUA_TNUMBER, ok != 0 else { throw argumentError(i, "number") }
        return v
    }

    /// Argument `i` as a number, or `fallback` when absent or nil.
    public func number(_ i: Int32, default fallback: Double) throws -> Double { isNil(i) ? fallback : try number(i) }

    /// Argument `i` as an integer (a float with an integral value is accepted).
    public func integer(_ i: Int32) throws -> Int {
        let v = try number(i)
        guard let value = v.exactInteger else {
            throw LuaError("bad argument #\(i) to '\(name)' (number has no integer representation: \(v))")
        }
        return value
    }

    /// Argument `i` as an integer within `range` (an error names the accepted range).
    public func integer(_ i: Int32, in range: ClosedRange<Int>) throws -> Int {
        let v = try integer(i)
        guard range.contains(v) else { throw LuaError("bad argument #\(i) to '\(name)' (expected an integer in \(range.lowerBound)...\(range.upperBound), got \(v))") }
        return v
    }

    /// Argument `i` as an integer, or `fallback` when absent or nil.
    public func integer(_ i: Int32, default fallback: Int) throws -> Int { isNil(i) ? fallback : try integer(i) }

    /// Argument `i` as a boolean (nil/absent gives `fallback`).
    public func boolean(_ i: Int32, default fallback: Bool = false) throws -> Bool {
        if isNil(i) { return fallback }
        guard lua_type(L, i) == LUA_TBOOLEAN else { throw argumentError(i, "boolean") }
        return lua_toboolean(L, i) != 0
    }

    /// Argument `i` as a string.
    public func string(_ i: Int32) throws -> String {
        guard i <= count, lua_type(L, i) == LUA_TSTRING, let s = host.string(at: i) else { throw argumentError(i, "string") }
        return s
    }

    /// Argument `i` as a string, or `fallback` when absent or nil.
    public func string(_ i: Int32, default fallback: String) throws -> String { isNil(i) ? fallback : try string(i) }

    /// Argument `i`'s bytes exactly as Lua holds them (binary strings, embedded zeros, any encoding).
    public func bytes(_ i: Int32) throws -> Data {
        guard i <= count, lua_type(L, i) == LUA_TSTRING else { throw argumentError(i, "string") }
        var length = 0
        guard let p = lua_tolstring(L, i, &length) else { throw argumentError(i, "string") }
        return Data(bytes: p, count: length)
    }

    /// Argument `i` as a bound Swift object of type `T`.
    public func object<T: AnyObject>(_ i: Int32, as type: T.Type) throws -> T {
        guard i <= count, let object = host.object(at: i, as: type) else {
            if i <= count && host.isClosedObject(at: i) {
                throw LuaError("bad argument #\(i) to '\(name)' (\(typeName(i)) was closed)")
            }
            throw argumentError(i, host.classNames[ObjectIdentifier(type)] ?? "\(type)")
        }
        return object
    }

    /// Argument `i` as a bound object of type `T`, or nil when absent, nil or of another type.
    public func optionalObject<T: AnyObject>(_ i: Int32, as type: T.Type) -> T? {
        i <= count ? host.object(at: i, as: type) : nil
    }

    /// Argument `i` as a Lua array of numbers (raw access, no metamethods).
    public func numberArray(_ i: Int32) throws -> [Double] {
        guard isTable(i) else { throw argumentError(i, "table of numbers") }
        let n = lua_rawlen(L, i)
        var values: [Double] = []
        values.reserveCapacity(Int(n))
        for k in 0..<Int(n) {
            lua_rawgeti(L, i, lua_Integer(k + 1))
            defer { darwin_pop(L, 1) }
            guard lua_type(L, -1) == LUA_TNUMBER else {
                throw LuaError("bad argument #\(i) to '\(name)' (entry \(k + 1) is a \(String(cString: lua_typename(L, lua_type(L, -1)))), expected a number)")
            }
            values.append(lua_tonumberx(L, -1, nil))
        }
        return values
    }

    /// Argument `i` as a table of exact 64-bit integers (read with `lua_tointegerx`, never through a double).
    public func int64Array(_ i: Int32) throws -> [Int64] {
        guard isTable(i) else { throw argumentError(i, "table of integers") }
        return try (0..<Int(lua_rawlen(L, i))).map { k in
            lua_rawgeti(L, i, lua_Integer(k + 1))
            defer { darwin_pop(L, 1) }
            var ok: Int32 = 0
            let v = lua_tointegerx(L, -1, &ok)
            guard ok != 0, lua_type(L, -1) == LUA_TNUMBER else {
                throw LuaError("bad argument #\(i) to '\(name)' (entry \(k + 1) is not an integer)")
            }
            return Int64(v)
        }
    }

    /// Integers given either as a table at `i` or as the numbers `i, i+1, ...` (for shapes: `zeros(2,3)` or `zeros({2,3})`).
    public func integerList(from i: Int32, allowTrailing: Bool = false) throws -> [Int] {
        if isTable(i) {
            return try numberArray(i).enumerated().map { k, v in
                guard let value = v.exactInteger else {
                    throw LuaError("bad argument #\(i) to '\(name)' (entry \(k + 1) is \(v), expected an integer)")
                }
                return value
            }
        }
        var values: [Int] = []
        var j = i
        while j <= count && isNumber(j) { values.append(try integer(j)); j += 1 }
        if j <= count && !allowTrailing && !isNil(j) { throw argumentError(j, "number") }
        return values
    }

    // MARK: pushing results

    /// Pushes a number.
    public func push(_ v: Double) { lua_pushnumber(L, v) }
    /// Pushes an integer.
    public func push(_ v: Int) { lua_pushinteger(L, lua_Integer(v)) }
    /// Pushes a boolean.
    public func push(_ v: Bool) { lua_pushboolean(L, v ? 1 : 0) }
    /// Pushes a string.
    public func push(_ v: String) { lua_pushstring(L, v) }
    /// Pushes nil.
    public func pushNil() { lua_pushnil(L) }
    /// Pushes a bound Swift object (its class must have been defined).
    public func push(object: AnyObject) { host.push(object: object) }

    /// Pushes a Lua array of numbers.
    public func push<S: Sequence>(numbers: S) where S.Element: BinaryFloatingPoint {
        lua_createtable(L, 0, 0)
        for (k, v) in numbers.enumerated() { lua_pushnumber(L, Double(v)); lua_rawseti(L, -2, lua_Integer(k + 1)) }
    }

    /// Pushes a Lua array of integers.
    public func push(integers: [Int]) {
        lua_createtable(L, Int32(integers.count), 0)
        for (k, v) in integers.enumerated() { lua_pushinteger(L, lua_Integer(v)); lua_rawseti(L, -2, lua_Integer(k + 1)) }
    }

    /// Pushes a Lua array of strings.
    public func push(strings: [String]) {
        lua_createtable(L, Int32(strings.count), 0)
        for (k, v) in strings.enumerated() { lua_pushstring(L, v); lua_rawseti(L, -2, lua_Integer(k + 1)) }
    }

    /// Pushes a table of named fields, each value pushed by its closure.
    public func push(fields: [(String, () -> Void)]) {
        lua_createtable(L, 0, Int32(fields.count))
        for (key, pushValue) in fields { lua_pushstring(L, key); pushValue(); lua_rawset(L, -3) }
    }
}
