import COpenBLAS
import Foundation

/// Greedy second-order structured pruning of the input columns of one linear layer (ZipLM / DarwinLM's
/// `fast_obc_struct`): columns are grouped into structures (a query head's `head_dim` columns of `o_proj`,
/// or one neuron's column of `down_proj`); the structure whose removal raises the layer's squared error
/// `||W X - Ŵ X||²` least is removed, the remaining weights are updated optimally (OBS), and the inverse
/// Hessian is downdated. All arithmetic is float64.
///
/// Single columns (MLP neurons) go through `LazyNeuronOBS`, which makes exactly the same choices with the updates
/// gathered into rank-64 BLAS-3 products (a width-8192 MLP in seconds instead of many minutes); groups (heads,
/// at most a few dozen per layer) through `GroupOBSState`, one removal and one compacting update at a time.
public struct StructuredOBS {
    /// One requested compression level: which structures are kept and the updated weights on them.
    public struct Snapshot {
        /// Number of structures removed.
        public let removed: Int
        /// Indices of the kept structures, ascending.
        public let kept: [Int]
        /// `[rows, kept.count * groupSize]`: the weights of the kept columns after the OBS updates.
        public let weights: Tensor
    }

    /// Prunes `weight` (`[rows, structures * groupSize]`) with the input Hessian `hessian` (`H = 2/n Σ XᵀX`),
    /// snapshotting after removing each count in `levels` (ascending; 0 = dense). `relDamp` adds
    /// `relDamp * mean(diag H)` to the diagonal; inputs that are never active get diagonal 1 and zero weights.
    /// `oneAtATime` makes single columns take the direct path too (the reference the lazy path is tested against).
    /// Returns the snapshots and the order in which structures were removed.
    public static func prune(weight: Tensor, hessian: Tensor, groupSize g: Int, levels: [Int], relDamp: Double = 0.01,
                             progress: ((Int, Int) -> Void)? = nil, oneAtATime: Bool = false) throws -> (snapshots: [Snapshot], order: [Int]) {
        guard weight.rank == 2, g > 0, weight.shape[1] % g == 0, hessian.shape == [weight.shape[1], weight.shape[1]] else {
            throw TensorError("obs: weight \(TensorError.show(weight.shape)), Hessian \(TensorError.show(hessian.shape)) and group size \(g) do not fit")
        }
        let structures = weight.shape[1] / g
        guard levels == levels.sorted(), let maxLevel = levels.last, maxLevel <= structures, levels.first! >= 0 else {
            throw TensorError("obs: levels \(levels) must be ascending counts in 0...\(structures)")
        }
        guard relDamp.isFinite, relDamp >= 0 else { throw TensorError("obs: rel_damp \(relDamp) must be a finite number ≥ 0") }
        let state: GreedyOBSState = g == 1 && !oneAtATime
            ? try LazyNeuronOBS(weight: weight, hessian: hessian, relDamp: relDamp)
            : try GroupOBSState(weight: weight, hessian: hessian, groupSize: g, relDamp: relDamp)
        var snapshots: [Snapshot] = [], order: [Int] = []
        var nextLevel = 0
        func takeSnapshots() throws {
            while nextLevel < levels.count && levels[nextLevel] == order.count {
                snapshots.append(try state.snapshot(removed: order.count))
                nextLevel += 1
            }
        }
        try takeSnapshots()
        while order.count < maxLevel {
            try Interrupt.check()
            order.append(try state.removeLeastSalient())
            progress?(order.count, maxLevel)
            try takeSnapshots()
        }
        return (snapshots, order)
    }
}

/// A greedy OBS run in progress.
protocol GreedyOBSState: AnyObject {
    /// Removes the live structure whose removal costs least (ties: the lowest index) and returns its index.
    func removeLeastSalient() throws -> Int
    /// The live structures and their current weights.
    func snapshot(removed: Int) throws -> StructuredOBS.Snapshot
}

/// The working state of a structured OBS run over groups of columns: the live columns' weights (transposed, so a
/// structure's columns are contiguous rows) and the inverse Hessian restricted to them, both in float64 and
/// compacted as structures go. Two buffers of each are kept and swapped, so a removal never allocates.
final class GroupOBSState: GreedyOBSState {
    let rows: Int, g: Int
    /// Original indices of the live structures, ascending.
    private(set) var alive: [Int]
    /// `[n, rows]` and `[n, n]` with `n = alive.count * g`; `spare*` receive the compacted copies.
    private var wt: UnsafeMutablePointer<Double>, spareWt: UnsafeMutablePointer<Double>
    private var hinv: UnsafeMutablePointer<Double>, spareHinv: UnsafeMutablePointer<Double>
    private var n: Int { alive.count * g }

