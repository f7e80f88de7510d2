/// A pruned model expanded back to the dense shapes, removed structures filled with zeros: the form
/// `transformers` loads as is, computing the same logits as the pruned model.
extension LanguageModel {
    /// A model with the dense architecture whose weights reproduce this pruned model exactly.
    public func zeroPadded() throws -> LanguageModel {
        let c = config, hd = c.headDim, h = c.hiddenSize, groups = c.headCount / c.kvHeadCount
        /// A padded matrix in the model's weight format (16-bit models stay 16-bit; the values are exact).
        func stored(_ t: Tensor) throws -> Weight { try embedding.sameFormat(t) }
        let blocks = try self.blocks.map { b -> TransformerBlock in
            let q = Tensor(shape: [c.headCount * hd, h], repeating: 0), k = Tensor(shape: [c.kvHeadCount * hd, h], repeating: 0)
            let v = Tensor(shape: [c.kvHeadCount * hd, h], repeating: 0), o = Tensor(shape: [h, c.headCount * hd], repeating: 0)
            func zeros(_ n: Int, _ present: Bool) -> Tensor? { present ? Tensor(shape: [n], repeating: 0) : nil }
            let qb = zeros(c.headCount * hd, c.qkvBias), kb = zeros(c.kvHeadCount * hd, c.qkvBias)
            let vb = zeros(c.kvHeadCount * hd, c.qkvBias), ob = zeros(h, c.outputBias)
            if let a = b.attention {
                // One block's weights at a time in float32, stored back in the model's format below.
                let aq = a.q.floatValues(), ak = a.k.floatValues(), av = a.v.floatValues(), ao = a.o.floatValues()
                let dense = a.denseHeads ?? Array(0..<a.queryHeads)
                for (i, d) in dense.enumerated() {
                    _ = try q.narrow(0, d * hd, hd).copy(from: aq.narrow(0, i * hd, hd))
                    _ = try o.narrow(1, d * hd, hd).copy(from: ao.narrow(1, i * hd, hd))
                    if let qb, let src = a.qBias { _ = try qb.narrow(0, d * hd, hd).copy(from: src.narrow(0, i * hd, hd)) }
                    let g = d / groups, local = a.kvOfQuery[i]
                    _ = try k.narrow(0, g * hd, hd).copy(from: ak.narrow(0, local * hd, hd))
                    _ = try v.narrow(0, g * hd, hd).copy(from: av.narrow(0, local * hd, hd))
                    if let kb, let src = a.kBias { _ = try kb.narrow(0, g * hd, hd).copy(from: src.narrow(0, local * hd, hd)) }
                    if let vb, let src = a.vBias { _ = try vb.narrow(0, g * hd, hd).copy(from: src.narrow(0, local * hd, hd)) }
                }
                if let ob, let src = a.oBias { _ = try ob.copy(from: src) }
            }
            let w = c.intermediateSize
            let gate = Tensor(shape: [w, h], repeating: 0), up = Tensor(shape: [w, h], repeating: 0), down = Tensor(shape: [h, w], repeating: 0)
            let gb = zeros(w, c.mlpBias), ub = zeros(w, c.mlpBias), db = zeros(h, c.mlpBias)
            if let m = b.mlp {
                let mg = m.gate.floatValues(), mu = m.up.floatValues(), md = m.down.floatValues()
                for (i, d) in (m.denseNeurons ?? Array(0..<m.width)).enumerated() {
                    _ = try gate.narrow(0, d, 1).copy(from: mg.narrow(0, i, 1))
                    _ = try up.narrow(0, d, 1).copy(from: mu.narrow(0, i, 1))
                    _ = try down.narrow(1, d, 1).copy(from: md.narrow(1, i, 1))
                    if let gb, let src = m.gateBias { gb.data[d] = src.data[i] }
                    if let ub, let src = m.upBias { ub.data[d] = src.data[i] }
                }
                if let db, let src = m.downBias { _ = try db.copy(from: src) }
            }
            // A removed attention still needs its q/k norm weights in the dense layout (its o_proj is zero: any value works).
            let qNorm = b.attention?.qNorm ?? (c.queryKeyNorm ? Tensor(shape: [hd], repeating: 1) : nil)
            let kNorm = b.attention?.kNorm ?? (c.queryKeyNorm ? Tensor(shape: [hd], repeating: 1) : nil)
            return TransformerBlock(
                inputNorm: b.inputNorm, postAttentionNorm: b.postAttentionNorm,
                attention: AttentionWeights(q: try stored(q), k: try stored(k), v: try stored(v), o: try stored(o), qBias: qb, kBias: kb,
                                            vBias: vb, oBias: ob, qNorm: qNorm, kNorm: kNorm,
                                            kvOfQuery: (0..<c.headCount).map { $0 / groups }, headDim: hd),
                mlp: MLPWeights(gate: try stored(gate), up: try stored(up), down: try stored(down), gateBias: gb, upBias: ub, downBias: db),
                window: b.window)
        }
        let padded = LanguageModel(config: config, embedding: embedding, blocks: blocks, finalNorm: finalNorm, lmHead: lmHead)
        padded.source = source
        return padded
    }
}
