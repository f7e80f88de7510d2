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

    @Test("bad shapes and levels are rejected")
    func errors() throws {
        let w = try Tensor.ones([2, 6]), h = try Tensor.ones([6, 6])
        #expect(throws: TensorError.self) { try StructuredOBS.prune(weight: w, hessian: h, groupSize: 4, levels: [0]) }
        #expect(throws: TensorError.self) { try StructuredOBS.prune(weight: w, hessian: h, groupSize: 2, levels: [2, 1]) }
        #expect(throws: TensorError.self) { try StructuredOBS.prune(weight: w, hessian: h, groupSize: 2, levels: [0, 4]) }
    }
}
