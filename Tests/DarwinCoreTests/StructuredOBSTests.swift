import Foundation
import Testing
@testable import DarwinCore

struct OBSCase: Decodable {
    let name: String
    let group: Int
    let levels: [Int]
    let order: [Int]
    let kept: [String: [Int]]
}

@Suite("structured OBS pruning")
struct StructuredOBSTests {
    static let dir = Fixtures.root.appendingPathComponent("obs").path

    @Test("removal order and updated weights equal the independent float64 reference", arguments: ["heads", "neurons"])
    func matchesReference(name: String) throws {
        let cases = try JSONDecoder().decode([OBSCase].self, from: Data(contentsOf: URL(fileURLWithPath: Self.dir + "/cases.json")))
        let c = cases.first { $0.name == name }!
        let ref = try SafeTensorsFile(path: Self.dir + "/reference.safetensors")
        let (snapshots, order) = try StructuredOBS.prune(weight: try ref.tensor("\(name).weight"), hessian: try ref.tensor("\(name).hessian"),
                                                         groupSize: c.group, levels: c.levels)
        #expect(order == c.order)
        for s in snapshots {
            #expect(s.kept == c.kept[String(s.removed)])
            let expected = try ref.tensor("\(name).level\(s.removed)")
            #expect(relativeError(s.weights, expected) < 1e-4, "\(name) level \(s.removed): \(relativeError(s.weights, expected))")
        }
    }

    /// ||W X - Ŵ X||² / n for a pruned weight given the Hessian H = 2/n XᵀX: (W - Ŵ) H (W - Ŵ)ᵀ / 2 summed over rows.
    static func reconstructionError(_ w: Tensor, _ pruned: Tensor, kept: [Int], group: Int, hessian: Tensor) throws -> Double {
        let full = try Tensor.zeros(w.shape)
        for (k, s) in kept.enumerated() { _ = try full.narrow(1, s * group, group).copy(from: pruned.narrow(1, k * group, group)) }
        let d = try w.binary(.sub, full)
        return try d.matmul(hessian).binary(.mul, d).sumAll() / 2
    }

    @Test("reconstruction error grows with the level and stays far below magnitude pruning", arguments: [1, 8])
    func properties(group: Int) throws {
        let g = RandomGenerator(seed: UInt64(group))
        let rows = 16, structures = 12, cols = structures * group, samples = 200
        // Correlated inputs with uneven scales, like real activations.
        let mix = try Tensor.randn([cols, cols], generator: g).binary(.mul, scalar: 0.3)
        let x = try Tensor.randn([samples, cols], generator: g).matmul(mix).binary(.mul, try Tensor.rand([cols], generator: g).binary(.add, scalar: 0.1))
        let h = try x.t().matmul(x).binary(.mul, scalar: Float(2.0 / Double(samples)))
        let w = try Tensor.randn([rows, cols], generator: g)
        let levels = Array(0...structures - 1)
        let (snapshots, _) = try StructuredOBS.prune(weight: w, hessian: h, groupSize: group, levels: levels)
        #expect(relativeError(snapshots[0].weights, w) < 1e-6)  // level 0 = dense
        var previous = -1.0, totalOBS = 0.0, totalMagnitude = 0.0
        for s in snapshots {
            let err = try Self.reconstructionError(w, s.weights, kept: s.kept, group: group, hessian: h)
            #expect(err >= previous - 1e-6 * max(1, previous), "error must not decrease: level \(s.removed)")
            previous = err
            guard s.removed > 0 else { continue }
            // Magnitude baseline: keep the structures with the largest weight norms, no update.
            let norms = (0..<structures).map { st in try! w.narrow(1, st * group, group).norm() }
            let keptByMagnitude = (0..<structures).sorted { norms[$0] > norms[$1] }.prefix(structures - s.removed).sorted()
            let magnitude = try Tensor.cat(keptByMagnitude.map { try w.narrow(1, $0 * group, group) }, dim: 1)
            let magErr = try Self.reconstructionError(w, magnitude, kept: Array(keptByMagnitude), group: group, hessian: h)
            #expect(err <= magErr, "level \(s.removed): OBS \(err) vs magnitude \(magErr)")
            totalOBS += err; totalMagnitude += magErr
        }
        print("OBS / magnitude reconstruction error over all levels (group \(group)): \(totalOBS / totalMagnitude)")
        #expect(totalOBS < 0.6 * totalMagnitude)
    }

    /// A layer with correlated inputs of uneven scales, like real activations: weight `[rows, structures*group]` and H.
    static func syntheticLayer(rows: Int, structures: Int, group: Int, samples: Int, seed: UInt64) throws -> (w: Tensor, h: Tensor) {
        let g = RandomGenerator(seed: seed)
        let cols = structures * group
        let mix = try Tensor.randn([cols, cols], generator: g).binary(.mul, scalar: Float(3 / Double(cols).squareRoot()))
        let x = try Tensor.randn([samples, cols], generator: g).matmul(mix).binary(.mul, try Tensor.rand([cols], generator: g).binary(.add, scalar: 0.1))
        let h = try x.t().matmul(x).binary(.mul, scalar: Float(2.0 / Double(samples)))
        return (try Tensor.randn([rows, cols], generator: g), h)
    }

