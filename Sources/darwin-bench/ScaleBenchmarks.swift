import DarwinCore
import Foundation

/// Benchmarks on random-initialised bf16 checkpoints of real shapes (`RealShapes`): load time and memory, the
/// compression database per block (time, storage against the checkpoint's own block bytes) and stitching.
enum ScaleBenchmarks {
    /// The shapes `darwin-bench scale` measures by default.
    static let defaultShapes = ["smollm2-360m", "qwen2.5-0.5b", "llama-3.2-1b"]

    /// Resident memory of this process now, and its peak so far, in GiB.
    static func residentGiB() -> Double { Double(ProcessMemory.residentAndPeak().0) / Double(1 << 30) }
    static func peakGiB() -> Double { Double(ProcessMemory.residentAndPeak().1) / Double(1 << 30) }

    /// Which parameters the training measurement trains.
    enum TrainedParameters { case all, frozenEmbeddings }

    /// Measures one shape; its checkpoint is written to `directory/name` unless already there (`directory` may also be
    /// that shape's own checkpoint folder, as `serve --model` takes it). With `training`, three
    /// training steps (forward, backward, AdamW on every parameter, or on all but the embeddings and LM head) of the
    /// calibration batch run first (moments stored as `optimizer` says, activations recomputed as `recompute` says, nil: the
    /// trainer's default; threads used as `threadSplit` says), and their time and the process's peak memory above the
    /// loaded model are reported.
    static func run(shape name: String, directory: String, calibration: (batch: Int, seq: Int), training: TrainedParameters?,
                    optimizer: OptimizerSettings = OptimizerSettings(), recompute: Bool? = nil,
                    threadSplit: Trainer.ThreadSplit = .sequences, trainingOnly: Bool = false) throws -> [BenchRow] {
        let isShapeFolder = URL(fileURLWithPath: directory).lastPathComponent == name
            && FileManager.default.fileExists(atPath: directory + "/config.json")
        let path = isShapeFolder ? directory : directory + "/" + name
        if !FileManager.default.fileExists(atPath: path + "/model.safetensors") {
            print("writing a random \(name) checkpoint to \(path) ...")
            try RealShapes.writeCheckpoint(name, to: path)
        }
        let before = residentGiB()
        var model: LanguageModel!
        let load = try seconds { model = try ModelLoader.load(directory: path) }
        let loaded = residentGiB() - before
        let checkpointBytes = Double(model.parameterCount * 2)
        let g = RandomGenerator(seed: 1)
        let large = model.parameterCount > 3_000_000_000
        let seq = large ? min(calibration.seq, 128) : calibration.seq
        let sequences = (0..<calibration.batch).map { _ in (0..<seq).map { _ in Int32(g.integer(0, model.config.vocabSize - 1)) } }
        var rows: [BenchRow] = [
            BenchRow(name: "\(name): load (time)", value: load, unit: "s", baseline: load),
            BenchRow(name: "\(name): RSS after load / bf16 bytes", value: loaded, unit: "GiB", baseline: checkpointBytes / Double(1 << 30)),
        ]
        // Training first, while nothing else has been allocated: its peak is the process peak.
        if let training {
            let frozen = training == .frozenEmbeddings
            let include: ((String) -> Bool)? = frozen ? { !$0.contains("embed_tokens") && !$0.contains("lm_head") } : nil
            let trainer = Trainer(model: model.clone(), settings: optimizer, include: include)
            trainer.recompute = recompute
            trainer.threadSplit = threadSplit
            let tokens = Array(sequences.joined())
            let activations = trainer.recomputing(tokens: tokens.count) ? "recomputed" : "kept"
            let label = (frozen ? "training (embeddings frozen" : "training (all parameters")
                + ", \(optimizer.stateFormat.rawValue) moments, activations \(activations)\(recompute == nil ? " by default" : "")"
                + (threadSplit == .products ? ", products split across threads)" : ")")
            // The first step maps the optimizer state and the second may still fault parts of the heap in; a training
            // run's steps are like the third, which is the one timed (the first is the baseline). Its page faults and
            // system time show memory returned and faulted in again every step (a recomputing trainer trims the heap
            // each step; one that keeps activations holds its pages: `HeapRetention`).
            let firstKernel = try withKernelUsage { try seconds { try trainer.step(tokens: tokens, batch: sequences.count) } }
            let first = firstKernel.result
            try trainer.step(tokens: tokens, batch: sequences.count)
            let kernel = try withKernelUsage { try secondsAgainstCeiling { try trainer.step(tokens: tokens, batch: sequences.count) } }
            let (step, stepCeiling) = kernel.result
            rows += [
                BenchRow(name: "\(name): \(label) step \(calibration.batch)x\(calibration.seq) (third step; baseline the first)",
                         value: Double(tokens.count) / step, unit: "tok/s", baseline: Double(tokens.count) / first),
                BenchRow(name: "\(name): \(label) page faults in the third step (baseline: the first)", value: Double(kernel.faults),
                         unit: "faults", baseline: Double(max(firstKernel.faults, 1))),
                BenchRow(name: "\(name): \(label) system CPU time in the third step (baseline: the first)", value: kernel.system,
                         unit: "s", baseline: max(firstKernel.system, 0.01)),
                BenchRow(name: "\(name): \(label) peak RSS above the bf16 model", value: peakGiB() - before - loaded, unit: "GiB", baseline: 3),
                BenchRow(name: "\(name): \(label) peak RSS above float32 model bytes",
                         value: peakGiB() - before - Double(model.parameterCount * 4) / Double(1 << 30), unit: "GiB", baseline: 3),
            ]
            if !frozen {  // forward, and backward at twice its products
                let rate = 3 * model.forwardFlops(batch: sequences.count, seq: seq) / step / 1e9
                rows.append(BenchRow(name: "\(name): \(label) useful FLOP rate (base: sgemm 1024^3 before and after the step)", value: rate,
                                     unit: "GFLOP/s", baseline: stepCeiling))
                if let peak = fmaPeak() {
                    rows.append(BenchRow(name: "\(name): \(label) useful FLOP rate (base: the cores' FMA peak)", value: rate, unit: "GFLOP/s", baseline: peak))
                }
            }
            if trainingOnly { return rows }
        }
        if large {
            // 7B-8B: the weights stay bf16 (a float32 copy would not fit); the fitness computation and the peak memory.
            let targets = try model.targets(sequences, topK: 64, batchSize: sequences.count)
            let klTime = try seconds { _ = try model.klDivergence(sequences, to: targets, batchSize: sequences.count) }
            return rows + [
                BenchRow(name: "\(name): KL to top-64 targets \(calibration.batch)x\(seq)", value: Double(sequences.count * seq) / klTime, unit: "tok/s",
                         baseline: Double(sequences.count * seq) / klTime),
                BenchRow(name: "\(name): peak RSS (targets + KL)", value: peakGiB(), unit: "GiB", baseline: 20),
            ]
        }
        // The forward pass with 16-bit weights against the float32 load of the same checkpoint.
        let flat = Array(sequences.joined())
        // Three timed calls after a warm-up one, each between two samples of the sgemm ceiling: the median call and the
        // median of the three rates against their own ceilings.
        _ = try model.forward(tokens: flat, batch: sequences.count)
        let calls = try (0..<3).map { _ in try secondsAgainstCeiling { _ = try model.forward(tokens: flat, batch: sequences.count) } }
        let forward = calls.map(\.seconds).sorted()[1]
        let forwardFlops = model.forwardFlops(batch: sequences.count, seq: seq)
        let forwardAgainstCeiling = calls.map { forwardFlops / $0.seconds / 1e9 / $0.ceiling }.sorted()[1]
        var floatForward = forward
        do {
            let float = try ModelLoader.load(directory: path, keepHalf: false)
            floatForward = try medianSeconds(repeats: 2) { _ = try float.forward(tokens: flat, batch: sequences.count) }
        }
        let tokenCount = Double(flat.count)
        let ceiling = try sgemmCeiling(size: 1024, repeats: 9)
        if let peak = fmaPeak() {
            rows.append(BenchRow(name: "sgemm 1024^3 with OpenBLAS's threads (base: the cores' FMA peak)", value: ceiling, unit: "GFLOP/s", baseline: peak))
        }
        rows += [
            BenchRow(name: "\(name): forward \(calibration.batch)x\(seq), bf16 weights (base: float32 weights)",
                     value: tokenCount / forward, unit: "tok/s", baseline: tokenCount / floatForward),
            BenchRow(name: "\(name): forward useful FLOP rate (base: sgemm 1024^3 of this run)",
                     value: forwardFlops / forward / 1e9, unit: "GFLOP/s", baseline: ceiling),
            BenchRow(name: "\(name): forward / sgemm 1024^3 right before and after it, median of 3 calls",
                     value: forwardAgainstCeiling, unit: "", baseline: 1),
        ]
        // The search's fitness: KL to the dense model's top-64 targets, against a model of the same shape with an
        // 8192-token vocabulary (the KL path gathers 64 logits per position, so the vocabulary should not matter).
        let targetsTime = try seconds { _ = try model.targets(sequences, topK: 64, batchSize: sequences.count) }
        let targets = try model.targets(sequences, topK: 64, batchSize: sequences.count)
        let klTime = try medianSeconds(repeats: 1) { _ = try model.klDivergence(sequences, to: targets, batchSize: sequences.count) }
        let c = model.config
        let small = try LanguageModel.random(vocab: 8192, hidden: c.hiddenSize, layers: c.layerCount, heads: c.headCount, kvHeads: c.kvHeadCount,
                                             intermediate: c.intermediateSize, headDim: c.headDim)
        let smallSequences = sequences.map { $0.map { $0 % 8192 } }
        let smallTargets = try small.targets(smallSequences, topK: 64, batchSize: sequences.count)
        let smallTime = try medianSeconds(repeats: 1) { _ = try small.klDivergence(smallSequences, to: smallTargets, batchSize: sequences.count) }
        let tokens = Double(sequences.count * seq)
        rows += [
            BenchRow(name: "\(name): top-64 targets \(calibration.batch)x\(calibration.seq)", value: tokens / targetsTime, unit: "tok/s", baseline: tokens / targetsTime),
            BenchRow(name: "\(name): KL to top-64 targets", value: tokens / klTime, unit: "tok/s", baseline: tokens / smallTime),
            BenchRow(name: "\(name): same shape, vocabulary 8192: KL", value: tokens / smallTime, unit: "tok/s", baseline: tokens / smallTime),
        ]
        let dbPath = NSTemporaryDirectory() + "darwin-bench-scale-\(getpid())"
        defer { try? FileManager.default.removeItem(atPath: dbPath) }
        var builder = DatabaseBuilder(model: model)
        builder.maxNewBlocks = 1
        var db: PruningDatabase!
        let build = try seconds { db = try builder.build(model: model, calibration: sequences, path: dbPath) }
        let block = db.manifest.blocks[0]
        let stored = Double((block.attention + block.mlp).map(\.bytes).reduce(0, +))
        let blockBytes = Double(model.blocks[0].parameterCount * 2)
        let attention = db.levels(.attention).count / 2, mlp = db.levels(.mlp).count / 2
        let stitch = try medianSeconds(repeats: 5) {
            _ = try db.attention(block: 0, level: attention, dense: model.blocks[0].attention!)
            _ = try db.mlp(block: 0, level: mlp, dense: model.blocks[0].mlp!)
        }
        let blocks = Double(model.blocks.count)
        return [
            BenchRow(name: "\(name): database, one block (time)", value: build, unit: "s", baseline: 60),
            BenchRow(name: "\(name): database, whole model (est.)", value: build * blocks / 60, unit: "min", baseline: build * blocks / 60),
            BenchRow(name: "\(name): database bytes / block bytes", value: stored / blockBytes, unit: "x", baseline: 1),
            BenchRow(name: "\(name): database bytes / checkpoint", value: stored * blocks / checkpointBytes, unit: "x", baseline: 1.5),
            BenchRow(name: "\(name): stitch one block (time)", value: stitch * 1000, unit: "ms", baseline: build * 1000),
        ] + rows
    }
}
