import CLua
import CLuaGlue
import DarwinCore

/// Conventions shared by the tensor bindings: 1-based dimensions and indices in Lua, 0-based in Swift.
extension LuaCall {
    /// Argument `i` as a tensor.
    public func tensor(_ i: Int32) throws -> Tensor { try object(i, as: Tensor.self) }

    /// Argument `i` as a tensor, or nil when absent/nil.
    public func optionalTensor(_ i: Int32) throws -> Tensor? { isNil(i) ? nil : try tensor(i) }

    /// Argument `i` as a 0-based dimension: Lua's `1..rank` or negative from the end (`-1` = last).
    public func dim(_ i: Int32) throws -> Int {
        let d = try integer(i)
        guard d != 0 else { throw LuaError("bad argument #\(i) to '\(name)' (dimension 0 is invalid: dimensions are 1-based, -1 is the last)") }
        return d > 0 ? d - 1 : d
    }

    /// Argument `i` as a 0-based dimension, or `fallback` (already 0-based) when absent.
    public func dim(_ i: Int32, default fallback: Int) throws -> Int { isNil(i) ? fallback : try dim(i) }

    /// Argument `i` as a 0-based index from a 1-based Lua index.
    public func index(_ i: Int32) throws -> Int { try integer(i) - 1 }

    /// 1-based Lua indices given as a table or a tensor, converted to 0-based.
    public func indexList(_ i: Int32) throws -> [Int] {
        if let t = optionalObject(i, as: Tensor.self) {
            return try t.toArray().map { v in
                guard let index = Double(v).exactInteger else { throw LuaError("bad argument #\(i) to '\(name)' (index \(v) is not an integer)") }
                return index - 1
            }
        }
        guard isTable(i) else { throw argumentError(i, "table or tensor of indices") }
        return try integerList(from: i).map { $0 - 1 }
    }

    /// Pushes a tensor (as a new userdata; `push(object:)` reports its memory to the collector's pacing).
    public func push(_ t: Tensor) { push(object: t) }

    /// Pushes a tensor of 0-based indices converted to Lua's 1-based convention.
    public func push(indices t: Tensor) { push(t.binaryInPlace(.add, scalar: 1)) }

    /// Reads a (nested) Lua table of numbers at `i` into values and a shape; ragged nesting is an error.
    public func nestedNumbers(_ i: Int32) throws -> (values: [Float], shape: [Int]) {
        guard isTable(i) else { throw argumentError(i, "table") }
        var values: [Float] = []
        var shape: [Int] = []
        var leafDepth: Int? = nil
        try readNested(index: i, depth: 0, shape: &shape, leafDepth: &leafDepth, values: &values, path: "")
        return (values, shape)
    }

    private func readNested(index: Int32, depth: Int, shape: inout [Int], leafDepth: inout Int?,
                            values: inout [Float], path: String) throws {
        // A table that contains itself would recurse forever; real data is never this deep (tensor ranks).
        guard depth < 32, lua_checkstack(L, 4) != 0 else {
            throw LuaError("\(name): table nested more than 32 levels deep (or containing itself) at entry \(path.isEmpty ? "(top)" : path)")
        }
        let t = lua_absindex(L, index)
        let n = Int(lua_rawlen(L, t))
        if depth == shape.count { shape.append(n) } else if shape[depth] != n {
            throw LuaError("\(name): ragged table: entry \(path) has \(n) elements, expected \(shape[depth])")
        }
        for k in 0..<n {
            lua_rawgeti(L, t, lua_Integer(k + 1))
            defer { darwin_pop(L, 1) }
            let here = path + "[\(k + 1)]"
            switch lua_type(L, -1) {
            case LUA_TNUMBER:
                if leafDepth == nil { leafDepth = depth }
                guard leafDepth == depth else { throw LuaError("\(name): ragged table: entry \(here) is a number where a table was expected") }
                values.append(Float(lua_tonumberx(L, -1, nil)))
            case LUA_TTABLE:
                guard leafDepth == nil || depth < leafDepth! else {
                    throw LuaError("\(name): ragged table: entry \(here) is a table where a number was expected")
                }
                try readNested(index: -1, depth: depth + 1, shape: &shape, leafDepth: &leafDepth, values: &values, path: here)
            default:
                throw LuaError("\(name): entry \(here) is a \(String(cString: lua_typename(L, lua_type(L, -1)))), expected a number")
            }
        }
    }

    /// Pushes the elements of `t` as nested Lua tables (a number for a 0-d tensor).
    public func pushNested(_ t: Tensor) {
        let c = t.contiguous()
        if c.rank == 0 { push(Double(c.data[0])); return }
        _ = lua_checkstack(L, Int32(c.rank + 4))  // one table per dimension is on the stack at the deepest point
        func build(_ d: Int, _ offset: Int) {
            lua_createtable(L, Int32(c.shape[d]), 0)
            for k in 0..<c.shape[d] {
                if d == c.rank - 1 { lua_pushnumber(L, Double(c.data[offset + k])) } else { build(d + 1, offset + k * c.strides[d]) }
                lua_rawseti(L, -2, lua_Integer(k + 1))
            }
        }
        build(0, 0)
    }
}
