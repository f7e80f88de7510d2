import DarwinCore
import Foundation

/// Model-level benchmarks on a darwin-pycode-16m-shaped Llama (8 blocks, hidden 384, 12/4 heads, MLP 1024,
/// vocab 8192): the shared checkpoint when present, else random weights of the same shape.
enum ModelBenchmarks {
    static func referenceModel() throws -> (LanguageModel, String) {
        let shared = "../shared/models/darwin-pycode-16m"
        if FileManager.default.fileExists(atPath: shared + "/config.json") {
            return (try ModelLoader.load(directory: shared), "darwin-pycode-16m")
        }
        return (try LanguageModel.random(vocab: 8192, hidden: 384, layers: 8, heads: 12, kvHeads: 4, intermediate: 1024, headDim: 32),
                "random 16m-shaped Llama")
    }

    /// Forward tokens/s and useful GFLOP/s against the sgemm ceiling measured in the same run.
    static func forward(batch: Int, seq: Int, repeats: Int) throws -> [BenchRow] {
        let (model, name) = try referenceModel()
        let ceiling = try sgemmCeiling(size: 1024, repeats: 9)
        let g = RandomGenerator(seed: 1)
        let tokens = (0..<(batch * seq)).map { _ in Int32(g.integer(0, model.config.vocabSize - 1)) }
        let seconds = try medianSeconds(repeats: repeats) { _ = try model.forward(tokens: tokens, batch: batch) }
        let sequences = (0..<batch).map { Array(tokens[($0 * seq)..<(($0 + 1) * seq)]) }
        let targets = try model.targets(sequences, topK: 64, batchSize: batch)
        let klSeconds = try medianSeconds(repeats: repeats) { _ = try model.klDivergence(sequences, to: targets, batchSize: batch) }
        let flops = model.forwardFlops(batch: batch, seq: seq)
        // The KL path computes 64 logits per position instead of the vocabulary projection.
        let projection = 2 * Double(batch * seq * model.config.hiddenSize)
        let klFlops = flops - projection * Double(model.config.vocabSize) + projection * 64
        return [
            BenchRow(name: "sgemm 1024^3 direct (ceiling)", value: ceiling, unit: "GFLOP/s", baseline: ceiling),
            BenchRow(name: "forward \(batch)x\(seq), \(name)", value: Double(batch * seq) / seconds, unit: "tok/s", baseline: Double(batch * seq) / seconds),
            BenchRow(name: "forward useful FLOP rate", value: flops / seconds / 1e9, unit: "GFLOP/s", baseline: ceiling),
            BenchRow(name: "KL to top-64 targets \(batch)x\(seq)", value: Double(batch * seq) / klSeconds, unit: "tok/s", baseline: Double(batch * seq) / seconds),
            BenchRow(name: "KL useful FLOP rate", value: klFlops / klSeconds / 1e9, unit: "GFLOP/s", baseline: ceiling),
        ] + (try attention(model, batch: batch, seq: seq))
          + (try candidate(model, sequences: sequences, targets: targets, denseSeconds: klSeconds, repeats: repeats))
          + (try database(model, sequences: sequences, forwardSeconds: seconds))
          + (try training(model, tokens: tokens, batch: batch, seq: seq, repeats: repeats, ceiling: ceiling))
    }

    /// Generation of `count` tokens after a `prompt`-token prompt: with the key/value cache against recomputing the
    /// whole sequence with a full forward pass for every new token (the baseline), per generated token.
    static func generation(prompt: Int, count: Int) throws -> [BenchRow] {
        let (model, name) = try referenceModel()
        let g = RandomGenerator(seed: 2)
        let ids = (0..<prompt).map { _ in Int32(g.integer(0, model.config.vocabSize - 1)) }
        _ = try model.generate(prompt: ids, maxTokens: 4)  // warm up (first-call allocations)
        let cached = try seconds { _ = try model.generate(prompt: ids, maxTokens: count) }
        // The steps after the prompt alone: one position each against the cache.
        let cache = KVCache(blocks: model.blocks.count)
        var logits = try model.decode(ids, cache: cache)
        let steps = try seconds {
            for _ in 0..<count {
                let next = Int32(logits.indices.max { logits[$0] < logits[$1] }!)
                logits = try model.decode([next], cache: cache)
            }
        }
        let full = try seconds {
            var sequence = ids
            for _ in 0..<count {
                let logits = try model.forward(tokens: sequence, batch: 1).logits.toArray()
                let last = logits[(logits.count - model.config.vocabSize)...]
                sequence.append(Int32(last.indices.max { last[$0] < last[$1] }! - last.startIndex))
            }
        }
        return [BenchRow(name: "generate \(count) tokens after \(prompt), \(name): cached, prompt included (base: full forward per token)",
                         value: Double(count) / cached, unit: "tok/s", baseline: Double(count) / full),
                BenchRow(name: "  per new token after the prompt: one cached step (base: full forward per token)",
                         value: Double(count) / steps, unit: "tok/s", baseline: Double(count) / full)]
    }

