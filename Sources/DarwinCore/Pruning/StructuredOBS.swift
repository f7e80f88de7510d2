import COpenBLAS
import Foundation

/// Greedy second-order structured pruning of the input columns of one linear layer (ZipLM / DarwinLM's
/// `fast_obc_struct`): columns are grouped into structures (a query head's `head_dim` columns of `o_proj`,
/// or one neuron's column of `down_proj`); the structure whose removal raises the layer's squared error
/// `||W X - Ŵ X||²` least is removed, the remaining weights are updated optimally (OBS), and the inverse
/// Hessian is downdated. All arithmetic is float64.
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
    /// Returns the snapshots and the order in which structures were removed.
    public static func prune(weight: Tensor, hessian: Tensor, groupSize g: Int, levels: [Int], relDamp: Double = 0.01,
                             progress: ((Int, Int) -> Void)? = nil) throws -> (snapshots: [Snapshot], order: [Int]) {
        let rows = weight.shape[0], cols = weight.shape[1]
        guard cols % g == 0, hessian.shape == [cols, cols] else {
            throw TensorError("obs: weight \(TensorError.show(weight.shape)), Hessian \(TensorError.show(hessian.shape)) and group size \(g) do not fit")
        }
        let structures = cols / g
        guard levels == levels.sorted(), let maxLevel = levels.last, maxLevel <= structures, levels.first! >= 0 else {
            throw TensorError("obs: levels \(levels) must be ascending counts in 0...\(structures)")
        }
        var w = weight.contiguous().toArray().map(Double.init)
        var h = hessian.contiguous().toArray().map(Double.init)
        // Dead inputs: diagonal 1, weights 0 (as in the reference).
        for j in 0..<cols where h[j * cols + j] == 0 {
            h[j * cols + j] = 1
            for r in 0..<rows { w[r * cols + j] = 0 }
        }
        let damp = relDamp * (0..<cols).map { h[$0 * cols + $0] }.reduce(0, +) / Double(cols)
        for j in 0..<cols { h[j * cols + j] += damp }
        try SymmetricInverse.invert(&h, n: cols)
        var hinv = h
        var alive = [Bool](repeating: true, count: structures)
        var order: [Int] = []
        var snapshots: [Snapshot] = []
        func snapshot() throws {
            let kept = (0..<structures).filter { alive[$0] }
            let keptCols = kept.flatMap { s in (s * g)..<((s + 1) * g) }
            var values = [Float](repeating: 0, count: rows * keptCols.count)
            for r in 0..<rows { for (k, c) in keptCols.enumerated() { values[r * keptCols.count + k] = Float(w[r * cols + c]) } }
            snapshots.append(Snapshot(removed: order.count, kept: kept, weights: try Tensor(values, shape: [rows, keptCols.count])))
        }
        var nextLevel = 0
        while nextLevel < levels.count && levels[nextLevel] == 0 { try snapshot(); nextLevel += 1 }
        var blockInverse = [Double](repeating: 0, count: g * g)
        while order.count < maxLevel {
            // Score every alive structure: Σ_rows w_sᵀ (Hinv_ss)⁻¹ w_s.
            var best = -1, bestScore = Double.infinity
            for s in 0..<structures where alive[s] {
                try inverseBlock(hinv, cols, s * g, g, into: &blockInverse)
                var score = 0.0
                for r in 0..<rows {
                    let base = r * cols + s * g
                    for a in 0..<g {
                        var t = 0.0
                        for b in 0..<g { t += blockInverse[a * g + b] * w[base + b] }
                        score += w[base + a] * t
                    }
                }
                if score < bestScore { bestScore = score; best = s }
            }
            try removeStructure(best, g: g, rows: rows, cols: cols, w: &w, hinv: &hinv, scratch: &blockInverse)
            alive[best] = false
            order.append(best)
            progress?(order.count, maxLevel)
            while nextLevel < levels.count && levels[nextLevel] == order.count { try snapshot(); nextLevel += 1 }
        }
        return (snapshots, order)
    }

    /// `(Hinv[s..s+g, s..s+g])⁻¹` into `out` (g×g, row-major).
    static func inverseBlock(_ hinv: [Double], _ n: Int, _ s: Int, _ g: Int, into out: inout [Double]) throws {
        for a in 0..<g { for b in 0..<g { out[a * g + b] = hinv[(s + a) * n + s + b] } }
        if g == 1 { out[0] = 1 / out[0]; return }
        try SymmetricInverse.invert(&out, n: g)
    }

    /// The OBS update for removing columns `s*g ..< (s+1)*g`:
    /// `W -= W[:,S] (Hinv_SS)⁻¹ Hinv[S,:]` and `Hinv -= Hinv[:,S] (Hinv_SS)⁻¹ Hinv[S,:]`.
    static func removeStructure(_ s: Int, g: Int, rows: Int, cols: Int, w: inout [Double], hinv: inout [Double], scratch: inout [Double]) throws {
        let c0 = s * g
        try inverseBlock(hinv, cols, c0, g, into: &scratch)
        // M = (Hinv_SS)⁻¹ Hinv[S,:]  (g × cols)
        var m = [Double](repeating: 0, count: g * cols)
        hinv.withUnsafeBufferPointer { hp in
            scratch.withUnsafeBufferPointer { sp in
                m.withUnsafeMutableBufferPointer { mp in
                    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(g), Int32(cols), Int32(g), 1,
                                sp.baseAddress, Int32(g), hp.baseAddress! + c0 * cols, Int32(cols), 0, mp.baseAddress, Int32(cols))
                }
            }
        }
        // W -= W[:, S] M ;  Hinv -= Hinv[:, S] M
        m.withUnsafeBufferPointer { mp in
            w.withUnsafeMutableBufferPointer { wp in
                var ws = [Double](repeating: 0, count: rows * g)
                for r in 0..<rows { for a in 0..<g { ws[r * g + a] = wp[r * cols + c0 + a] } }
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(rows), Int32(cols), Int32(g), -1,
                            ws, Int32(g), mp.baseAddress, Int32(cols), 1, wp.baseAddress, Int32(cols))
                for r in 0..<rows { for a in 0..<g { wp[r * cols + c0 + a] = 0 } }
            }
            hinv.withUnsafeMutableBufferPointer { hp in
                var hs = [Double](repeating: 0, count: cols * g)
                for r in 0..<cols { for a in 0..<g { hs[r * g + a] = hp[r * cols + c0 + a] } }
                cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(cols), Int32(cols), Int32(g), -1,
                            hs, Int32(g), mp.baseAddress, Int32(cols), 1, hp.baseAddress, Int32(cols))
                // The removed rows/columns are exactly zero now up to rounding; keep the diagonal positive so
                // later block inverses of live structures are unaffected.
                for a in 0..<g {
                    for j in 0..<cols { hp[(c0 + a) * cols + j] = 0; hp[j * cols + c0 + a] = 0 }
                    hp[(c0 + a) * cols + c0 + a] = 1
                }
            }
        }
    }
}
