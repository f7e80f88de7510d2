import Foundation
import Testing
@testable import DarwinCore

@Suite("elementwise and broadcasting")
struct ElementwiseTests {
    static let references: [BinaryOp: (Double, Double) -> Double] = [
        .add: (+), .sub: (-), .mul: (*), .div: (/), .maximum: { Swift.max($0, $1) }, .minimum: { Swift.min($0, $1) },
    ]

    @Test("binary ops broadcast like NumPy on random shapes", arguments: 0..<24)
    func binaryBroadcast(seed: Int) throws {
        let g = RandomGenerator(seed: UInt64(seed))
        let rank = g.integer(1, 4)
        let out = Reference.shape(g, rank: rank, maxSize: 11)
        // Each operand drops leading dims or sets some dims to 1.
        func operandShape() -> [Int] {
            let keep = g.integer(0, rank)
            return out.suffix(keep).map { g.integer(0, 2) == 0 ? 1 : $0 }
        }
        let a = try Tensor.randn(operandShape(), generator: g)
        let b = try Tensor.randn(operandShape(), generator: g).binary(.add, scalar: 3)  // keep away from 0 for div
        for op in BinaryOp.allCases {
            let r = try a.binary(op, b)
            let expectShape = try Shape.broadcast(a.shape, b.shape, op: "test")
            #expect(r.shape == expectShape)
            let ref = Reference.indices(r.shape).map { Self.references[op]!(Reference.broadcastAt(a, $0), Reference.broadcastAt(b, $0)) }
            #expect(Reference.maxError(r.doubles, ref) < 1e-6, "op \(op) shapes \(a.shape) \(b.shape)")
        }
    }

    @Test("binary ops on transposed and narrowed views")
    func stridedOperands() throws {
        let g = RandomGenerator(seed: 7)
        let base = try Tensor.randn([6, 9], generator: g)
        let a = try base.t().narrow(0, 1, 7)            // [7, 6], non-contiguous
        let b = try Tensor.randn([7, 6], generator: g)
        let r = try a.binary(.mul, b)
        let ref = Reference.indices([7, 6]).map { Reference.at(a, $0) * Reference.at(b, $0) }
        #expect(Reference.maxError(r.doubles, ref) < 1e-6)
    }

    @Test("in-place ops write through views and reject non-broadcastable shapes")
    func inPlace() throws {
        let t = try Tensor.zeros([3, 4])
        let row = try Tensor([1, 2, 3, 4], shape: [4])
        try t.narrow(0, 1, 2).binaryInPlace(.add, row)
        #expect(t.toArray() == [0, 0, 0, 0, 1, 2, 3, 4, 1, 2, 3, 4])
        #expect(throws: TensorError.self) { try row.binaryInPlace(.add, t) }
        t.binaryInPlace(.mul, scalar: 2)
        #expect(try t.value(at: [2, 3]) == 8)
    }

    @Test("in-place op with an overlapping operand reads the original values")
    func overlapping() throws {
        let t = try Tensor([1, 2, 3, 4], shape: [4])
        try t.narrow(0, 1, 3).binaryInPlace(.add, t.narrow(0, 0, 3))
        #expect(t.toArray() == [1, 3, 5, 7])
    }

    @Test("unary functions match libm in float64", arguments: UnaryOp.allCases)
    func unary(op: UnaryOp) throws {
        let g = RandomGenerator(seed: 3)
        var x = try Tensor.randn([5, 37], generator: g)
        if op == .log || op == .sqrt || op == .rsqrt { x = x.unary(.abs).binary(.add, scalar: 0.1) }
        let ref: (Double) -> Double = {
            switch op {
            case .neg: return { -$0 }
            case .abs: return { Swift.abs($0) }
            case .exp: return { Foundation.exp($0) }
            case .log: return { Foundation.log($0) }
            case .sqrt: return { $0.squareRoot() }
            case .rsqrt: return { 1 / $0.squareRoot() }
            case .tanh: return { Foundation.tanh($0) }
            case .sigmoid: return { 1 / (1 + Foundation.exp(-$0)) }
            case .silu: return { $0 / (1 + Foundation.exp(-$0)) }
            case .relu: return { Swift.max($0, 0) }
            case .square: return { $0 * $0 }
            }
        }()
        let y = x.unary(op)
        #expect(Reference.maxError(y.doubles, x.doubles.map(ref)) < 1e-6)
        let z = x.clone().unaryInPlace(op)
        #expect(z.toArray() == y.toArray())
    }

    @Test("large tensors take the threaded path and stay correct")
    func threaded() throws {
        Parallel.threads = 2
        let a = try Tensor.randn([300, 1000]), b = try Tensor.randn([1000])
        let r = try a.binary(.sub, b)
        let ra = a.toArray(), rb = b.toArray(), rr = r.toArray()
        for i in stride(from: 0, to: rr.count, by: 997) { #expect(rr[i] == ra[i] - rb[i % 1000]) }
    }
}
