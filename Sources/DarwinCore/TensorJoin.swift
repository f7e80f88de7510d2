/// Joining tensors: concatenation and stacking.
extension Tensor {
    /// Concatenates `tensors` along `dim`; all other sizes must agree.
    public static func cat(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        guard let first = tensors.first else { throw TensorError("cat: expected at least one tensor") }
        let d = try Shape.normalize(dim: dim, rank: first.rank, op: "cat")
        var total = 0
        for (i, t) in tensors.enumerated() {
            var a = t.shape, b = first.shape
            guard a.count == b.count else {
                throw TensorError("cat: tensor \(i + 1) has shape \(TensorError.show(t.shape)), expected rank \(first.rank) like \(TensorError.show(first.shape))")
            }
            a[d] = 0; b[d] = 0
            guard a == b else {
                throw TensorError("cat: tensor \(i + 1) has shape \(TensorError.show(t.shape)), which does not match \(TensorError.show(first.shape)) outside dimension \(d + 1)")
            }
            let (sum, overflow) = total.addingReportingOverflow(t.shape[d])
            guard !overflow else { throw TensorError("cat: the joined size of dimension \(d + 1) overflows") }
            total = sum
        }
        var outShape = first.shape
        outShape[d] = total
        let out = try Tensor(checkedShape: outShape, op: "cat")
        var start = 0
        for t in tensors where t.shape[d] > 0 {
            try out.narrow(d, start, t.shape[d]).copyElements(from: t)
            start += t.shape[d]
        }
        return out
    }

    /// Stacks equally shaped `tensors` along a new dimension `dim`.
    public static func stack(_ tensors: [Tensor], dim: Int) throws -> Tensor {
        guard let first = tensors.first else { throw TensorError("stack: expected at least one tensor") }
        if let bad = tensors.firstIndex(where: { $0.shape != first.shape }) {
            throw TensorError("stack: tensor \(bad + 1) has shape \(TensorError.show(tensors[bad].shape)), expected \(TensorError.show(first.shape))")
        }
        let d = try Shape.normalize(dim: dim, rank: first.rank + 1, op: "stack")
        return try cat(tensors.map { try $0.unsqueeze(d) }, dim: d)
    }
}