    init(weight: Tensor, hessian: Tensor, groupSize: Int, relDamp: Double) throws {
        rows = weight.shape[0]
        g = groupSize
        let cols = weight.shape[1]
        alive = Array(0..<(cols / groupSize))
        let wCount = try checkedCount(rows, cols), hCount = try checkedCount(cols, cols)
        wt = .allocate(capacity: wCount); spareWt = .allocate(capacity: wCount)
        hinv = .allocate(capacity: hCount); spareHinv = .allocate(capacity: hCount)
        try loadOBSInputs(weight: weight, hessian: hessian, relDamp: relDamp, transposedWeight: wt, inverseHessian: hinv)
    }

    deinit {
        wt.deallocate(); spareWt.deallocate(); hinv.deallocate(); spareHinv.deallocate()
    }

    func removeLeastSalient() throws -> Int {
        let scores = try saliencies()
        let best = scores.indices.min { (scores[$0], $0) < (scores[$1], $1) }!
        let index = alive[best]
        try remove(positions: [best])
        return index
    }

    /// The removal cost of each live structure: `Σ_rows w_sᵀ (Hinv_ss)⁻¹ w_s`.
    func saliencies() throws -> [Double] {
        let n = self.n, rows = self.rows, g = self.g, wt = self.wt, hinv = self.hinv
        var scores = [Double](repeating: 0, count: alive.count)
        scores.withUnsafeMutableBufferPointer { out in
            Parallel.forEachChunk(count: out.count, minimumChunk: max(1, 65536 / max(rows * g, 1))) { range in
                var block = [Double](repeating: 0, count: g * g), gram = [Double](repeating: 0, count: g * g)
                for p in range {
                    let c0 = p * g
                    for a in 0..<g { for b in 0..<g { block[a * g + b] = hinv[(c0 + a) * n + c0 + b] } }
                    do { try block.withUnsafeMutableBufferPointer { try SymmetricInverse.invert($0.baseAddress!, n: g) } } catch {
                        out[p] = .nan
                        continue
                    }
                    // Σ_ab B_ab (W_s W_sᵀ)_ab with W_s the structure's g rows of Wᵀ.
                    gram.withUnsafeMutableBufferPointer {
                        dgemm(transB: true, m: g, n: g, k: rows, wt + c0 * rows, lda: rows, wt + c0 * rows, ldb: rows, $0.baseAddress!, ldc: g)
                    }
                    out[p] = zip(block, gram).reduce(0) { $0 + $1.0 * $1.1 }
                }
            }
        }
        if scores.contains(where: \.isNaN) { throw TensorError("obs: a structure's inverse-Hessian block is not positive definite; increase rel_damp") }
        return scores
    }

    /// Removes the structures at `positions` (ascending indices into `alive`) jointly:
    /// `W_R -= W_S (Hinv_SS)⁻¹ Hinv_SR` and `Hinv_RR -= Hinv_RS (Hinv_SS)⁻¹ Hinv_SR`, then compacts.
    func remove(positions: [Int]) throws {
        let n = self.n, rows = self.rows, g = self.g
        let removed = Set(positions)
        let sCols = positions.flatMap { p in (p * g)..<((p + 1) * g) }
        let rCols = (0..<alive.count).filter { !removed.contains($0) }.flatMap { p in (p * g)..<((p + 1) * g) }
        let k = sCols.count, nr = rCols.count
        let hinv = self.hinv, wt = self.wt, newH = spareHinv, newW = spareWt
        var hss = [Double](repeating: 0, count: k * k)
        for (a, i) in sCols.enumerated() { for (b, j) in sCols.enumerated() { hss[a * k + b] = hinv[i * n + j] } }
        try hss.withUnsafeMutableBufferPointer { try SymmetricInverse.invert($0.baseAddress!, n: k) }
        var hsr = [Double](repeating: 0, count: k * nr), ws = [Double](repeating: 0, count: k * rows), m = hsr
        for (a, i) in sCols.enumerated() {
            for (b, j) in rCols.enumerated() { hsr[a * nr + b] = hinv[i * n + j] }
            for r in 0..<rows { ws[a * rows + r] = wt[i * rows + r] }
        }
        dgemm(m: k, n: nr, k: k, hss, lda: k, hsr, ldb: nr, &m, ldc: nr)
        gatherRows(rCols, from: hinv, width: n, columns: rCols, into: newH)
        gatherRows(rCols, from: wt, width: rows, columns: nil, into: newW)
        dgemm(transA: true, m: nr, n: nr, k: k, alpha: -1, hsr, lda: nr, m, ldb: nr, beta: 1, newH, ldc: nr)
        dgemm(transA: true, m: nr, n: rows, k: k, alpha: -1, m, lda: nr, ws, ldb: rows, beta: 1, newW, ldc: rows)
        swap(&self.hinv, &spareHinv)
        swap(&self.wt, &spareWt)
        alive = alive.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    }

