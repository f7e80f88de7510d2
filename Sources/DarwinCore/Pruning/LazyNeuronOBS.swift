import COpenBLAS

/// The exact greedy OBS over single columns (MLP neurons) with lazy, batched updates.
///
/// Removing column j changes every column's saliency `‖w_i‖² / Hinv_ii`, so the greedy needs the diagonals of the
/// inverse Hessian and of the Gram matrix `G = WᵀW` after each removal, nothing more. Both downdates are low rank
/// (`Hinv -= u uᵀ`; `G -= β vᵀ + v βᵀ`; `W -= a βᵀ`), so up to `batch` of them are kept as factors: a removal costs
/// three matrix-vector products with the factors (which stay in the L3 cache) and an update of the diagonals; every
/// `batch` removals (and at each snapshot) the factors are applied to the matrices in place in BLAS-3 products, and
/// once a sixth of the positions are dead the matrices are compacted to the live ones. The choices are those of the
/// one-at-a-time algorithm, up to rounding.
final class LazyNeuronOBS: GreedyOBSState {
    let rows: Int
    /// Removals gathered before the matrices are updated.
    let batch: Int
    /// Original indices of the columns at the last compaction (`n` positions, some `removed` since).
    private var alive: [Int]
    private var n: Int { alive.count }
    /// As of the last update: `Wᵀ` `[n, rows]`, `Hinv` and `G` `[n, n]`; the `spare*` buffers receive the compacted copies.
    private var wt: UnsafeMutablePointer<Double>, spareWt: UnsafeMutablePointer<Double>
    private var hinv: UnsafeMutablePointer<Double>, spareHinv: UnsafeMutablePointer<Double>
    private var gram: UnsafeMutablePointer<Double>, spareGram: UnsafeMutablePointer<Double>
    /// Factors of the pending removals, `[batch, n]` (row s is removal s): `Hinv = Hinv₀ - Uᵀ U`,
    /// `G = G₀ - Pᵀ V - Vᵀ P`, `Wᵀ = Wᵀ₀ - Pᵀ A` with `A` `[batch, rows]`.
    private let u: UnsafeMutablePointer<Double>, p: UnsafeMutablePointer<Double>, v: UnsafeMutablePointer<Double>
    private let a: UnsafeMutablePointer<Double>
    /// Removals pending, current diagonals, and which positions were removed since the last compaction.
    private var pending = 0
    private var hinvDiagonal: [Double], gramDiagonal: [Double], removed: [Bool]
    /// Scratch: the current row of `Hinv` and of `G` at the removed position.
    private var hinvRow: [Double], gramRow: [Double]

    init(weight: Tensor, hessian: Tensor, relDamp: Double, batch: Int = 96) throws {
        rows = weight.shape[0]
        self.batch = batch
        let cols = weight.shape[1]
        alive = Array(0..<cols)
        let wCount = try checkedCount(rows, cols), hCount = try checkedCount(cols, cols), fCount = try checkedCount(cols, batch)
        wt = .allocate(capacity: wCount); spareWt = .allocate(capacity: wCount)
        hinv = .allocate(capacity: hCount); spareHinv = .allocate(capacity: hCount)
        gram = .allocate(capacity: hCount); spareGram = .allocate(capacity: hCount)
        u = .allocate(capacity: fCount); p = .allocate(capacity: fCount); v = .allocate(capacity: fCount)
        a = .allocate(capacity: try checkedCount(batch, rows))
        hinvRow = Array(repeating: 0, count: cols); gramRow = hinvRow
        removed = Array(repeating: false, count: cols)
        try loadOBSInputs(weight: weight, hessian: hessian, relDamp: relDamp, transposedWeight: wt, inverseHessian: hinv)
        // G = WᵀW, computed as Wᵀ₀ (Wᵀ₀)ᵀ; like the updates below, only its upper triangle is kept.
        let (transposed, gramMatrix, r) = (wt, gram, rows)
        withOpenBLASThreads {
            cblas_dsyrk(CblasRowMajor, CblasUpper, CblasNoTrans, Int32(cols), Int32(r), 1, transposed, Int32(max(r, 1)), 0, gramMatrix, Int32(cols))
        }
        hinvDiagonal = (0..<cols).map { [hinv] in hinv[$0 * cols + $0] }
        gramDiagonal = (0..<cols).map { [gram] in gram[$0 * cols + $0] }
    }

    deinit {
        for buffer in [wt, spareWt, hinv, spareHinv, gram, spareGram, u, p, v, a] { buffer.deallocate() }
    }

