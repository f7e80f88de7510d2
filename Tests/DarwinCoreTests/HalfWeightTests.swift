import Foundation
import Testing
@testable import DarwinCore

/// bf16/f16 checkpoints keep their weight matrices in 16 bits; every result must equal the float32 load's.
@Suite("16-bit weights in memory")
struct HalfWeightTests {
    static let bf16 = "llama3_bias_bf16_sharded", f16 = "mistral_f16"

    static func loadBoth(_ family: String) throws -> (half: LanguageModel, float: LanguageModel) {
        (try ModelLoader.load(directory: Fixtures.model(family)), try ModelLoader.load(directory: Fixtures.model(family), keepHalf: false))
    }

    @Test("a 16-bit product tile by tile equals the float32 product of the same values",
          arguments: [HalfMatrix.Format.bf16, .f16])
    func tiledProduct(format: HalfMatrix.Format) throws {
        let g = RandomGenerator(seed: 11)
        let w = try HalfMatrix(rounding: try Tensor.randn([37, 29], generator: g), to: format)
        let x = try Tensor.randn([5, 29], generator: g)
        let expected = try x.matmul(w.floatTensor().t())
        let dy = try Tensor.randn([5, 37], generator: g), expectedBack = try dy.matmul(w.floatTensor())
        for tileRows in [1, 4, 37] {
            let y = Tensor(shape: [5, 37], repeating: 0)
            try WeightProducts.timesTransposed(x.data, rows: 5, Weight(w), into: y.data, ldc: 37, beta: 0, tileRows: tileRows)
            #expect(relativeError(y, expected) < 1e-6, "tile of \(tileRows) rows")
            try WeightProducts.timesTransposed(x.data, rows: 5, Weight(w), into: y.data, ldc: 37, beta: 1, tileRows: tileRows)  // accumulates: 2x
            #expect(relativeError(y, try expected.binary(.mul, scalar: 2)) < 1e-6)
            let dx = Tensor(shape: [5, 29], repeating: 1)
            try WeightProducts.times(dy.data, rows: 5, lda: 37, Weight(w), into: dx.data, beta: 0, tileRows: tileRows)
            #expect(relativeError(dx, expectedBack) < 1e-6, "backward, tile of \(tileRows) rows")
        }
        let rows = [36, 0, 7], columns = [28, 3]
        #expect(try w.selecting(rows: rows).floatTensor().toArray() == (try w.floatTensor().indexSelect(0, rows)).toArray())
        #expect(try w.selecting(columns: columns).floatTensor().toArray() == (try w.floatTensor().indexSelect(1, columns)).toArray())
    }

    @Test("a converted tile has at least 8 times the product's rows, between 32 and 64 MiB of float32")
    func tileSizes() {
        let mib = 1 << 20
        func tileBytes(_ columns: Int, _ rows: Int) -> Int { WeightProducts.tileRows(columns: columns, productRows: rows) * columns * 4 }
        #expect(tileBytes(2048, 1024) == 64 * mib)  // Llama-3.2-1B's MLP, 1024 rows per worker: the whole weight
        #expect(tileBytes(2048, 256) == 32 * mib)
        #expect(tileBytes(2048, 3000) == 64 * mib)  // never above 64 MiB
        #expect(WeightProducts.tileRows(columns: 896, productRows: 110) == (8 << 20) / 896)  // a memory-lean head chunk
        #expect(WeightProducts.tileRows(columns: 4096, productRows: 400) == 8 * 400)
        #expect(WeightProducts.tileRows(columns: 1 << 20, productRows: 1) == 64)  // never below 64 rows
    }

