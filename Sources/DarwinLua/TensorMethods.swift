import DarwinCore

/// Methods of `darwin.Tensor` (also callable as `tensor.name(t, ...)`). Dimensions and indices are 1-based.
enum TensorMethods {
    /// Shape queries, element access and conversion.
    static let access: [(String, LuaFunction)] = [
        ("size", { c in
            let t = try c.tensor(1)
            if c.isNil(2) { c.push(integers: t.shape); return 1 }
            c.push(t.shape[try Shape.normalize(dim: try c.dim(2), rank: t.rank, op: "size")]); return 1
        }),
        ("dim", { c in c.push(try c.tensor(1).rank); return 1 }),
        ("numel", { c in c.push(try c.tensor(1).count); return 1 }),
        ("is_contiguous", { c in c.push(try c.tensor(1).isContiguous); return 1 }),
        ("get", { c in
            let t = try c.tensor(1)
            c.push(Double(try t.value(at: try c.integerList(from: 2).map { $0 - 1 }))); return 1
        }),
        ("set", { c in
            // t:set(i1, ..., iN, value) or t:set({i1, ..., iN}, value): the indices are integers, the value any number.
            let t = try c.tensor(1)
            let indices: [Int], valueAt: Int32
            if c.isTable(2) { indices = try c.integerList(from: 2); valueAt = 3 } else {
                indices = try (0..<Int32(t.rank)).map { try c.integer($0 + 2) }
                valueAt = Int32(t.rank) + 2
            }
            guard c.count == valueAt else {
                throw LuaError("set: expected \(t.rank) indices and a value, got \(c.count - 1) arguments")
            }
            try t.setValue(Float(try c.number(valueAt)), at: indices.map { $0 - 1 })
            return 0
        }),
        ("item", { c in c.push(Double(try c.tensor(1).item())); return 1 }),
        ("totable", { c in c.pushNested(try c.tensor(1)); return 1 }),
        ("clone", { c in c.push(try c.tensor(1).clone()); return 1 }),
        ("contiguous", { c in c.push(try c.tensor(1).contiguous()); return 1 }),
        ("fill_", { c in c.push(try c.tensor(1).fill(Float(try c.number(2)))); return 1 }),
        ("zero_", { c in c.push(try c.tensor(1).fill(0)); return 1 }),
        ("copy_", { c in c.push(try c.tensor(1).copy(from: try c.tensor(2))); return 1 }),
    ]

    /// Views and gathers.
    static let views: [(String, LuaFunction)] = [
        ("reshape", { c in c.push(try c.tensor(1).reshape(try c.integerList(from: 2))); return 1 }),
        ("view", { c in
            let t = try c.tensor(1)
            guard t.isContiguous else { throw LuaError("view: tensor is not contiguous; use reshape (copies) or contiguous() first") }
            c.push(try t.reshape(try c.integerList(from: 2))); return 1
        }),
        ("transpose", { c in c.push(try c.tensor(1).transpose(try c.dim(2), try c.dim(3))); return 1 }),
        ("t", { c in c.push(try c.tensor(1).t()); return 1 }),
        ("permute", { c in c.push(try c.tensor(1).permute(try c.integerList(from: 2).map { $0 > 0 ? $0 - 1 : $0 })); return 1 }),
        ("narrow", { c in c.push(try c.tensor(1).narrow(try c.dim(2), try c.index(3), try c.integer(4))); return 1 }),
        ("select", { c in c.push(try c.tensor(1).select(try c.dim(2), try c.index(3))); return 1 }),
        ("index_select", { c in c.push(try c.tensor(1).indexSelect(try c.dim(2), try c.indexList(3))); return 1 }),
        ("unsqueeze", { c in c.push(try c.tensor(1).unsqueeze(try c.dim(2))); return 1 }),
        ("squeeze", { c in c.push(try c.tensor(1).squeeze(c.isNil(2) ? nil : try c.dim(2))); return 1 }),
        ("expand", { c in c.push(try c.tensor(1).expand(try c.integerList(from: 2))); return 1 }),
    ]

    /// Elementwise arithmetic (`add`, `add_`, ...) and unary functions (`exp`, `exp_`, ...).
    static let elementwise: [(String, LuaFunction)] =
        BinaryOp.allCases.flatMap { op in [(op.rawValue, binary(op, inPlace: false)), (op.rawValue + "_", binary(op, inPlace: true))] }
        + UnaryOp.allCases.flatMap { op in [
            (op.rawValue, { c in c.push(try c.tensor(1).unary(op)); return 1 } as LuaFunction),
            (op.rawValue + "_", { c in c.push(try c.tensor(1).unaryInPlace(op)); return 1 } as LuaFunction),
        ] }

