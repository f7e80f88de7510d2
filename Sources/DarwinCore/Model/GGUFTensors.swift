/// The tensors of a GGUF export, in llama.cpp's names, and where each one's values come from: a parameter of the
/// model seen through row and column maps (heads reordered, padded or copied; rotary dimensions interleaved), or
/// values computed here. Filled chunk by chunk in order, so a 16-bit model is never held in float32 whole.
final class GGUFTensors {
    /// Where a written tensor's values come from.
    struct Source {
        /// The parameter read (nil: zeros, or `values`).
        var parameter: ModelParameter?
        /// For each written row (element of a vector), the parameter's row (nil: zeros); nil: the same rows.
        var rows: [Int?]? = nil
        /// For each written column, the parameter's column (nil: zeros); nil: the same columns.
        var columns: [Int?]? = nil
        /// Values computed for the file (rotary frequency factors).
        var values: [Float]? = nil
    }

    private(set) var entries: [GGUFWriter.Entry] = []
    private var sources: [Source] = []
    /// Tensors stored in another type than asked for, in words.
    private(set) var notes: [String] = []

    init(model: LanguageModel, layouts: [GGUFBlockLayout], type: GGMLType, permuteRotary: Bool) throws {
        let c = model.config, d = c.headDim, hidden = c.hiddenSize
        var fallbacks: [String] = []
        func add(_ name: String, _ shape: [Int], _ source: Source) {
            var t = shape.count == 1 ? GGMLType.f32 : type
            if shape.count == 2, shape[1] % t.blockSize != 0 { t = .f16; fallbacks.append(name) }
            entries.append(GGUFWriter.Entry(name: name, shape: shape, type: t))
            sources.append(source)
        }
        add("token_embd.weight", model.embedding.shape, Source(parameter: .matrix(model.embedding)))
        add("output_norm.weight", [hidden], Source(parameter: .vector(model.finalNorm)))
        if !model.tiedEmbeddings { add("output.weight", model.lmHead.shape, Source(parameter: .matrix(model.lmHead))) }
        if case .llama3 = c.rope.scaling {
            // llama.cpp divides each frequency by its factor: the unscaled frequency over the scaled one.
            let unscaled = RopeSettings(theta: c.rope.theta, scaling: .none).inverseFrequencies(dim: d)
            add("rope_freqs.weight", [d / 2], Source(values: zip(unscaled, c.rope.inverseFrequencies(dim: d)).map { Float($0 / $1) }))
        }
        /// Row `i` of a head in the written layout reads row `rotary(i)` of the source head: llama.cpp's `llama`
        /// graph rotates adjacent pairs (x0, x1), transformers rotates halves (x0, x_{d/2}).
        func rotary(_ i: Int) -> Int { permuteRotary ? (i % 2) * (d / 2) + i / 2 : i }
        func headRows(_ heads: [Int?], _ within: (Int) -> Int) -> [Int?] {
            heads.flatMap { head in (0..<d).map { i in head.map { $0 * d + within(i) } } }
        }
        for (index, (block, layout)) in zip(model.blocks, layouts).enumerated() {
            let prefix = "blk.\(index)."
            if layout.heads > 0 {
                let a = block.attention
                let q = headRows(layout.queries, rotary), k = headRows(layout.keyValues, rotary), v = headRows(layout.keyValues, { $0 })
                let o = headRows(layout.queries, { $0 })
                add(prefix + "attn_norm.weight", [hidden], Source(parameter: .vector(block.inputNorm)))
                add(prefix + "attn_q.weight", [q.count, hidden], Source(parameter: a.map { .matrix($0.q) }, rows: q))
                add(prefix + "attn_k.weight", [k.count, hidden], Source(parameter: a.map { .matrix($0.k) }, rows: k))
                add(prefix + "attn_v.weight", [v.count, hidden], Source(parameter: a.map { .matrix($0.v) }, rows: v))
                add(prefix + "attn_output.weight", [hidden, o.count], Source(parameter: a.map { .matrix($0.o) }, columns: o))
                for (name, bias, rows) in [("attn_q", a?.qBias, q), ("attn_k", a?.kBias, k), ("attn_v", a?.vBias, v)] {
                    if let bias { add(prefix + name + ".bias", [rows.count], Source(parameter: .vector(bias), rows: rows)) }
                }
                if let bias = a?.oBias { add(prefix + "attn_output.bias", [hidden], Source(parameter: .vector(bias))) }
                for (name, norm) in [("attn_q_norm", a?.qNorm), ("attn_k_norm", a?.kNorm)] {
                    if let norm { add(prefix + name + ".weight", [d], Source(parameter: .vector(norm))) }
                }
            }
            if layout.mlpWidth > 0 {
                let m = block.mlp, width = layout.mlpWidth, neurons = (0..<width).map { $0 < (m?.width ?? 0) ? Optional($0) : nil }
                add(prefix + "ffn_norm.weight", [hidden], Source(parameter: .vector(block.postAttentionNorm)))
                add(prefix + "ffn_gate.weight", [width, hidden], Source(parameter: m.map { .matrix($0.gate) }, rows: neurons))
                add(prefix + "ffn_up.weight", [width, hidden], Source(parameter: m.map { .matrix($0.up) }, rows: neurons))
                add(prefix + "ffn_down.weight", [hidden, width], Source(parameter: m.map { .matrix($0.down) }, columns: neurons))
                if let bias = m?.gateBias { add(prefix + "ffn_gate.bias", [width], Source(parameter: .vector(bias), rows: neurons)) }
                if let bias = m?.upBias { add(prefix + "ffn_up.bias", [width], Source(parameter: .vector(bias), rows: neurons)) }
                if let bias = m?.downBias { add(prefix + "ffn_down.bias", [hidden], Source(parameter: .vector(bias))) }
            }
        }
        if !fallbacks.isEmpty {
            notes.append("\(fallbacks.count) tensor(s) stored as f16, their rows not being a multiple of 32 (\(type.name) needs that): " + fallbacks.prefix(4).joined(separator: ", ") + (fallbacks.count > 4 ? ", ..." : ""))
        }
    }

