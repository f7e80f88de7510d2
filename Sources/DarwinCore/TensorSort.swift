/// Sorting and top-k selection along a dimension. Indices are 0-based and returned as float tensors.
extension Tensor {
    /// Sorts along `dim` (stable); returns values and the source indices.
    public func sort(dim: Int = -1, descending: Bool = false) throws -> (values: Tensor, indices: Tensor) {
        let d = try Shape.normalize(dim: dim, rank: Swift.max(rank, 1), op: "sort")
        return try selectAlong(d, k: rank == 0 ? 1 : shape[d], largest: descending, op: "sort")
    }

    /// The `k` largest (or smallest) entries along `dim`, sorted; returns values and indices.
    public func topk(_ k: Int, dim: Int = -1, largest: Bool = true) throws -> (values: Tensor, indices: Tensor) {
        let d = try Shape.normalize(dim: dim, rank: rank, op: "topk")
        guard k >= 0 && k <= shape[d] else {
            throw TensorError("topk: k = \(k) is out of range 0..\(shape[d]) for dimension \(d + 1)")
        }
        return try selectAlong(d, k: k, largest: largest, op: "topk")
    }

    private func selectAlong(_ d: Int, k: Int, largest: Bool, op: String) throws -> (values: Tensor, indices: Tensor) {
        if rank == 0 { return (clone(), Tensor(shape: [], repeating: 0)) }
        let moved = try transpose(d, rank - 1).contiguous()
        let n = shape[d], rows = n == 0 ? 0 : moved.count / n
        var outShape = moved.shape
        outShape[rank - 1] = k
        let values = Tensor(uninitializedShape: outShape), indices = Tensor(uninitializedShape: outShape)
        let p = moved.data, pv = values.data, pi = indices.data
        // NaN sorts as the largest value (as in PyTorch); ties keep the lower index first.
        @inline(__always) func before(_ a: Float, _ ia: Int, _ b: Float, _ ib: Int) -> Bool {
            if a.isNaN || b.isNaN { return a.isNaN != b.isNaN ? (a.isNaN == largest) : ia < ib }
            if a != b { return largest ? a > b : a < b }
            return ia < ib
        }
        Parallel.forEachChunk(count: rows, minimumChunk: Swift.max(1, Parallel.grainElements / Swift.max(n, 1))) { range in
            var order = [Int](repeating: 0, count: n)
            for r in range {
                let row = p + r * n
                for i in 0..<n { order[i] = i }
                if k < n / 8 {
                    // Partial selection: keep the best k in a sorted buffer (cheap when k is small).
                    var best: [Int] = []
                    best.reserveCapacity(k + 1)
                    for i in 0..<n where k > 0 {
                        if best.count == k, !before(row[i], i, row[best[k - 1]], best[k - 1]) { continue }
                        var lo = 0, hi = best.count
                        while lo < hi { let mid = (lo + hi) / 2; if before(row[best[mid]], best[mid], row[i], i) { lo = mid + 1 } else { hi = mid } }
                        best.insert(i, at: lo)
                        if best.count > k { best.removeLast() }
                    }
                    for j in 0..<k { order[j] = best[j] }
                } else {
                    order.sort { before(row[$0], $0, row[$1], $1) }
                }
                for j in 0..<k { pv[r * k + j] = row[order[j]]; pi[r * k + j] = Float(order[j]) }
            }
        }
        return (try values.transpose(d, rank - 1).contiguous(), try indices.transpose(d, rank - 1).contiguous())
    }
}
