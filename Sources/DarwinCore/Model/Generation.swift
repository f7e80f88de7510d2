import Foundation

/// The keys and values of the positions a sequence has so far, per block: what incremental decoding attends to
/// instead of recomputing the whole prefix for every new token.
public final class KVCache {
    /// Per block: `[positions, kvHeads * headDim]` rows of rotated keys, and of values (empty for a removed attention).
    var keys: [[Float]], values: [[Float]]
    /// Positions cached.
    public private(set) var length = 0

    /// An empty cache for a model of `blocks` blocks.
    public init(blocks: Int) {
        keys = Array(repeating: [], count: blocks)
        values = Array(repeating: [], count: blocks)
    }

    func advance(by n: Int) { length += n }
}

/// How `generate` picks each next token.
public struct SamplingSettings {
    /// 0: greedy (argmax); otherwise logits are divided by it before sampling.
    public var temperature = 0.0
    /// Sample among the `topK` most likely tokens only (nil: all).
    public var topK: Int?
    /// Sample among the smallest set of most likely tokens whose probability reaches `topP` (1: all).
    public var topP = 1.0
    /// Seed of the sampling generator.
    public var seed: UInt64 = 0
    public init() {}
}

extension LanguageModel {
    /// Continues `prompt` by up to `maxTokens` tokens, stopping after any token of `stop`; returns the new tokens.
    /// The prompt is run once and every new token then costs one position's work against the key/value cache.
    public func generate(prompt: [Int32], maxTokens: Int, sampling: SamplingSettings = SamplingSettings(),
                         stop: Set<Int32> = []) throws -> [Int32] {
        guard !prompt.isEmpty else { throw TensorError("generate: the prompt has no tokens") }
        guard maxTokens >= 0 else { throw TensorError("generate: max_tokens must be >= 0, got \(maxTokens)") }
        let cache = KVCache(blocks: blocks.count)
        let generator = RandomGenerator(seed: sampling.seed)
        var logits = try decode(prompt, cache: cache)
        var out: [Int32] = []
        while out.count < maxTokens {
            let next = Int32(try Self.pick(logits, sampling, generator))
            out.append(next)
            if stop.contains(next) || out.count == maxTokens { break }
            logits = try decode([next], cache: cache)
        }
        return out
    }

    /// Runs `tokens` as the positions after those in `cache` (which it extends); returns the logits of the last one.
    public func decode(_ tokens: [Int32], cache: KVCache) throws -> [Float] {
        let n = tokens.count, start = cache.length
        let x = try embed(tokens)
        let rope = ropeTables(length: start + n)
        for (i, block) in blocks.enumerated() {
            try Interrupt.check()
            if let a = block.attention {
                let (q, k, v) = try queryKeyValue(a, LayerKernels.rmsNorm(x, block.inputNorm, eps: config.rmsNormEps), seq: n,
                                                  rope: rope, firstPosition: start)
                cache.keys[i].append(contentsOf: UnsafeBufferPointer(start: k.data, count: k.count))
                cache.values[i].append(contentsOf: UnsafeBufferPointer(start: v.data, count: v.count))
                let context = Self.cachedAttention(q: q, keys: cache.keys[i], values: cache.values[i], kvOfQuery: a.kvOfQuery,
                                                   kvWidth: k.shape[1], headDim: a.headDim, firstPosition: start, window: block.window)
                try LayerKernels.linear(context, a.o, a.oBias, addingInto: x)
            }
            if let m = block.mlp { try mlpForward(m, normedBy: block.postAttentionNorm, into: x) }
        }
        cache.advance(by: n)
        let last = LayerKernels.rmsNorm(try x.narrow(0, n - 1, 1).contiguous(), finalNorm, eps: config.rmsNormEps)
        return try LayerKernels.linear(last, lmHead, nil).toArray()
    }

    /// Causal attention of the new query rows `q` (`[n, heads*headDim]`, positions firstPosition...) over every cached
    /// position up to each row's own, within a sliding `window` when given (softmax in float64 sums, as the batched
    /// kernels).
    static func cachedAttention(q: Tensor, keys: [Float], values: [Float], kvOfQuery: [Int], kvWidth width: Int, headDim hd: Int,
                                firstPosition: Int, window: Int? = nil) -> Tensor {
        let n = q.shape[0], nq = kvOfQuery.count
        let out = Tensor(shape: [n, nq * hd], repeating: 0)
        let scale = Float(1 / Double(hd).squareRoot())
        keys.withUnsafeBufferPointer { kp in
            values.withUnsafeBufferPointer { vp in
                let kb = kp.baseAddress!, vb = vp.baseAddress!
                Parallel.forEachChunk(count: n * nq, minimumChunk: 4) { range in
                    var scores = [Float](repeating: 0, count: firstPosition + n)
                    for pair in range {
                        let r = pair / nq, head = pair % nq, g = kvOfQuery[head], visible = firstPosition + r + 1
                        let from = LayerKernels.firstKey(visible - 1, window: window)
                        let query = q.data + r * nq * hd + head * hd, context = out.data + r * nq * hd + head * hd
                        var top = -Float.infinity
                        for t in from..<visible {
                            let key = kb + t * width + g * hd
                            var dot: Float = 0
                            for d in 0..<hd { dot += query[d] * key[d] }
                            scores[t] = dot * scale
                            top = max(top, scores[t])
                        }
                        var total = 0.0
                        for t in from..<visible { scores[t] = Foundation.exp(scores[t] - top); total += Double(scores[t]) }
                        let inverse = Float(1 / total)
                        for t in from..<visible {
                            let weight = scores[t] * inverse, value = vb + t * width + g * hd
                            for d in 0..<hd { context[d] += weight * value[d] }
                        }
                    }
                }
            }
        }
        return out
    }

    /// The next token from `logits`: the argmax at temperature 0, else a sample within top-k / top-p.
    static func pick(_ logits: [Float], _ s: SamplingSettings, _ generator: RandomGenerator) throws -> Int {
        guard s.temperature > 0 else { return logits.indices.max { logits[$0] < logits[$1] } ?? 0 }
        var order = logits.indices.sorted { logits[$0] > logits[$1] }
        if let k = s.topK, k > 0 { order = Array(order.prefix(k)) }
        let top = Double(logits[order[0]])
        var probabilities = order.map { Foundation.exp((Double(logits[$0]) - top) / s.temperature) }
        let total = probabilities.reduce(0, +)
        probabilities = probabilities.map { $0 / total }
        if s.topP < 1 {
            var mass = 0.0, keep = 0
            while keep < probabilities.count && mass < s.topP { mass += probabilities[keep]; keep += 1 }
            order = Array(order.prefix(max(keep, 1)))
            probabilities = Array(probabilities.prefix(max(keep, 1))).map { $0 / mass }
        }
        var u = generator.uniform()
        for (token, p) in zip(order, probabilities) {
            u -= p
            if u < 0 { return token }
        }
        return order.last!
    }
}
