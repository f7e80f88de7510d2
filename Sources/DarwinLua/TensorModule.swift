import CLua
import CLuaGlue
import DarwinCore

/// Installs the `darwin.Tensor` class and the `tensor` module (also `darwin.tensor`).
enum TensorModule {
    static func install(into host: LuaHost) throws {
        let methods = TensorMethods.access + TensorMethods.views + TensorMethods.elementwise + TensorMethods.math
        try host.defineClass(Tensor.self, name: "darwin.Tensor", methods: methods, metamethods: metamethods,
                             indexFallback: numericIndex, namespace: "tensor")
        // The module: constructors plus every method as a function (`tensor.exp(t)` == `t:exp()`).
        host.pushModule("tensor", constructors + methods)
        // `tensor{...}` is `tensor.from{...}`.
        try host.load("local m = ...\nreturn setmetatable(m, { __call = function(_, ...) return m.from(...) end })", chunkName: "=(tensor)")
        lua_rotate(host.state, -2, 1)
        try host.call(nargs: 1, nresults: 1)
        host.setGlobal("tensor")
    }

    /// Constructors and free functions of the module.
    static let constructors: [(String, LuaFunction)] = [
        ("from", { c in
            if let t = c.optionalObject(1, as: Tensor.self) { c.push(t.clone()); return 1 }
            let (values, shape) = try c.nestedNumbers(1)
            c.push(try Tensor(values, shape: shape)); return 1
        }),
        ("zeros", { c in c.push(try Tensor.zeros(try c.integerList(from: 1))); return 1 }),
        ("ones", { c in c.push(try Tensor.ones(try c.integerList(from: 1))); return 1 }),
        ("full", { c in
            guard c.isTable(1) else { throw c.argumentError(1, "shape table") }
            c.push(try Tensor.full(try c.integerList(from: 1), Float(try c.number(2)))); return 1
        }),
        ("arange", { c in
            let a = try c.number(1)
            if c.isNil(2) { c.push(try Tensor.arange(0, a)) } else { c.push(try Tensor.arange(a, try c.number(2), try c.number(3, default: 1))) }
            return 1
        }),
        ("rand", random { shape, g in try Tensor.rand(shape, generator: g) }),
        ("randn", random { shape, g in try Tensor.randn(shape, generator: g) }),
        ("manual_seed", { c in c.host.generator.reseed(UInt64(bitPattern: Int64(try c.integer(1)))); return 0 }),
        ("cat", joiner { tensors, d in try Tensor.cat(tensors, dim: d) }),
        ("stack", joiner { tensors, d in try Tensor.stack(tensors, dim: d) }),
        ("is_tensor", { c in c.push(c.optionalObject(1, as: Tensor.self) != nil); return 1 }),
    ]

    /// `rand(2,3)`, `rand({2,3})`, `rand({2,3}, generator)`.
    static func random(_ make: @escaping ([Int], RandomGenerator) throws -> Tensor) -> LuaFunction {
        { c in
            let shape = try c.integerList(from: 1, allowTrailing: true)
            let gIndex: Int32 = c.isTable(1) ? 2 : Int32(shape.count) + 1
            let g = c.isNil(gIndex) ? c.host.generator : try c.object(gIndex, as: RandomGenerator.self)
            c.push(try make(shape, g)); return 1
        }
    }

    /// `cat({a, b, ...}, dim)` with dim defaulting to 1.
    static func joiner(_ join: @escaping ([Tensor], Int) throws -> Tensor) -> LuaFunction {
        { c in
            guard c.isTable(1) else { throw c.argumentError(1, "table of tensors") }
            let L = c.host.state
            var tensors: [Tensor] = []
            for k in 1...Swift.max(1, Int(lua_rawlen(L, 1))) where lua_rawlen(L, 1) > 0 {
                lua_rawgeti(L, 1, lua_Integer(k))
                defer { darwin_pop(L, 1) }
                guard let t = c.host.object(at: -1, as: Tensor.self) else {
                    throw LuaError("bad argument #1 to '\(c.name)' (entry \(k) is not a tensor)")
                }
                tensors.append(t)
            }
            c.push(try join(tensors, try c.dim(2, default: 0))); return 1
        }
    }

    /// Arithmetic operators (`a + b`, `2 * t`, `-t`; `*` is elementwise, use `matmul` for products), `#t`, printing.
    static let metamethods: [(String, LuaFunction)] = [
        ("__add", operatorFunction(.add)), ("__sub", operatorFunction(.sub)),
        ("__mul", operatorFunction(.mul)), ("__div", operatorFunction(.div)),
        ("__unm", { c in c.push(try c.tensor(1).unary(.neg)); return 1 }),
        ("__len", { c in let t = try c.tensor(1); c.push(t.rank == 0 ? 0 : t.shape[0]); return 1 }),
        ("__tostring", { c in c.push(try c.tensor(1).description); return 1 }),
        ("__newindex", { c in
            let t = try c.tensor(1)
            guard c.isNumber(2) else { throw LuaError("cannot assign field '\(c.host.string(at: 2) ?? c.typeName(2))' of a tensor") }
            let target = try t.select(0, try c.index(2))
            if c.isNumber(3) { target.fill(Float(try c.number(3))) } else { _ = try target.copy(from: try c.tensor(3)) }
            return 0
        }),
    ]

    static func operatorFunction(_ op: BinaryOp) -> LuaFunction {
        { c in
            if c.isNumber(1) { c.push(try c.tensor(2).binary(scalar: Float(try c.number(1)), op)); return 1 }
            return try TensorMethods.binary(op, inPlace: false)(c)
        }
    }

    /// `t[i]`: the i-th slice along the first dimension (a number for 1-d tensors); nil for unknown names.
    static let numericIndex: LuaFunction = { c in
        let t = try c.tensor(1)
        guard c.isNumber(2) else { c.pushNil(); return 1 }
        let slice = try t.select(0, try c.index(2))
        if slice.rank == 0 { c.push(Double(slice.data[0])) } else { c.push(slice) }
        return 1
    }
}
