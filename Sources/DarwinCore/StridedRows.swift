/// Walks up to three strided operands of one shape as a sequence of rows along the innermost dimension.
///
/// Dimensions that are laid out contiguously for every operand are merged first, so a contiguous tensor
/// is a single long row; the kernels then see long unit-stride rows they can vectorise.
struct StridedRows {
    /// Coalesced shape; the last entry is the row length.
    let shape: [Int]
    /// Coalesced strides, one array per operand.
    let strides: [[Int]]
    /// Number of rows (product of all but the last coalesced dimension).
    let rowCount: Int
    /// Elements per row.
    var rowLength: Int { shape.last! }
    /// Stride along the row, per operand.
    func innerStride(_ k: Int) -> Int { strides[k].last! }

    init(shape: [Int], strides operandStrides: [[Int]]) {
        var dims: [Int] = []
        var st: [[Int]] = Array(repeating: [], count: operandStrides.count)
        for d in 0..<shape.count where shape[d] != 1 {
            if let last = dims.last, operandStrides.indices.allSatisfy({ st[$0].last! == operandStrides[$0][d] * shape[d] }) {
                dims[dims.count - 1] = last * shape[d]
                for k in st.indices { st[k][st[k].count - 1] = operandStrides[k][d] }
            } else {
                dims.append(shape[d])
                for k in st.indices { st[k].append(operandStrides[k][d]) }
            }
        }
        if dims.isEmpty {  // scalar or all-ones shape: one row of one element
            dims = [Shape.count(shape) == 0 ? 0 : 1]
            for k in st.indices { st[k] = [0] }
        }
        if shape.contains(0) { dims = [0]; for k in st.indices { st[k] = [0] } }
        self.shape = dims
        self.strides = st
        self.rowCount = dims.count == 1 ? (dims[0] == 0 ? 0 : 1) : Shape.count(Array(dims.dropLast()))
    }

    /// Calls `body(offset0, offset1, offset2)` with the element offset of each operand at the start of
    /// every row in `rows` (operands beyond the count given at init get offset 0).
    @inline(__always)
    func forEachRow(in rows: Range<Int>, _ body: (Int, Int, Int) -> Void) {
        let outer = shape.count - 1
        if outer == 0 { if !rows.isEmpty { body(0, 0, 0) }; return }
        var index = [Int](repeating: 0, count: outer)
        var offsets = (0, 0, 0)
        // Multi-index of the first row.
        var r = rows.lowerBound
        for d in stride(from: outer - 1, through: 0, by: -1) { index[d] = r % shape[d]; r /= shape[d] }
        func strideOf(_ k: Int, _ d: Int) -> Int { k < strides.count ? strides[k][d] : 0 }
        for d in 0..<outer {
            offsets.0 += index[d] * strideOf(0, d); offsets.1 += index[d] * strideOf(1, d); offsets.2 += index[d] * strideOf(2, d)
        }
        for _ in rows {
            body(offsets.0, offsets.1, offsets.2)
            var d = outer - 1
            while d >= 0 {
                index[d] += 1
                offsets.0 += strideOf(0, d); offsets.1 += strideOf(1, d); offsets.2 += strideOf(2, d)
                if index[d] < shape[d] { break }
                offsets.0 -= shape[d] * strideOf(0, d); offsets.1 -= shape[d] * strideOf(1, d); offsets.2 -= shape[d] * strideOf(2, d)
                index[d] = 0
                d -= 1
            }
        }
    }

    /// Runs `forEachRow` over all rows, split across worker threads when the work is large.
    func forEachRowParallel(_ body: @escaping (Int, Int, Int) -> Void) {
        let total = rowCount * rowLength
        Parallel.forEachChunk(count: rowCount, minimumChunk: max(1, Parallel.grainElements / max(rowLength, 1)),
                              enabled: total >= Parallel.grainElements) { range in
            forEachRow(in: range, body)
        }
    }
}