    func snapshot(removed: Int) throws -> StructuredOBS.Snapshot {
        .init(removed: removed, kept: alive, weights: transposeToFloat(wt, rows: n, cols: rows))
    }
}

/// Elements of an `a`×`b` buffer (at least 1, for allocation), or an error when that overflows.
func checkedCount(_ a: Int, _ b: Int) throws -> Int {
    guard let count = Shape.checkedProduct([a, b]) else { throw TensorError("obs: a \(a)×\(b) matrix is too large") }
    return max(count, 1)
}

/// Copies rows `rowIndices` of the row-major matrix `source` (row length `width`) into consecutive rows of
/// `destination`, keeping only `columns` of each (all when nil); in parallel.
func gatherRows(_ rowIndices: [Int], from source: UnsafePointer<Double>, width: Int, columns: [Int]?,
                into destination: UnsafeMutablePointer<Double>) {
    let outWidth = columns?.count ?? width
    rowIndices.withUnsafeBufferPointer { rowsIn in
        Parallel.forEachChunk(count: rowsIn.count, minimumChunk: max(1, 65536 / max(outWidth, 1))) { range in
            for b in range {
                let src = source + rowsIn[b] * width, dst = destination + b * outWidth
                if let columns { for (c, j) in columns.enumerated() { dst[c] = src[j] } } else { dst.update(from: src, count: width) }
            }
        }
    }
}

/// The `[cols, rows]` float32 tensor of the transpose of the row-major float64 matrix `source` (`[rows, cols]`).
func transposeToFloat(_ source: UnsafePointer<Double>, rows: Int, cols: Int) -> Tensor {
    let out = Tensor(uninitializedShape: [cols, rows])
    let data = out.data
    Parallel.forEachChunk(count: cols, minimumChunk: max(1, 65536 / max(rows, 1))) { range in
        for c in range { for r in 0..<rows { data[c * rows + r] = Float(source[r * cols + c]) } }
    }
    return out
}

/// Fills `transposedWeight` (`[cols, rows]`) and `inverseHessian` (`[cols, cols]`) in float64 from a layer's
/// weight `[rows, cols]` and Hessian: dead inputs (zero diagonal) get diagonal 1 and zero weights (as in the
/// reference), `relDamp * mean(diag H)` is added to the diagonal, and H is inverted.
func loadOBSInputs(weight: Tensor, hessian: Tensor, relDamp: Double, transposedWeight wt: UnsafeMutablePointer<Double>,
                   inverseHessian hinv: UnsafeMutablePointer<Double>) throws {
    let rows = weight.shape[0], cols = weight.shape[1]
    let w = weight.contiguous(), h = hessian.contiguous()
    guard w.data.isFinite(count: w.count), h.data.isFinite(count: h.count) else {
        throw TensorError("obs: the weights or the Hessian contain NaN or infinite values")
    }
    let wData = w.data, hData = h.data
    Parallel.forEachChunk(count: cols, minimumChunk: max(1, 65536 / max(rows + cols, 1))) { range in
        for c in range {
            for r in 0..<rows { wt[c * rows + r] = Double(wData[r * cols + c]) }
            for j in 0..<cols { hinv[c * cols + j] = Double(hData[c * cols + j]) }
        }
    }
    for j in 0..<cols where hinv[j * cols + j] == 0 {
        hinv[j * cols + j] = 1
        (wt + j * rows).update(repeating: 0, count: rows)
    }
    let damp = relDamp * (0..<cols).map { hinv[$0 * cols + $0] }.reduce(0, +) / Double(max(cols, 1))
    for j in 0..<cols { hinv[j * cols + j] += damp }
    try SymmetricInverse.invert(hinv, n: cols, multithreaded: true)
}

extension UnsafeMutablePointer where Pointee == Float {
    /// True when the `count` values from here on are all finite.
    func isFinite(count: Int) -> Bool {
        var ok = true
        for i in 0..<count where !self[i].isFinite { ok = false; break }
        return ok
    }
}