    /// `t:op(other)` where other is a tensor or a number.
    static func binary(_ op: BinaryOp, inPlace: Bool) -> LuaFunction {
        { c in
            let t = try c.tensor(1)
            if c.isNumber(2) {
                let s = Float(try c.number(2))
                c.push(inPlace ? t.binaryInPlace(op, scalar: s) : t.binary(op, scalar: s))
            } else {
                guard let other = c.optionalObject(2, as: Tensor.self) else { throw c.argumentError(2, "tensor or number") }
                c.push(inPlace ? try t.binaryInPlace(op, other) : try t.binary(op, other))
            }
            return 1
        }
    }

    /// Reductions, normalisation, products, ordering.
    static let math: [(String, LuaFunction)] = [
        ("sum", sumLike(.sum)),
        ("mean", sumLike(.mean)),
        ("max", extremum(.max, .argmax)),
        ("min", extremum(.min, .argmin)),
        ("argmax", argExtremum(.argmax)),
        ("argmin", argExtremum(.argmin)),
        ("norm", { c in
            let t = try c.tensor(1), p = try c.number(2, default: 2)
            if c.isNil(3) { c.push(t.norm(p)) } else { c.push(try t.norm(p, dim: try c.dim(3), keepdim: try c.boolean(4))) }
            return 1
        }),
        ("softmax", { c in c.push(try c.tensor(1).softmax(dim: try c.dim(2, default: -1))); return 1 }),
        ("log_softmax", { c in c.push(try c.tensor(1).logSoftmax(dim: try c.dim(2, default: -1))); return 1 }),
        ("matmul", { c in c.push(try c.tensor(1).matmul(try c.tensor(2))); return 1 }),
        ("bmm", { c in c.push(try c.tensor(1).bmm(try c.tensor(2))); return 1 }),
        ("topk", { c in
            let r = try c.tensor(1).topk(try c.integer(2), dim: try c.dim(3, default: -1), largest: try c.boolean(4, default: true))
            c.push(r.values); c.push(indices: r.indices); return 2
        }),
        ("sort", { c in
            let r = try c.tensor(1).sort(dim: try c.dim(2, default: -1), descending: try c.boolean(3))
            c.push(r.values); c.push(indices: r.indices); return 2
        }),
        ("argsort", { c in
            c.push(indices: try c.tensor(1).sort(dim: try c.dim(2, default: -1), descending: try c.boolean(3)).indices); return 1
        }),
    ]

    /// `sum`/`mean`: a number over all elements, or a tensor along a dimension.
    static func sumLike(_ op: ReduceOp) -> LuaFunction {
        { c in
            let t = try c.tensor(1)
            if c.isNil(2) { c.push(op == .sum ? t.sumAll() : t.meanAll()) } else {
                c.push(try t.reduce(op, dim: try c.dim(2), keepdim: try c.boolean(3)))
            }
            return 1
        }
    }

    /// `max`/`min`: a number over all elements, or values and 1-based indices along a dimension.
    static func extremum(_ op: ReduceOp, _ argOp: ReduceOp) -> LuaFunction {
        { c in
            let t = try c.tensor(1)
            if c.isNil(2) { c.push(Double(op == .max ? try t.maxAll() : try t.minAll())); return 1 }
            let d = try c.dim(2), keep = try c.boolean(3)
            c.push(try t.reduce(op, dim: d, keepdim: keep))
            c.push(indices: try t.reduce(argOp, dim: d, keepdim: keep))
            return 2
        }
    }

    /// `argmax`/`argmin`: the 1-based flat index over all elements, or 1-based indices along a dimension.
    static func argExtremum(_ op: ReduceOp) -> LuaFunction {
        { c in
            let t = try c.tensor(1)
            if c.isNil(2) {
                guard t.count > 0 else { throw LuaError("\(op.rawValue): tensor is empty") }
                c.push(Int(try t.reshape([-1]).reduce(op, dim: 0).item()) + 1); return 1
            }
            c.push(indices: try t.reduce(op, dim: try c.dim(2), keepdim: try c.boolean(3)))
            return 1
        }
    }
}
