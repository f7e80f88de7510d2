import Foundation

/// Rotary embedding tables: `cos`/`sin` of `position * inv_freq` for positions `0..<length`, `[length, rotary/2]`
/// (`rotary`: the rotated dimensions of a head, all of them unless `partial_rotary_factor` says fewer).
struct RopeTables {
    let length: Int
    let half: Int
    /// Dimensions per head (the rotated ones first, then those passed through).
    let headDim: Int
    let cos: [Float]
    let sin: [Float]

    init(settings: RopeSettings, headDim: Int, length: Int) {
        // As in transformers: inverse frequencies and angles in float32.
        let rotary = settings.rotaryDimensions(headDim: headDim)
        let inv = settings.inverseFrequencies(dim: rotary).map { Float($0) }
        half = rotary / 2
        self.headDim = headDim
        self.length = length
        var c = [Float](repeating: 0, count: length * half), s = c
        for p in 0..<length {
            for i in 0..<half {
                let angle = Float(p) * inv[i]
                c[p * half + i] = Float(Foundation.cos(Double(angle)))
                s[p * half + i] = Float(Foundation.sin(Double(angle)))
            }
        }
        cos = c
        sin = s
    }

    /// Rotates, in place, each head of `x` (`[batch*seq, heads*headDim]` rows, position = firstPosition + row % seq),
    /// with the rotate-half convention of transformers' Llama (on the first `2 * half` dimensions of each head).
    /// `inverse` rotates back (the backward pass).
    func apply(_ x: Tensor, sequenceLength seq: Int, heads: Int, inverse: Bool = false, firstPosition: Int = 0) {
        let sign: Float = inverse ? -1 : 1
        let p = x.data, width = heads * headDim, headDim = headDim
        let rows = x.shape[0]
        cos.withUnsafeBufferPointer { cp in
            sin.withUnsafeBufferPointer { sp in
                let cb = cp.baseAddress!, sb = sp.baseAddress!
                Parallel.forEachChunk(count: rows, minimumChunk: 64) { range in
                    for r in range {
                        let pos = firstPosition + r % seq
                        let cr = cb + pos * half, sr = sb + pos * half
                        for h in 0..<heads {
                            let base = p + r * width + h * headDim
                            for i in 0..<half {
                                let a = base[i], b = base[i + half], sn = sign * sr[i]
                                base[i] = a * cr[i] - b * sn
                                base[i + half] = b * cr[i] + a * sn
                            }
                        }
                    }
                }
            }
        }
    }
}

extension LanguageModel {
    /// RoPE tables covering at least `length` positions (cached; safe to call from several threads).
    func ropeTables(length: Int) -> RopeTables {
        ropeCache.withLock { cache in
            if let cached = cache, cached.length >= length { return cached }
            let tables = RopeTables(settings: config.rope, headDim: config.headDim, length: max(length, 64))
            cache = tables
            return tables
        }
    }
}
