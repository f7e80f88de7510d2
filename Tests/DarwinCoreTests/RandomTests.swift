import Testing
@testable import DarwinCore

@Suite("random generator")
struct RandomTests {
    @Test("same seed, same sequence; saved state resumes exactly")
    func reproducible() throws {
        let a = RandomGenerator(seed: 123), b = RandomGenerator(seed: 123)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        let saved = a.state
        let expected = (0..<5).map { _ in a.integer(1, 6) }
        let c = RandomGenerator(seed: 0)
        c.state = saved
        #expect((0..<5).map { _ in c.integer(1, 6) } == expected)
        #expect(RandomGenerator(seed: 1).next() != RandomGenerator(seed: 2).next())
    }

    @Test("normal samples have mean 0 and variance 1; uniform stays in range")
    func moments() throws {
        let g = RandomGenerator(seed: 5)
        let x = try Tensor.randn([200_001], generator: g)
        let mean = x.meanAll(), variance = x.unary(.square).meanAll() - mean * mean
        #expect(Swift.abs(mean) < 0.01 && Swift.abs(variance - 1) < 0.02)
        let u = try Tensor.rand([10_000], generator: g)
        #expect(try u.minAll() >= 0 && u.maxAll() < 1 && Swift.abs(u.meanAll() - 0.5) < 0.02)
        let counts = (0..<6000).reduce(into: [Int](repeating: 0, count: 3)) { acc, _ in acc[g.integer(0, 2)] += 1 }
        #expect(counts.allSatisfy { Swift.abs($0 - 2000) < 200 })
    }
}
