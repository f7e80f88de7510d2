import Foundation

/// Elementwise binary operations with NumPy broadcasting.
public enum BinaryOp: String, CaseIterable {
    case add, sub, mul, div, maximum, minimum

    func run(out: Tensor, _ a: Tensor, _ b: Tensor) {
        switch self {
        case .add: binaryApply(AddKernel.self, out: out, a, b)
        case .sub: binaryApply(SubKernel.self, out: out, a, b)
        case .mul: binaryApply(MulKernel.self, out: out, a, b)
        case .div: binaryApply(DivKernel.self, out: out, a, b)
        case .maximum: binaryApply(MaxKernel.self, out: out, a, b)
        case .minimum: binaryApply(MinKernel.self, out: out, a, b)
        }
    }
}

/// Elementwise unary functions.
public enum UnaryOp: String, CaseIterable {
    case neg, abs, exp, log, sqrt, rsqrt, tanh, sigmoid, silu, relu, square

    @inline(__always) func apply(_ x: Float) -> Float {
        switch self {
        case .neg: return -x
        case .abs: return Swift.abs(x)
        case .exp: return Foundation.exp(x)
        case .log: return Foundation.log(x)
        case .sqrt: return x.squareRoot()
        case .rsqrt: return 1 / x.squareRoot()
        case .tanh: return Foundation.tanh(x)
        case .sigmoid: return 1 / (1 + Foundation.exp(-x))
        case .silu: return x / (1 + Foundation.exp(-x))
        case .relu: return Swift.max(x, 0)
        case .square: return x * x
        }
    }
}

extension Tensor {
    /// `op(self, other)` with broadcasting, into a new tensor.
    public func binary(_ op: BinaryOp, _ other: Tensor) throws -> Tensor {
        let outShape = try Shape.broadcast(shape, other.shape, op: op.rawValue)
        let out = try Tensor(checkedShape: outShape, op: op.rawValue)
        op.run(out: out, self, other)
        return out
    }

    /// `self = op(self, other)` in place; `other` must broadcast to this tensor's shape.
    @discardableResult
    public func binaryInPlace(_ op: BinaryOp, _ other: Tensor) throws -> Tensor {
        let outShape = try Shape.broadcast(shape, other.shape, op: op.rawValue + "_")
        guard outShape == shape else {
            throw TensorError("\(op.rawValue)_: shape \(TensorError.show(other.shape)) does not broadcast to the in-place target \(TensorError.show(shape))")
        }
        // An overlapping operand could be overwritten while it is read: read from a copy then.
        let source = other.storage === storage && !(other.offset == offset && other.strides == strides) ? other.clone() : other
        op.run(out: self, self, source)
        return self
    }

    /// `op(self, scalar)` into a new tensor.
    public func binary(_ op: BinaryOp, scalar: Float) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        op.run(out: out, self, Tensor(shape: [], repeating: scalar))
        return out
    }

    /// `op(scalar, self)` into a new tensor (for `2 - t`, `1 / t`).
    public func binary(scalar: Float, _ op: BinaryOp) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        op.run(out: out, Tensor(shape: [], repeating: scalar), self)
        return out
    }

    /// `self = op(self, scalar)` in place.
    @discardableResult
    public func binaryInPlace(_ op: BinaryOp, scalar: Float) -> Tensor {
        op.run(out: self, self, Tensor(shape: [], repeating: scalar))
        return self
    }

    /// `op` applied to every element, into a new tensor.
    public func unary(_ op: UnaryOp) -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        out.mapElements(from: self, op)
        return out
    }

    /// `op` applied to every element in place.
    @discardableResult
    public func unaryInPlace(_ op: UnaryOp) -> Tensor {
        mapElements(from: self, op)
        return self
    }

    private func mapElements(from source: Tensor, _ op: UnaryOp) {
        let rows = StridedRows(shape: shape, strides: [strides, source.strides])
        let po = data, ps = source.data, n = rows.rowLength, so = rows.innerStride(0), ss = rows.innerStride(1)
        rows.forEachRowParallel { o, s, _ in
            switch op {  // hoisted switch: each case's loop is simple enough to vectorise
            case .neg: for i in 0..<n { po[o + i * so] = -ps[s + i * ss] }
            case .square: for i in 0..<n { let x = ps[s + i * ss]; po[o + i * so] = x * x }
            case .relu: for i in 0..<n { po[o + i * so] = Swift.max(ps[s + i * ss], 0) }
            case .sqrt: for i in 0..<n { po[o + i * so] = ps[s + i * ss].squareRoot() }
            default: for i in 0..<n { po[o + i * so] = op.apply(ps[s + i * ss]) }
            }
        }
    }
}
