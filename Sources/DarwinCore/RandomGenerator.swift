import Foundation

/// A seedable xoshiro256** generator whose full state can be saved and restored
/// (so a resumed search continues the exact random sequence).
public final class RandomGenerator {
    private var s: (UInt64, UInt64, UInt64, UInt64) = (0, 0, 0, 0)

    /// A generator seeded deterministically from `seed` (SplitMix64 expansion).
    public init(seed: UInt64) { reseed(seed) }

    /// Restarts the sequence from `seed`.
    public func reseed(_ seed: UInt64) {
        var x = seed
        func splitmix() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s = (splitmix(), splitmix(), splitmix(), splitmix())
    }

    /// The four state words, for saving.
    public var state: [UInt64] {
        get { [s.0, s.1, s.2, s.3] }
        set { precondition(newValue.count == 4); s = (newValue[0], newValue[1], newValue[2], newValue[3]) }
    }

    /// Next raw 64-bit value.
    @inline(__always) public func next() -> UInt64 {
        let result = ((s.1 &* 5) << 7 | (s.1 &* 5) >> 57) &* 9
        let t = s.1 << 17
        s.2 ^= s.0; s.3 ^= s.1; s.1 ^= s.2; s.0 ^= s.3; s.2 ^= t
        s.3 = (s.3 << 45) | (s.3 >> 19)
        return result
    }

    /// Uniform double in [0, 1) with 53 random bits.
    @inline(__always) public func uniform() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// Uniform integer in `lo...hi`.
    public func integer(_ lo: Int, _ hi: Int) -> Int {
        precondition(lo <= hi)
        let span = UInt64(hi - lo) &+ 1
        if span == 0 { return Int(bitPattern: UInt(next())) }
        // Lemire's nearly-divisionless method would be faster; rejection keeps it exactly uniform and simple.
        let limit = UInt64.max - UInt64.max % span
        var v = next()
        while v >= limit { v = next() }
        return lo + Int(v % span)
    }

    /// Fills `buffer` with uniform values in [lo, hi).
    public func fillUniform(_ buffer: UnsafeMutableBufferPointer<Float>, lo: Float = 0, hi: Float = 1) {
        for i in buffer.indices { buffer[i] = lo + (hi - lo) * Float(uniform()) }
    }

    /// Fills `buffer` with normal values (Box-Muller on pairs).
    public func fillNormal(_ buffer: UnsafeMutableBufferPointer<Float>, mean: Float = 0, std: Float = 1) {
        var i = 0
        while i < buffer.count {
            let u1 = max(uniform(), 0x1.0p-60), u2 = uniform()
            let r = (-2 * Foundation.log(u1)).squareRoot()
            buffer[i] = mean + std * Float(r * cos(2 * .pi * u2))
            if i + 1 < buffer.count { buffer[i + 1] = mean + std * Float(r * sin(2 * .pi * u2)) }
            i += 2
        }
    }

    /// The process-wide default generator (seed with `tensor.manual_seed`).
    nonisolated(unsafe) public static let shared = RandomGenerator(seed: 42)
}