    func removeLeastSalient() throws -> Int {
        if pending == batch { applyPending() }
        let n = self.n, t = pending
        var j = -1, best = Double.infinity
        for i in 0..<n where !removed[i] {
            let score = gramDiagonal[i] / hinvDiagonal[i]
            if score < best || j < 0 { best = score; j = i }
        }
        guard j >= 0 else { throw TensorError("obs: no column left to remove") }
        // The current row j of Hinv and of G (both symmetric), from the last update and the pending factors.
        hinvRow.withUnsafeMutableBufferPointer { h in
            copySymmetricRow(hinv, n: n, row: j, into: h.baseAddress!)
            cblas_dgemv(CblasRowMajor, CblasTrans, Int32(t), Int32(n), -1, u, Int32(n), u + j, Int32(n), 1, h.baseAddress, 1)
        }
        gramRow.withUnsafeMutableBufferPointer { g in
            copySymmetricRow(gram, n: n, row: j, into: g.baseAddress!)
            cblas_dgemv(CblasRowMajor, CblasTrans, Int32(t), Int32(n), -1, p, Int32(n), v + j, Int32(n), 1, g.baseAddress, 1)
            cblas_dgemv(CblasRowMajor, CblasTrans, Int32(t), Int32(n), -1, v, Int32(n), p + j, Int32(n), 1, g.baseAddress, 1)
        }
        let hjj = hinvRow[j], gjj = gramRow[j]
        guard hjj > 0, hjj.isFinite else { throw TensorError("obs: the inverse Hessian lost positive definiteness; increase rel_damp") }
        // The removed column of W as it is now: Wᵀ₀ row j minus the pending updates, kept as row t of A.
        let column = a + t * rows
        column.update(from: wt + j * rows, count: rows)
        cblas_dgemv(CblasRowMajor, CblasTrans, Int32(t), Int32(rows), -1, a, Int32(rows), p + j, Int32(n), 1, column, 1)
        let scale = 1 / hjj.squareRoot()
        let uRow = u + t * n, pRow = p + t * n, vRow = v + t * n
        for i in 0..<n {
            let h = hinvRow[i], beta = h / hjj, vi = gramRow[i] - 0.5 * gjj * beta
            uRow[i] = h * scale
            pRow[i] = beta
            vRow[i] = vi
            hinvDiagonal[i] -= h * h / hjj
            gramDiagonal[i] -= 2 * beta * vi
        }
        removed[j] = true
        pending += 1
        return alive[j]
    }

    /// Applies the pending factors to the matrices in place; compacts them when a sixth of the positions are dead
    /// (or always, with `compact`).
    private func applyPending(compact: Bool = false) {
        let n = self.n, t = pending, rows = self.rows
        if t > 0 {
            // Only the upper triangles of the symmetric matrices are kept up to date.
            withOpenBLASThreads {
                cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(t), -1, u, Int32(n), 1, hinv, Int32(n))
                cblas_dsyr2k(CblasRowMajor, CblasUpper, CblasTrans, Int32(n), Int32(t), -1, p, Int32(n), v, Int32(n), 1, gram, Int32(n))
            }
            dgemm(transA: true, m: n, n: rows, k: t, alpha: -1, p, lda: n, a, ldb: rows, beta: 1, wt, ldc: rows)
            pending = 0
        }
        let keep = (0..<n).filter { !removed[$0] }
        if keep.count < n && (compact || 6 * (n - keep.count) >= n) {
            let nr = keep.count
            gatherRows(keep, from: hinv, width: n, columns: keep, into: spareHinv)
            gatherRows(keep, from: gram, width: n, columns: keep, into: spareGram)
            gatherRows(keep, from: wt, width: rows, columns: nil, into: spareWt)
            swap(&hinv, &spareHinv); swap(&gram, &spareGram); swap(&wt, &spareWt)
            alive = keep.map { alive[$0] }
            removed = Array(repeating: false, count: nr)
        }
        let m = self.n
        hinvDiagonal = (0..<m).map { [hinv] in hinv[$0 * m + $0] }
        gramDiagonal = (0..<m).map { [gram] in gram[$0 * m + $0] }
    }

    /// Row `row` of the symmetric `n`×`n` matrix `m` of which only the upper triangle is current.
    private func copySymmetricRow(_ m: UnsafePointer<Double>, n: Int, row: Int, into out: UnsafeMutablePointer<Double>) {
        for i in 0..<row { out[i] = m[i * n + row] }
        (out + row).update(from: m + row * n + row, count: n - row)
    }

    func snapshot(removed count: Int) throws -> StructuredOBS.Snapshot {
        applyPending(compact: true)
        return .init(removed: count, kept: alive, weights: transposeToFloat(wt, rows: n, cols: rows))
    }
}
