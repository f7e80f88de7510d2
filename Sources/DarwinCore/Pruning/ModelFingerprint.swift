import CZlib

extension LanguageModel {
    /// CRC-32 (hex) over the architecture fields and every parameter, identifying the dense model a database
    /// was built from. Computed once, before any pruned variant is applied.
    public var fingerprint: String {
        if let cached = fingerprintCache { return cached }
        var crc = crc32(0, nil, 0)
        let c = config
        let header = "\(c.architecture.rawValue) \(c.vocabSize) \(c.hiddenSize) \(c.intermediateSize) \(c.layerCount) \(c.headCount) \(c.kvHeadCount) \(c.headDim)"
        crc = header.utf8CString.withUnsafeBufferPointer { p in p.withMemoryRebound(to: UInt8.self) { crc32(crc, $0.baseAddress, UInt32($0.count)) } }
        // The float32 values, whatever the storage: a model loaded in 16 bits has the fingerprint of its float32 load.
        func add(_ t: Tensor?) {
            guard let t else { return }
            let x = t.contiguous()
            crc = UnsafeRawPointer(x.data).withMemoryRebound(to: UInt8.self, capacity: x.count * 4) { crc32(crc, $0, UInt32(x.count * 4)) }
        }
        func add(_ w: Weight) {
            guard let half = w.half else { add(w.tensor); return }
            let rowsPerTile = max(1, WeightProducts.tileElements / max(half.columns, 1))
            let tile = Tensor(uninitializedShape: [min(rowsPerTile, half.rows), half.columns])
            for start in stride(from: 0, to: half.rows, by: rowsPerTile) {
                let rows = min(rowsPerTile, half.rows - start)
                half.convertRows(start..<(start + rows), into: tile.data)
                add(try? tile.narrow(0, 0, rows))
            }
        }
        add(embedding); add(finalNorm); if !tiedEmbeddings { add(lmHead) }
        for b in blocks {
            add(b.inputNorm); add(b.postAttentionNorm)
            if let a = b.attention { a.weights.forEach(add); [a.qBias, a.kBias, a.vBias, a.oBias].forEach(add) }
            if let m = b.mlp { m.weights.forEach(add); [m.gateBias, m.upBias, m.downBias].forEach(add) }
        }
        let hex = String(crc, radix: 16)
        fingerprintCache = String(repeating: "0", count: 8 - hex.count) + hex
        return fingerprintCache!
    }
}

/// CRC-32 (hex) of token id sequences.
func tokensFingerprint(_ sequences: [[Int32]]) -> String {
    var crc = crc32(0, nil, 0)
    for s in sequences { s.withUnsafeBytes { crc = crc32(crc, $0.baseAddress!.assumingMemoryBound(to: UInt8.self), UInt32($0.count)) } }
    return String(crc, radix: 16)
}

/// CRC-32 of bytes.
func checksum(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    UInt32(crc32(0, bytes.baseAddress?.assumingMemoryBound(to: UInt8.self), UInt32(bytes.count)))
}