    /// Where the current tensor's next chunk starts.
    private var cursor = (index: -1, element: 0)
    /// The source row read last (a written row spans chunks at most twice).
    private var row = (index: -1, parameter: -1, values: [Float]())

    /// Writes the next `chunk.count` values of tensor `index` into `chunk`, a row segment at a time.
    func fill(_ index: Int, _ chunk: UnsafeMutableBufferPointer<Float>) {
        if index != cursor.index { cursor = (index, 0) }
        let shape = entries[index].shape, columns = shape.count == 2 ? shape[1] : 1
        var offset = 0
        while offset < chunk.count {
            let element = cursor.element + offset, column = element % columns, n = min(columns - column, chunk.count - offset)
            writeRow(index, row: element / columns, columns: column..<(column + n), into: chunk.baseAddress! + offset)
            offset += n
        }
        cursor.element += chunk.count
    }

    /// Columns `range` of row `r` of written tensor `tensor`.
    private func writeRow(_ tensor: Int, row r: Int, columns range: Range<Int>, into out: UnsafeMutablePointer<Float>) {
        let source = sources[tensor]
        if let values = source.values { out.pointee = values[r]; return }
        guard let parameter = source.parameter, let sourceRow = source.rows.map({ $0[r] }) ?? r else {
            out.update(repeating: 0, count: range.count)
            return
        }
        switch parameter {
        case .vector(let t): out.pointee = t.contiguous().data[sourceRow]
        case .matrix(let w):
            if row.index != sourceRow || row.parameter != tensor {
                let width = w.shape[1]
                if row.values.count < width { row.values = [Float](repeating: 0, count: width) }
                row.values.withUnsafeMutableBufferPointer { w.convertRows(sourceRow..<(sourceRow + 1), into: $0.baseAddress!) }
                row.index = sourceRow; row.parameter = tensor
            }
            for (k, column) in range.enumerated() {
                out[k] = (source.columns.map { $0[column] } ?? column).map { row.values[$0] } ?? 0
            }
        }
    }
}