    @Test("lazy batched neuron pruning makes the one-at-a-time greedy's choices and weights", arguments: [(240, 24, 0.01), (300, 40, 0.0)])
    func lazyMatchesDirect(structures: Int, rows: Int, relDamp: Double) throws {
        let (w, h) = try Self.syntheticLayer(rows: rows, structures: structures, group: 1, samples: 500, seed: UInt64(structures))
        // A few dead inputs, as in real MLPs (neurons that never fire on the calibration data).
        let hd = h.clone()
        for dead in [3, 77, 150] { for j in 0..<structures { hd.data[dead * structures + j] = 0; hd.data[j * structures + dead] = 0 } }
        let levels = PruningLevels.evenlySpaced(structures: structures, steps: 10)
        let direct = try StructuredOBS.prune(weight: w, hessian: hd, groupSize: 1, levels: levels, relDamp: max(relDamp, 1e-3), oneAtATime: true)
        let lazy = try StructuredOBS.prune(weight: w, hessian: hd, groupSize: 1, levels: levels, relDamp: max(relDamp, 1e-3))
        #expect(lazy.order == direct.order)
        for (d, l) in zip(direct.snapshots, lazy.snapshots) {
            #expect(d.kept == l.kept)
            #expect(relativeError(l.weights, d.weights) < 1e-5, "level \(l.removed): \(relativeError(l.weights, d.weights))")
        }
    }

    @Test("pruned weights are the least-squares optimum for the structures kept")
    func weightsAreOptimal() throws {
        let (w, h) = try Self.syntheticLayer(rows: 12, structures: 64, group: 1, samples: 300, seed: 3)
        let pruned = try StructuredOBS.prune(weight: w, hessian: h, groupSize: 1, levels: [0, 16, 40])
        // The OBS optimum on a kept set R is the least-squares fit W_R = W H[:, R] (H_RR)⁻¹ with the damped H.
        let cols = 64, hd = h.toArray().map(Double.init), wd = w.toArray().map(Double.init)
        let damp = 0.01 * (0..<cols).map { hd[$0 * cols + $0] }.reduce(0, +) / Double(cols)
        for s in pruned.snapshots where s.removed > 0 {
            let kept = s.kept, m = kept.count
            let lhs = (0..<(m * m)).map { i in hd[kept[i / m] * cols + kept[i % m]] + (i / m == i % m ? damp : 0) }
            for r in 0..<12 {
                let rhs = kept.map { j in (0..<cols).map { c in wd[r * cols + c] * (hd[c * cols + j] + (c == j ? damp : 0)) }.reduce(0, +) }
                let expected = solveSymmetric(lhs, rhs, n: m)
                let got = (0..<m).map { Double(s.weights.data[r * m + $0]) }
                let scale = expected.map(abs).max()!
                #expect(zip(expected, got).allSatisfy { abs($0 - $1) <= 1e-4 * scale }, "row \(r) at level \(s.removed)")
            }
        }
    }

    /// Solves `A x = b` (A `n`×`n`, row-major) by Gaussian elimination with partial pivoting.
    func solveSymmetric(_ a: [Double], _ b: [Double], n: Int) -> [Double] {
        var a = a, b = b
        for col in 0..<n {
            let pivot = (col..<n).max { abs(a[$0 * n + col]) < abs(a[$1 * n + col]) }!
            for c in 0..<n { a.swapAt(col * n + c, pivot * n + c) }
            b.swapAt(col, pivot)
            for r in (col + 1)..<n {
                let f = a[r * n + col] / a[col * n + col]
                for c in col..<n { a[r * n + c] -= f * a[col * n + c] }
                b[r] -= f * b[col]
            }
        }
        var x = [Double](repeating: 0, count: n)
        for r in stride(from: n - 1, through: 0, by: -1) {
            x[r] = (b[r] - ((r + 1)..<n).map { a[r * n + $0] * x[$0] }.reduce(0, +)) / a[r * n + r]
        }
        return x
    }

    @Test("bad shapes and levels are rejected")
    func errors() throws {
        let w = try Tensor.ones([2, 6]), h = try Tensor.ones([6, 6])
        #expect(throws: TensorError.self) { try StructuredOBS.prune(weight: w, hessian: h, groupSize: 4, levels: [0]) }
        #expect(throws: TensorError.self) { try StructuredOBS.prune(weight: w, hessian: h, groupSize: 2, levels: [2, 1]) }
        #expect(throws: TensorError.self) { try StructuredOBS.prune(weight: w, hessian: h, groupSize: 2, levels: [0, 4]) }
        #expect(throws: TensorError.self) { try StructuredOBS.prune(weight: w, hessian: h, groupSize: 2, levels: [0, 1], relDamp: -1) }
        let nanWeights = try Tensor.ones([2, 6]).binary(.mul, scalar: .nan)
        #expect(throws: TensorError.self) { try StructuredOBS.prune(weight: nanWeights, hessian: h, groupSize: 2, levels: [0, 1]) }
    }
}
