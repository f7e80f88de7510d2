/// Operations that reinterpret a tensor's layout; most return views that share storage.
extension Tensor {
    /// A tensor with the same elements in a new shape; one size may be -1 (inferred).
    /// A view when this tensor is contiguous, a copy otherwise.
    public func reshape(_ newShape: [Int]) throws -> Tensor {
        var resolved = newShape
        let unknown = newShape.indices.filter { newShape[$0] == -1 }
        guard unknown.count <= 1, !newShape.contains(where: { $0 < -1 }) else {
            throw TensorError("reshape: invalid target shape \(TensorError.show(newShape)) (at most one -1, no other negative sizes)")
        }
        guard let known = Shape.checkedProduct(newShape.filter { $0 != -1 }) else {
            throw TensorError("reshape: cannot reshape \(TensorError.show(shape)) (\(count) elements) into \(TensorError.show(newShape))")
        }
        if let u = unknown.first {
            guard known > 0, count % known == 0 else {
                throw TensorError("reshape: cannot reshape \(TensorError.show(shape)) (\(count) elements) into \(TensorError.show(newShape))")
            }
            resolved[u] = count / known
        }
        guard Shape.count(resolved) == count else {
            throw TensorError("reshape: cannot reshape \(TensorError.show(shape)) (\(count) elements) into \(TensorError.show(newShape))")
        }
        let source = contiguous()
        return Tensor(storage: source.storage, shape: resolved, strides: Shape.contiguousStrides(resolved), offset: source.offset)
    }

    /// Swaps two dimensions (a view).
    public func transpose(_ d0: Int, _ d1: Int) throws -> Tensor {
        let a = try Shape.normalize(dim: d0, rank: rank, op: "transpose"), b = try Shape.normalize(dim: d1, rank: rank, op: "transpose")
        var sh = shape, st = strides
        sh.swapAt(a, b); st.swapAt(a, b)
        return Tensor(storage: storage, shape: sh, strides: st, offset: offset)
    }

    /// Transpose of a matrix (a view); requires rank 2.
    public func t() throws -> Tensor {
        guard rank == 2 else { throw TensorError("t: expected a 2-d tensor, got shape \(TensorError.show(shape))") }
        return try transpose(0, 1)
    }

    /// Reorders dimensions (a view): output dimension i is input dimension `order[i]`.
    public func permute(_ order: [Int]) throws -> Tensor {
        let dims = try order.map { try Shape.normalize(dim: $0, rank: rank, op: "permute") }
        guard dims.count == rank, Set(dims).count == rank else {
            throw TensorError("permute: \(TensorError.show(order.map { $0 + 1 })) is not a permutation of 1..\(rank)")
        }
        return Tensor(storage: storage, shape: dims.map { shape[$0] }, strides: dims.map { strides[$0] }, offset: offset)
    }

    /// `length` consecutive entries of dimension `dim` starting at `start` (a view).
    public func narrow(_ dim: Int, _ start: Int, _ length: Int) throws -> Tensor {
        let d = try Shape.normalize(dim: dim, rank: rank, op: "narrow")
        guard start >= 0, length >= 0, start + length <= shape[d] else {
            throw TensorError("narrow: range \(start + 1)..\(start + length) is outside 1..\(shape[d]) of dimension \(d + 1)")
        }
        var sh = shape
        sh[d] = length
        return Tensor(storage: storage, shape: sh, strides: strides, offset: offset + start * strides[d])
    }

    /// The slice at `index` of dimension `dim`, with that dimension removed (a view).
    public func select(_ dim: Int, _ index: Int) throws -> Tensor {
        let d = try Shape.normalize(dim: dim, rank: rank, op: "select")
        guard index >= 0 && index < shape[d] else {
            throw TensorError("select: index \(index + 1) out of range 1..\(shape[d]) of dimension \(d + 1)")
        }
        var sh = shape, st = strides
        sh.remove(at: d); st.remove(at: d)
        return Tensor(storage: storage, shape: sh, strides: st, offset: offset + index * strides[d])
    }

    /// A new tensor gathering the entries `indices` (0-based) of dimension `dim`.
    public func indexSelect(_ dim: Int, _ indices: [Int]) throws -> Tensor {
        let d = try Shape.normalize(dim: dim, rank: rank, op: "index_select")
        if let bad = indices.first(where: { $0 < 0 || $0 >= shape[d] }) {
            throw TensorError("index_select: index \(bad + 1) out of range 1..\(shape[d]) of dimension \(d + 1)")
        }
        var sh = shape
        sh[d] = indices.count
        let out = try Tensor(checkedShape: sh, op: "index_select")
        for (j, i) in indices.enumerated() {
            let dst = try out.select(d, j), src = try select(d, i)
            dst.copyElements(from: src)
        }
        return out
    }

    /// Inserts a dimension of size 1 at `dim` (a view); `dim` may equal the rank.
    public func unsqueeze(_ dim: Int) throws -> Tensor {
        let d = try Shape.normalize(dim: dim, rank: rank + 1, op: "unsqueeze")
        var sh = shape, st = strides
        sh.insert(1, at: d)
        st.insert(d < rank ? strides[d] * shape[d] : 1, at: d)
        return Tensor(storage: storage, shape: sh, strides: st, offset: offset)
    }

    /// Removes dimension `dim` if it has size 1, or every size-1 dimension when `dim` is nil (a view).
    public func squeeze(_ dim: Int? = nil) throws -> Tensor {
        var keep = Array(0..<rank)
        if let dim {
            let d = try Shape.normalize(dim: dim, rank: rank, op: "squeeze")
            if shape[d] == 1 { keep.remove(at: d) }
        } else {
            keep = keep.filter { shape[$0] != 1 }
        }
        return Tensor(storage: storage, shape: keep.map { shape[$0] }, strides: keep.map { strides[$0] }, offset: offset)
    }

    /// Repeats size-1 dimensions to `target` without copying (stride 0), like `torch.expand`.
    public func expand(_ target: [Int]) throws -> Tensor {
        // The view's size is checked as if it were materialised: most operations on it copy it.
        _ = try Shape.checkedCount(target, op: "expand")
        let full = try Shape.broadcast(shape, target, op: "expand")
        guard full == target else {
            throw TensorError("expand: shape \(TensorError.show(shape)) cannot be expanded to \(TensorError.show(target))")
        }
        return Tensor(storage: storage, shape: target,
                      strides: Shape.broadcastStrides(shape: shape, strides: strides, to: target), offset: offset)
    }
}