    /// One layer's causal attention at the model's shape: time of each fused kernel the CPU runs as a ratio to the sgemm path.
    static func attention(_ model: LanguageModel, batch: Int, seq: Int) throws -> [BenchRow] {
        let c = model.config
        let t = try AttentionBenchmark.time(batch: batch, seq: seq, heads: c.headCount, kvHeads: c.kvHeadCount, headDim: c.headDim, rounds: 10)
        guard !t.fused.isEmpty else {
            return [BenchRow(name: "attention layer, sgemm path (no AVX2; time)", value: t.sgemm * 1e3, unit: "ms", baseline: t.sgemm * 1e3)]
        }
        return t.fused.map { BenchRow(name: "attention layer, fused \($0.name) / sgemm path (time)", value: $0.seconds * 1e3, unit: "ms", baseline: t.sgemm * 1e3) }
    }

    /// KL evaluation of a candidate with half of every block's heads and MLP neurons (the search's typical
    /// 50% level), as a fraction of the dense model's time.
    static func candidate(_ model: LanguageModel, sequences: [[Int32]], targets: TargetDistribution, denseSeconds: Double,
                          repeats: Int) throws -> [BenchRow] {
        let half = model.clone()
        for (i, b) in half.blocks.enumerated() {
            if let a = b.attention { try half.keep(block: i, kind: .attention, Array(0..<(a.queryHeads / 2))) }
            if let m = b.mlp { try half.keep(block: i, kind: .mlp, Array(0..<(m.width / 2))) }
        }
        // Dense and candidate calls alternate and the row reports the median of the per-pair time ratios (this
        // machine's speed drifts within seconds), printed against the dense time of the KL row above.
        _ = try half.klDivergence(sequences, to: targets, batchSize: sequences.count)
        var ratios: [Double] = []
        for _ in 0..<max(3, repeats) {
            let candidate = try seconds { _ = try half.klDivergence(sequences, to: targets, batchSize: sequences.count) }
            let dense = try seconds { _ = try model.klDivergence(sequences, to: targets, batchSize: sequences.count) }
            ratios.append(candidate / dense)
        }
        ratios.sort()
        return [BenchRow(name: "KL, 50% heads+neurons candidate (time)", value: ratios[ratios.count / 2] * denseSeconds, unit: "s", baseline: denseSeconds)]
    }

    /// Compression-database build for one block (calibration: the benchmark batch) and stitching that block's
    /// pruned attention and MLP back from disk; times as ratios to one forward pass of the batch.
    static func database(_ model: LanguageModel, sequences: [[Int32]], forwardSeconds: Double) throws -> [BenchRow] {
        let path = NSTemporaryDirectory() + "darwin-bench-database-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: path) }
        var builder = DatabaseBuilder(model: model)
        builder.maxNewBlocks = 1
        let start = DispatchTime.now().uptimeNanoseconds
        let db = try builder.build(model: model, calibration: sequences, path: path)
        let build = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        let attention = db.levels(.attention).count / 2, mlp = db.levels(.mlp).count / 2
        let stitch = try medianSeconds(repeats: 5) {
            _ = try db.attention(block: 0, level: attention, dense: model.blocks[0].attention!)
            _ = try db.mlp(block: 0, level: mlp, dense: model.blocks[0].mlp!)
        }
        return [
            BenchRow(name: "database build, one block (time)", value: build, unit: "s", baseline: forwardSeconds),
            BenchRow(name: "stitch one block from the database (time)", value: stitch * 1000, unit: "ms", baseline: forwardSeconds * 1000),
        ]
    }

    /// Training step tokens/s (forward + backward + AdamW) and its useful FLOP rate (3x the forward FLOPs).
    static func training(_ model: LanguageModel, tokens: [Int32], batch: Int, seq: Int, repeats: Int, ceiling: Double) throws -> [BenchRow] {
        let trainer = Trainer(model: model.clone(), settings: OptimizerSettings())
        let seconds = try medianSeconds(repeats: repeats) { try trainer.step(tokens: tokens, batch: batch) }
        let flops = 3 * model.forwardFlops(batch: batch, seq: seq)
        return [
            BenchRow(name: "training step \(batch)x\(seq) (fwd+bwd+AdamW)", value: Double(batch * seq) / seconds, unit: "tok/s", baseline: Double(batch * seq) / seconds),
            BenchRow(name: "training useful FLOP rate", value: flops / seconds / 1e9, unit: "GFLOP/s", baseline: ceiling),
        ]
    }
}
