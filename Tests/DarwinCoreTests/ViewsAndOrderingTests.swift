import Testing
@testable import DarwinCore

@Suite("views, gathers, joins, ordering")
struct ViewsAndOrderingTests {
    let t = try! Tensor((0..<24).map(Float.init), shape: [2, 3, 4])

    @Test("views share storage and index correctly")
    func views() throws {
        let tr = try t.transpose(0, 2)
        #expect(tr.shape == [4, 3, 2] && tr.storage === t.storage && !tr.isContiguous)
        #expect(try tr.value(at: [3, 1, 1]) == t.value(at: [1, 1, 3]))
        let p = try t.permute([2, 0, 1])
        let pv = try p.value(at: [1, 1, 2]), tv = try t.value(at: [1, 2, 1])
        #expect(p.shape == [4, 2, 3] && pv == tv)
        let n = try t.narrow(2, 1, 2)
        let nv = try n.value(at: [1, 2, 0])
        #expect(n.shape == [2, 3, 2] && nv == 21)
        let s = try t.select(1, 2)
        #expect(s.shape == [2, 4] && s.toArray() == [8, 9, 10, 11, 20, 21, 22, 23])
        try s.setValue(-1, at: [0, 0])
        #expect(try t.value(at: [0, 2, 0]) == -1)
        try t.setValue(8, at: [0, 2, 0])
    }

    @Test("reshape infers -1, copies non-contiguous input, rejects bad sizes")
    func reshape() throws {
        #expect(try t.reshape([4, -1]).shape == [4, 6])
        let r = try t.transpose(0, 1).reshape([-1])
        #expect(r.toArray() == Reference.indices([3, 2, 4]).map { Float($0[1] * 12 + $0[0] * 4 + $0[2]) })
        #expect(throws: TensorError.self) { try t.reshape([5, -1]) }
        #expect(throws: TensorError.self) { try t.reshape([-1, -1]) }
    }

    @Test("unsqueeze, squeeze, expand")
    func shapes() throws {
        #expect(try t.unsqueeze(0).shape == [1, 2, 3, 4])
        #expect(try t.unsqueeze(-1).shape == [2, 3, 4, 1])
        #expect(try t.unsqueeze(3).squeeze().shape == [2, 3, 4])
        let e = try Tensor([1, 2, 3], shape: [3, 1]).expand([3, 4])
        #expect(e.toArray() == [1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3])
        #expect(throws: TensorError.self) { try t.expand([2, 5, 4]) }
    }

    @Test("index_select gathers along any dim with bounds checks")
    func indexSelect() throws {
        let r = try t.indexSelect(2, [3, 0, 3])
        let r0 = try r.value(at: [1, 1, 0]), r1 = try r.value(at: [1, 1, 1])
        #expect(r.shape == [2, 3, 3] && r0 == 19 && r1 == 16)
        #expect(throws: TensorError.self) { try t.indexSelect(0, [2]) }
    }

    @Test("cat and stack")
    func joins() throws {
        let a = try Tensor.ones([2, 3]), b = try Tensor.zeros([2, 1])
        let c = try Tensor.cat([a, b, a], dim: 1)
        #expect(c.shape == [2, 7] && c.toArray() == [1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 0, 1, 1, 1])
        #expect(throws: TensorError.self) { try Tensor.cat([a, b], dim: 0) }
        let s = try Tensor.stack([a, a], dim: 1)
        #expect(s.shape == [2, 2, 3])
        #expect(try Tensor.stack([a, a], dim: -1).shape == [2, 3, 2])
        #expect(throws: TensorError.self) { try Tensor.stack([a, b], dim: 0) }
    }

    @Test("sort and topk agree with Swift's sort on random rows", arguments: 0..<8)
    func ordering(seed: Int) throws {
        let g = RandomGenerator(seed: UInt64(seed))
        let n = g.integer(1, 300), rows = g.integer(1, 4)
        let x = try Tensor.randn([rows, n], generator: g)
        let k = g.integer(0, n)
        for largest in [true, false] {
            let (v, i) = try x.topk(k, dim: 1, largest: largest)
            for r in 0..<rows {
                let row = (0..<n).map { try! x.value(at: [r, $0]) }
                let order = row.indices.sorted { largest ? (row[$0], $1) > (row[$1], $0) : (row[$0], $0) < (row[$1], $1) }
                #expect((0..<k).map { try! i.value(at: [r, $0]) } == order.prefix(k).map(Float.init))
                #expect((0..<k).map { try! v.value(at: [r, $0]) } == order.prefix(k).map { row[$0] })
            }
        }
        let (sv, si) = try x.sort(dim: 0, descending: true)
        for c in stride(from: 0, to: n, by: 7) {
            let col = (0..<rows).map { try! x.value(at: [$0, c]) }
            #expect((0..<rows).map { try! sv.value(at: [$0, c]) } == col.sorted(by: >))
            #expect(Set((0..<rows).map { try! si.value(at: [$0, c]) }) == Set((0..<rows).map(Float.init)))
        }
    }

    @Test("printing previews values and truncates large tensors")
    func printing() throws {
        #expect(try Tensor([1, 2.5, -3], shape: [3]).description == "tensor([ 1.0000,  2.5000, -3.0000], shape=[3], dtype=float32)")
        #expect(try Tensor([1, 2, 3, 4], shape: [2, 2]).description == "tensor([[1., 2.],\n        [3., 4.]], shape=[2, 2], dtype=float32)")
        let big = try Tensor.arange(0, 2000).description
        #expect(big.contains("...") && big.contains("1999.") && big.count < 200)
        #expect(try Tensor([1e-6, 1], shape: [2]).description.contains("1.0000e-06"))
    }
}
