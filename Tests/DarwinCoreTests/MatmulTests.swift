import Testing
@testable import DarwinCore

@Suite("matmul and bmm through sgemm")
struct MatmulTests {
    /// Naive float64 product of the last two dims of broadcast batch operands.
    static func reference(_ a: Tensor, _ b: Tensor, outShape: [Int]) -> [Double] {
        let k = a.shape[a.rank - 1]
        return Reference.indices(outShape).map { idx in
            let i = idx[idx.count - 2], j = idx[idx.count - 1], batch = Array(idx.dropLast(2))
            var s = 0.0
            for p in 0..<k {
                s += Reference.broadcastAt(a, batch + [i, p]) * Reference.broadcastAt(b, batch + [p, j])
            }
            return s
        }
    }

    @Test("2-d products with transposed operands on random shapes", arguments: 0..<10)
    func twoD(seed: Int) throws {
        let g = RandomGenerator(seed: UInt64(seed))
        let m = g.integer(1, 17), k = g.integer(1, 17), n = g.integer(1, 17)
        let a = g.integer(0, 1) == 0 ? try Tensor.randn([m, k], generator: g) : try Tensor.randn([k, m], generator: g).t()
        let b = g.integer(0, 1) == 0 ? try Tensor.randn([k, n], generator: g) : try Tensor.randn([n, k], generator: g).t()
        let c = try a.matmul(b)
        #expect(c.shape == [m, n])
        #expect(Reference.maxError(c.doubles, Self.reference(a, b, outShape: [m, n])) < 1e-5)
    }

    @Test("batched products broadcast batch dims", arguments: 0..<8)
    func batched(seed: Int) throws {
        let g = RandomGenerator(seed: UInt64(50 + seed))
        let m = g.integer(1, 6), k = g.integer(1, 6), n = g.integer(1, 6)
        let batch = Reference.shape(g, rank: g.integer(1, 2), maxSize: 3)
        let aBatch = batch.map { g.integer(0, 2) == 0 ? 1 : $0 }
        let bBatch = Array(batch.suffix(g.integer(0, batch.count)))
        let a = try Tensor.randn(aBatch + [m, k], generator: g)
        let b = try Tensor.randn(bBatch + [k, n], generator: g)
        let c = try a.matmul(b)
        let outBatch = try Shape.broadcast(aBatch, bBatch, op: "test")
        #expect(c.shape == outBatch + [m, n])
        #expect(Reference.maxError(c.doubles, Self.reference(a, b, outShape: c.shape)) < 1e-5)
    }

    @Test("vector operands are promoted and squeezed like torch.matmul")
    func vectors() throws {
        let v = try Tensor([1, 2, 3], shape: [3])
        let m = try Tensor([1, 0, 0, 1, 1, 1], shape: [3, 2])
        #expect(try v.matmul(v).shape == [] && v.matmul(v).item() == 14)
        #expect(try v.matmul(m).toArray() == [4, 5])
        #expect(try m.t().matmul(v).toArray() == [4, 5])
    }

    @Test("bmm checks shapes; mismatches name both shapes")
    func bmm() throws {
        let g = RandomGenerator(seed: 9)
        let a = try Tensor.randn([4, 3, 5], generator: g), b = try Tensor.randn([4, 5, 2], generator: g)
        let c = try a.bmm(b)
        #expect(Reference.maxError(c.doubles, Self.reference(a, b, outShape: [4, 3, 2])) < 1e-5)
        do {
            _ = try Tensor.zeros([3, 4]).matmul(Tensor.zeros([5, 6]))
            Issue.record("expected an error")
        } catch let e as TensorError {
            #expect(e.message.hasPrefix("matmul: shapes [3,4] and [5,6] do not match"))
        }
        #expect(throws: TensorError.self) { try a.bmm(Tensor.zeros([3, 5, 2])) }
    }

    @Test("empty inner dimension gives zeros")
    func emptyInner() throws {
        #expect(try Tensor.zeros([2, 0]).matmul(Tensor.zeros([0, 3])).toArray() == [Float](repeating: 0, count: 6))
    }
}