    @Test("bf16 and f16 checkpoints load in 16 bits: half the bytes, the float32 load's logits and fingerprint",
          arguments: [bf16, f16])
    func sameLogits(family: String) throws {
        let (half, float) = try Self.loadBoth(family)
        #expect(half.hasHalfWeights && !float.hasHalfWeights)
        let matrixBytes = { (m: LanguageModel) in m.namedWeights.reduce(0) { total, p in
            if case .matrix(let w) = p.1 { return total + w.byteCount } else { return total }
        } }
        #expect(matrixBytes(half) * 2 == matrixBytes(float))
        #expect(half.fingerprint == float.fingerprint)
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(family))
        let logits = try half.forward(tokens: ids, batch: batch).logits
        #expect(relativeError(logits, try float.forward(tokens: ids, batch: batch).logits) < 1e-6)
        // And against transformers' float32 computation on the same checkpoint.
        #expect(relativeError(logits, try Fixtures.reference(family).tensor("logits")) < 1e-4)
        #expect(half.hasHalfWeights, "evaluation must not convert the weights")
    }

    @Test("saving a 16-bit model writes the same bits back; a padded export stays 16-bit and exact")
    func saveRoundTrip() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (model, _) = try Self.loadBoth(Self.bf16)
        try ModelSaver.save(model, to: dir.path + "/copy", precision: .bf16)
        let copy = try ModelLoader.load(directory: dir.path + "/copy")
        for ((name, a), (_, b)) in zip(model.namedWeights, copy.namedWeights) {
            #expect(a.floatValues().toArray() == b.floatValues().toArray(), "\(name)")
        }
        let pruned = model.clone()
        pruned.blocks[0].attention = try pruned.blocks[0].attention!.keeping(queryHeads: [1, 3])
        pruned.blocks[1].mlp = try pruned.blocks[1].mlp!.keeping(neurons: Array(stride(from: 0, to: pruned.blocks[1].mlp!.width, by: 2)))
        #expect(pruned.blocks[0].attention!.q.half != nil && pruned.blocks[1].mlp!.down.half != nil)
        let padded = try pruned.zeroPadded()
        #expect(padded.hasHalfWeights && padded.blocks[0].attention!.o.half != nil)
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(Self.bf16))
        #expect(relativeError(try padded.forward(tokens: ids, batch: batch).logits, try pruned.forward(tokens: ids, batch: batch).logits) < 1e-6)
    }

    @Test("a database of a 16-bit model stores bf16 and stitches 16-bit units equal to the float32 load's")
    func databaseAndTraining() throws {
        let dir = try TestFiles.tempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let (half, float) = try Self.loadBoth(Self.bf16)
        let db = try DatabaseBuilder(model: half, steps: 4).build(model: half, calibration: DatabaseTests.calibration(half), path: dir.path)
        let genome = Genome(attention: [1, 3, 0], mlp: [2, 0, 4])
        let a = half.clone(), b = float.clone()
        try a.apply(db, genome)
        try b.apply(db, genome)
        #expect(a.blocks[0].attention!.o.half?.format == .bf16 && a.blocks[0].attention!.q.half != nil)
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(Self.bf16))
        #expect(relativeError(try a.forward(tokens: ids, batch: batch).logits, try b.forward(tokens: ids, batch: batch).logits) < 1e-6)
        // Training makes float32 masters of its own; the 16-bit model it came from keeps its weights and bytes.
        let bytes = a.parameterBytes
        let trainer = Trainer(model: a.clone(), settings: OptimizerSettings())
        try trainer.step(tokens: ids, batch: batch)
        #expect(!trainer.model.hasHalfWeights && a.hasHalfWeights && a.parameterBytes == bytes)
        #expect(half.hasHalfWeights)
    }

    /// Parameters of `model` after `steps` training steps with the given settings and parameter filter.
    static func trained(_ model: LanguageModel, _ settings: OptimizerSettings, include: ((String) -> Bool)? = nil,
                        steps: Int = 2) throws -> [String: [Float]] {
        let (ids, batch) = try Fixtures.inputIds(try Fixtures.reference(bf16))
        let trainer = Trainer(model: model.clone(), settings: settings, include: include)
        for _ in 0..<steps { try trainer.step(tokens: ids, batch: batch) }
        return Dictionary(uniqueKeysWithValues: trainer.model.namedWeights.map { ($0.0, $0.1.floatValues().toArray()) })
    }

    @Test("updating each block as its gradients complete equals one update at the end; frozen 16-bit weights train the rest exactly")
    func fusedAndFrozen() throws {
        let (half, float) = try Self.loadBoth(Self.bf16)
        var settings = OptimizerSettings()
        settings.learningRate = 1e-2
        let fused = try Self.trained(float, settings)
        settings.clipNorm = 1e30  // clipping needs all gradients first: one update at the end
        let atEnd = try Self.trained(float, settings)
        for (name, values) in atEnd {
            #expect(relativeError(try Tensor(fused[name]!, shape: [values.count]), try Tensor(values, shape: [values.count])) < 1e-6, "\(name)")
        }
        #expect(fused["model.layers.0.mlp.up_proj.weight"] != (try float.namedWeights.first { $0.0 == "model.layers.0.mlp.up_proj.weight" }!.1.floatValues().toArray()))
        // Train only the MLPs: the 16-bit attention and embeddings stay 16-bit and shared, the gradient flows through them exactly.
        let mlpOnly: (String) -> Bool = { $0.contains("mlp") }
        let trainer = Trainer(model: half.clone(), settings: OptimizerSettings(), include: mlpOnly)
        #expect(trainer.model.embedding === half.embedding && trainer.model.blocks[0].attention!.q === half.blocks[0].attention!.q)
        #expect(trainer.model.blocks[0].attention!.q.half != nil && trainer.model.blocks[0].mlp!.up.half == nil)
        let fromHalf = try Self.trained(half, settings, include: mlpOnly), fromFloat = try Self.trained(float, settings, include: mlpOnly)
        for (name, values) in fromFloat {
            #expect(relativeError(try Tensor(fromHalf[name]!, shape: [values.count]), try Tensor(values, shape: [values.count])) < 1e-5, "\(name)")
        }
        #expect(half.hasHalfWeights && half.weightFormatName == "bfloat16")
    }
}
