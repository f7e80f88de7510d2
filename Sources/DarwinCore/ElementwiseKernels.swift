/// A binary float operation with a scalar and an 8-lane SIMD form; generic code specialises on it.
protocol BinaryKernel {
    static func apply(_ a: Float, _ b: Float) -> Float
    static func apply8(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float>
}

enum AddKernel: BinaryKernel {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a + b }
    @inline(__always) static func apply8(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a + b }
}
enum SubKernel: BinaryKernel {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a - b }
    @inline(__always) static func apply8(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a - b }
}
enum MulKernel: BinaryKernel {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a * b }
    @inline(__always) static func apply8(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a * b }
}
enum DivKernel: BinaryKernel {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { a / b }
    @inline(__always) static func apply8(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { a / b }
}
enum MaxKernel: BinaryKernel {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { Swift.max(a, b) }
    @inline(__always) static func apply8(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { VectorMath.max(a, b) }
}
enum MinKernel: BinaryKernel {
    @inline(__always) static func apply(_ a: Float, _ b: Float) -> Float { Swift.min(a, b) }
    @inline(__always) static func apply8(_ a: SIMD8<Float>, _ b: SIMD8<Float>) -> SIMD8<Float> { VectorMath.min(a, b) }
}

/// Applies `K` to one row: `out[i*so] = K(a[i*sa], b[i*sb])`, vectorised when the output is unit-stride
/// and each input is unit-stride or a broadcast scalar (stride 0).
@inline(__always)
func binaryRow<K: BinaryKernel>(_: K.Type, _ out: UnsafeMutablePointer<Float>, _ so: Int,
                                _ a: UnsafePointer<Float>, _ sa: Int, _ b: UnsafePointer<Float>, _ sb: Int, _ n: Int) {
    guard so == 1, sa <= 1, sb <= 1 else {
        for i in 0..<n { out[i * so] = K.apply(a[i * sa], b[i * sb]) }
        return
    }
    var i = 0
    let splatA = SIMD8<Float>(repeating: a[0]), splatB = SIMD8<Float>(repeating: b[0])
    while i + 8 <= n {
        let va = sa == 1 ? UnsafeRawPointer(a + i).loadUnaligned(as: SIMD8<Float>.self) : splatA
        let vb = sb == 1 ? UnsafeRawPointer(b + i).loadUnaligned(as: SIMD8<Float>.self) : splatB
        UnsafeMutableRawPointer(out + i).storeBytes(of: K.apply8(va, vb), as: SIMD8<Float>.self)
        i += 8
    }
    while i < n { out[i] = K.apply(a[i * sa], b[i * sb]); i += 1 }
}

/// Runs `K` over broadcast operands, writing into `out` (which has the broadcast shape).
func binaryApply<K: BinaryKernel>(_ k: K.Type, out: Tensor, _ a: Tensor, _ b: Tensor) {
    let sa = Shape.broadcastStrides(shape: a.shape, strides: a.strides, to: out.shape)
    let sb = Shape.broadcastStrides(shape: b.shape, strides: b.strides, to: out.shape)
    let rows = StridedRows(shape: out.shape, strides: [out.strides, sa, sb])
    let po = out.data, pa = UnsafePointer(a.data), pb = UnsafePointer(b.data)
    let n = rows.rowLength, so = rows.innerStride(0), ia = rows.innerStride(1), ib = rows.innerStride(2)
    rows.forEachRowParallel { o, x, y in binaryRow(k, po + o, so, pa + x, ia, pb + y, ib, n) }
}
