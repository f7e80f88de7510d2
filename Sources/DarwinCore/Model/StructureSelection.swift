/// Keeping a subset of attention heads or MLP neurons: the compact weights of a pruned block.
extension AttentionWeights {
    /// The weights with only the query heads `kept` (indices into this block's heads, in order). KV heads no kept
    /// query head uses are dropped; nil when no head is kept (the block's attention is removed).
    public func keeping(queryHeads kept: [Int]) throws -> AttentionWeights? {
        guard !kept.isEmpty else { return nil }
        if let bad = kept.first(where: { $0 < 0 || $0 >= queryHeads }) {
            throw TensorError("keeping: query head \(bad + 1) out of range 1..\(queryHeads)")
        }
        let hd = headDim
        let usedKV = Array(Set(kept.map { kvOfQuery[$0] })).sorted()
        let newIndexOfKV = Dictionary(uniqueKeysWithValues: usedKV.enumerated().map { ($1, $0) })
        let qRows = kept.flatMap { h in (h * hd)..<((h + 1) * hd) }
        let kvRows = usedKV.flatMap { g in (g * hd)..<((g + 1) * hd) }
        let result = AttentionWeights(
            q: try q.selecting(rows: qRows), k: try k.selecting(rows: kvRows), v: try v.selecting(rows: kvRows),
            o: try o.selecting(columns: qRows),
            qBias: try qBias?.indexSelect(0, qRows), kBias: try kBias?.indexSelect(0, kvRows),
            vBias: try vBias?.indexSelect(0, kvRows), oBias: oBias?.clone(), qNorm: qNorm?.clone(), kNorm: kNorm?.clone(),
            kvOfQuery: kept.map { newIndexOfKV[kvOfQuery[$0]]! }, headDim: hd)
        result.denseHeads = kept.map { denseHeads?[$0] ?? $0 }
        return result
    }
}

extension AttentionWeights {
    /// Parameters of `keeping(queryHeads: kept)` without building it.
    public func parameterCount(keepingQueryHeads kept: [Int]) -> Int {
        guard !kept.isEmpty else { return 0 }
        let hidden = q.shape[1], queryRows = kept.count * headDim, kvRows = Set(kept.map { kvOfQuery[$0] }).count * headDim
        return 2 * queryRows * hidden + 2 * kvRows * hidden + (qBias != nil ? queryRows : 0) + (kBias != nil ? kvRows : 0)
            + (vBias != nil ? kvRows : 0) + (oBias?.count ?? 0) + norms.map(\.count).reduce(0, +)
    }
}

extension MLPWeights {
    /// Parameters of the MLP narrowed to `width` neurons, without building it.
    public func parameterCount(keepingNeurons width: Int) -> Int {
        guard width > 0 else { return 0 }
        return 3 * width * gate.shape[1] + (gateBias != nil ? width : 0) + (upBias != nil ? width : 0) + (downBias?.count ?? 0)
    }

    /// The weights with only the intermediate neurons `kept`; nil when none is kept (the MLP is removed).
    /// Without `copyingDown` the result's `down` is left empty for the caller to set.
    public func keeping(neurons kept: [Int], copyingDown: Bool = true) throws -> MLPWeights? {
        guard !kept.isEmpty else { return nil }
        let result = MLPWeights(gate: try gate.selecting(rows: kept), up: try up.selecting(rows: kept),
                                down: copyingDown ? try down.selecting(columns: kept) : Weight(Tensor(uninitializedShape: [0, 0])),
                                gateBias: try gateBias?.indexSelect(0, kept), upBias: try upBias?.indexSelect(0, kept),
                                downBias: downBias?.clone())
        result.denseNeurons = kept.map { denseNeurons?[$0] ?? $0 }
        return result
    }
}

extension LanguageModel {
    /// Keeps only the structures `kept` (0-based, ascending indices into block `block`'s current query heads or
    /// MLP neurons) of one unit and removes the rest, as incremental pruning methods do on a trained model.
    /// The model no longer corresponds to database levels afterwards (`genome` becomes nil).
    public func keep(block: Int, kind: UnitKind, _ kept: [Int]) throws {
        guard blocks.indices.contains(block) else { throw TensorError("keep: block \(block + 1) out of range 1..\(blocks.count)") }
        if let i = kept.indices.dropFirst().first(where: { kept[$0] <= kept[$0 - 1] }) {
            throw TensorError("keep: indices must be strictly increasing, got \(kept[i - 1] + 1) before \(kept[i] + 1)")
        }
        switch kind {
        case .attention:
            guard let a = blocks[block].attention else {
                if kept.isEmpty { return }
                throw TensorError("keep: block \(block + 1) has no attention left")
            }
            blocks[block].attention = try a.keeping(queryHeads: kept)
        case .mlp:
            guard let m = blocks[block].mlp else {
                if kept.isEmpty { return }
                throw TensorError("keep: block \(block + 1) has no MLP left")
            }
            if let bad = kept.first(where: { $0 < 0 || $0 >= m.width }) { throw TensorError("keep: neuron \(bad + 1) out of range 1..\(m.width)") }
            blocks[block].mlp = try m.keeping(neurons: kept)
        }
        genome = nil
    }
}
