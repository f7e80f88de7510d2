/// Matrix products through OpenBLAS `cblas_sgemm`.
extension Tensor {
    /// Matrix product with `torch.matmul` semantics: 1-d operands are promoted (and the added dimension
    /// removed again), leading batch dimensions broadcast. Transposed views are passed to BLAS without copying.
    public func matmul(_ other: Tensor) throws -> Tensor {
        guard rank >= 1, other.rank >= 1 else {
            throw TensorError("matmul: both operands need at least 1 dimension, got shapes \(TensorError.show(shape)) and \(TensorError.show(other.shape))")
        }
        let a = rank == 1 ? try unsqueeze(0) : self
        let b = other.rank == 1 ? try other.unsqueeze(1) : other
        var result = try Tensor.batchedMatmul(a, b, op: "matmul", shapes: (shape, other.shape))
        if rank == 1 { result = try result.squeeze(result.rank - 2) }
        if other.rank == 1 { result = try result.squeeze(result.rank - 1) }
        return result
    }

    /// Batched matrix product of two 3-d tensors `[b,m,k] x [b,k,n] -> [b,m,n]` (no broadcasting).
    public func bmm(_ other: Tensor) throws -> Tensor {
        guard rank == 3, other.rank == 3, shape[0] == other.shape[0] else {
            throw TensorError("bmm: expected [b,m,k] and [b,k,n], got shapes \(TensorError.show(shape)) and \(TensorError.show(other.shape))")
        }
        return try Tensor.batchedMatmul(self, other, op: "bmm", shapes: (shape, other.shape))
    }

    private static func batchedMatmul(_ a: Tensor, _ b: Tensor, op: String, shapes: ([Int], [Int])) throws -> Tensor {
        let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], k2 = b.shape[b.rank - 2], n = b.shape[b.rank - 1]
        guard k == k2 else {
            throw TensorError("\(op): shapes \(TensorError.show(shapes.0)) and \(TensorError.show(shapes.1)) do not match (inner sizes \(k) and \(k2))")
        }
        let batchA = Array(a.shape.dropLast(2)), batchB = Array(b.shape.dropLast(2))
        let batch: [Int]
        do { batch = try Shape.broadcast(batchA, batchB, op: op) } catch {
            throw TensorError("\(op): batch dimensions of \(TensorError.show(shapes.0)) and \(TensorError.show(shapes.1)) cannot be broadcast")
        }
        let out = try Tensor(checkedShape: batch + [m, n], op: op)
        if out.count == 0 { return out }
        if k == 0 { return out.fill(0) }
        // [.., m, k] x [k, n] with a contiguous left operand: one large GEMM over all rows.
        if b.rank == 2, a.isContiguous, let opB = GemmOperand.describe(b, offset: 0, rows: k, cols: n) {
            let rows = Shape.count(batch) * m
            let opA = GemmOperand(pointer: a.data, transposed: false, leadingDimension: k)
            sgemm(opA, opB, out.data, m: rows, n: n, k: k, ldc: n)
            return out
        }
        let ea = a.expandBatch(to: batch), eb = b.expandBatch(to: batch)
        let ca = GemmOperand.describe(ea, offset: 0, rows: m, cols: k) == nil ? ea.clone() : ea
        let cb = GemmOperand.describe(eb, offset: 0, rows: k, cols: n) == nil ? eb.clone() : eb
        let count = Shape.count(batch)
        for i in 0..<count {
            let opA = GemmOperand.describe(ca, offset: ca.batchOffset(i), rows: m, cols: k)!
            let opB = GemmOperand.describe(cb, offset: cb.batchOffset(i), rows: k, cols: n)!
            sgemm(opA, opB, out.data + i * m * n, m: m, n: n, k: k, ldc: n)
        }
        return out
    }

    /// A view with the batch dimensions (all but the last two) broadcast to `batch`.
    private func expandBatch(to batch: [Int]) -> Tensor {
        let mat = Array(shape.suffix(2)), target = batch + mat
        return Tensor(storage: storage, shape: target, strides: Shape.broadcastStrides(shape: shape, strides: strides, to: target), offset: offset)
    }

    /// Element offset of the i-th matrix (row-major over the batch dimensions).
    private func batchOffset(_ i: Int) -> Int {
        var r = i, off = 0
        for d in stride(from: rank - 3, through: 0, by: -1) { off += (r % shape[d]) * strides[d]; r /= shape[d] }
        return off
    }
}
