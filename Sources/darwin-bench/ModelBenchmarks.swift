import COpenBLAS
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
        let n = 1024
        let a = try Tensor.randn([n, n]), b = try Tensor.randn([n, n]), c = try Tensor.zeros([n, n])
        let direct = medianSeconds(repeats: repeats) {
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                        a.data, Int32(n), b.data, Int32(n), 0, c.data, Int32(n))
        }
        let ceiling = 2.0 * Double(n * n * n) / direct / 1e9
        let g = RandomGenerator(seed: 1)
        let tokens = (0..<(batch * seq)).map { _ in Int32(g.integer(0, model.config.vocabSize - 1)) }
        let seconds = try medianSeconds(repeats: repeats) { _ = try model.forward(tokens: tokens, batch: batch) }
        let sequences = (0..<batch).map { Array(tokens[($0 * seq)..<(($0 + 1) * seq)]) }
        let targets = try model.targets(sequences, topK: 64, batchSize: batch)
        let klSeconds = try medianSeconds(repeats: repeats) { _ = try model.klDivergence(sequences, to: targets, batchSize: batch) }
        let flops = model.forwardFlops(batch: batch, seq: seq)
        return [
            BenchRow(name: "sgemm 1024^3 direct (ceiling)", value: ceiling, unit: "GFLOP/s", baseline: ceiling),
            BenchRow(name: "forward \(batch)x\(seq), \(name)", value: Double(batch * seq) / seconds, unit: "tok/s", baseline: Double(batch * seq) / seconds),
            BenchRow(name: "forward useful FLOP rate", value: flops / seconds / 1e9, unit: "GFLOP/s", baseline: ceiling),
            BenchRow(name: "KL to top-64 targets \(batch)x\(seq)", value: Double(batch * seq) / klSeconds, unit: "tok/s", baseline: Double(batch * seq) / seconds),
        ] + (try training(model, tokens: tokens, batch: batch, seq: seq, repeats: repeats, ceiling: ceiling))
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
