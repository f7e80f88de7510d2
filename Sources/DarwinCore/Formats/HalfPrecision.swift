/// Conversions between float32 and the 16-bit formats found in checkpoints.
enum HalfPrecision {
    /// bfloat16 bits (little-endian) to float32: the bf16 bits are the top half of the float32 bits.
    static func bf16ToFloat(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            let bits = UInt32(src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) << 16
            dst[i] = Float(bitPattern: bits)
        }
    }

    /// Aligned bfloat16 bits to float32, eight at a time.
    static func bf16BitsToFloat(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        var i = 0
        while i + 8 <= count {
            let wide = SIMD8<UInt32>(truncatingIfNeeded: UnsafeRawPointer(src + i).loadUnaligned(as: SIMD8<UInt16>.self)) &<< 16
            UnsafeMutableRawPointer(dst + i).storeBytes(of: wide, as: SIMD8<UInt32>.self)
            i += 8
        }
        while i < count { dst[i] = Float(bitPattern: UInt32(src[i]) << 16); i += 1 }
    }

    /// IEEE half (float16) bits to float32, including subnormals, infinities and NaN.
    static func f16ToFloat(_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, count: Int) {
        for i in 0..<count {
            dst[i] = Float(Float16(bitPattern: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))
        }
    }

    /// float32 to bfloat16 bits with round-to-nearest-even (NaN stays NaN).
    static func floatToBF16(_ v: Float) -> UInt16 {
        if v.isNaN { return 0x7FC0 }
        let bits = v.bitPattern
        let rounding = 0x7FFF + ((bits >> 16) & 1)
        return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
    }
}
