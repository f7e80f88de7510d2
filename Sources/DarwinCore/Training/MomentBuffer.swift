import CDarwinSupport
import Glibc

/// One optimizer moment of one parameter (AdamW's first or second moment, SGD's momentum): float32, or bfloat16
/// with stochastic rounding, half the memory. Round-to-nearest would lose every small change (a decay by 0.999 of a
/// bf16 value rounds back to the value itself); stochastic rounding keeps each stored value's expectation exact.
final class MomentBuffer {
    /// How moments are stored.
    enum Format: String, Sendable { case float32, bf16 }

    let format: Format
    let count: Int
    private let storage: UnsafeMutableRawPointer

    /// Zeroed storage for `count` values; throws when the memory is not there. The pages are mapped directly rather
    /// than taken from the heap: the state lives as long as the trainer and is made during its first step, between
    /// that step's short-lived buffers, where it would leave holes the heap cannot give back (0.3 GiB at 0.5B).
    init(format: Format, count: Int) throws {
        let width = format == .float32 ? 4 : 2
        guard count >= 0, count <= Int.max / 8 else {
            throw TensorError("optimizer state of \(count) values is too large")
        }
        let raw = mmap(nil, max(count * width, 1), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
        guard let raw, raw != MAP_FAILED else {
            throw TensorError("not enough memory for optimizer state of \(count) values (\(format.rawValue))")
        }
        darwin_advise_huge_pages(raw, count * width)
        self.format = format
        self.count = count
        storage = raw
        LiveTensorCounter.bytes.add(count * width, ordering: .relaxed)
    }

    deinit {
        munmap(storage, max(byteCount, 1))
        LiveTensorCounter.bytes.add(-byteCount, ordering: .relaxed)
    }

    /// Bytes held.
    var byteCount: Int { count * (format == .float32 ? 4 : 2) }

    /// Values per piece handed to `withFloats` bodies for bf16 storage (two pieces fit in L1 cache).
    static let piece = 2048

    /// Calls `body(first, second, offset, n)` for consecutive pieces of the elements in `range`, with float32 views
    /// of both moments (`second` may be nil); bf16 pieces are converted in and rounded back out with `seed`.
    static func withFloats(_ first: MomentBuffer, _ second: MomentBuffer?, range: Range<Int>, seed: UInt64,
                           _ body: (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>?, Int, Int) -> Void) {
        if first.format == .float32 && (second?.format ?? .float32) == .float32 {
            let a = first.storage.assumingMemoryBound(to: Float.self), b = second?.storage.assumingMemoryBound(to: Float.self)
            body(a + range.lowerBound, b.map { $0 + range.lowerBound }, range.lowerBound, range.count)
            return
        }
        let scratch = UnsafeMutablePointer<Float>.allocate(capacity: 2 * piece)
        defer { scratch.deallocate() }
        var offset = range.lowerBound
        while offset < range.upperBound {
            let n = min(piece, range.upperBound - offset)
            let a = first.load(offset, n, into: scratch), b = second?.load(offset, n, into: scratch + piece)
            body(a, b, offset, n)
            first.store(offset, n, from: a, seed: seed)
            second?.store(offset, n, from: b!, seed: seed ^ 0x5851_F42D_4C95_7F2D)
            offset += n
        }
    }

    /// A float32 view of `n` values at `offset`: the storage itself, or `scratch` filled from bf16.
    private func load(_ offset: Int, _ n: Int, into scratch: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<Float> {
        if format == .float32 { return storage.assumingMemoryBound(to: Float.self) + offset }
        HalfPrecision.bf16BitsToFloat(storage.assumingMemoryBound(to: UInt16.self) + offset, scratch, count: n)
        return scratch
    }

    /// Writes back what `load` gave (nothing to do for float32).
    private func store(_ offset: Int, _ n: Int, from values: UnsafeMutablePointer<Float>, seed: UInt64) {
        guard format == .bf16 else { return }
        let bits = storage.assumingMemoryBound(to: UInt16.self) + offset
        for i in 0..<n { bits[i] = MomentBuffer.stochasticBF16(values[i], noise: MomentBuffer.noise(seed, offset + i)) }
    }

    /// float32 to bfloat16, rounded up with probability equal to the dropped fraction (`noise`: 16 random bits).
    @inline(__always)
    static func stochasticBF16(_ v: Float, noise: UInt32) -> UInt16 {
        let bits = v.bitPattern
        if v.isNaN || v.isInfinite { return UInt16(truncatingIfNeeded: bits >> 16) | (v.isNaN ? 0x40 : 0) }
        return UInt16(truncatingIfNeeded: (bits &+ (noise & 0xFFFF)) >> 16)
    }

    /// 16 pseudo-random bits for element `index` of a step (a stateless hash, so results do not depend on threads).
    @inline(__always)
    static func noise(_ seed: UInt64, _ index: Int) -> UInt32 {
        var z = seed &+ UInt64(truncatingIfNeeded: index) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return UInt32(truncatingIfNeeded: z >> 32)
    }
}
