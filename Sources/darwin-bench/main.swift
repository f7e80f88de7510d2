import DarwinCore
import Foundation

/// darwin-bench: performance checks printed as ratios against baselines measured in the same run.
/// Usage: darwin-bench [matmul|elementwise|forward|generate|obs|scale|all|serve] [--shape NAME] [--dir DIR] [--training | --training-frozen-embeddings] [--training-only] [--state-dtype float32|bf16] [--activations auto|kept|recomputed] [--thread-split sequences|products] [--threads N] [--size N] [--repeats N]; serve: [--model DIR] [--batch N] [--seq N] [--float32-weights]
func benchMain() throws {
    var args = Array(CommandLine.arguments.dropFirst())
    var suite = "all", size = 1024, repeats = 5
    func take(_ flag: String) -> String? {
        guard let i = args.firstIndex(of: flag), i + 1 < args.count else { return nil }
        let v = args[i + 1]
        args.removeSubrange(i...(i + 1))
        return v
    }
    if let t = take("--threads").flatMap(Int.init) { Parallel.threads = t } else { Parallel.threads = Parallel.threads }
    if let s = take("--size").flatMap(Int.init) { size = s }
    if let r = take("--repeats").flatMap(Int.init) { repeats = max(1, r) }
    let shape = take("--shape"), shapeDirectory = take("--dir")
    var optimizer = OptimizerSettings()
    if let name = take("--state-dtype") {
        guard let format = OptimizerSettings.StateFormat(rawValue: name) else { print("--state-dtype must be float32 or bf16"); exit(2) }
        optimizer.stateFormat = format
    }
    var recompute: Bool?
    if let mode = take("--activations") {
        guard let choice = ["auto": Bool?.none, "kept": false, "recomputed": true][mode] else {
            print("--activations must be auto, kept or recomputed"); exit(2)
        }
        recompute = choice
    }
    var threadSplit = Trainer.ThreadSplit.sequences
    if let name = take("--thread-split") {
        guard let split = Trainer.ThreadSplit(rawValue: name) else { print("--thread-split must be sequences or products"); exit(2) }
        threadSplit = split
    }
    let trainingOnly = args.contains("--training-only")
    let training = args.contains("--training") || args.contains("--training-frozen-embeddings") || trainingOnly
    let frozenEmbeddings = args.contains("--training-frozen-embeddings")
    args.removeAll { $0 == "--training" || $0 == "--training-frozen-embeddings" || $0 == "--training-only" }
    if args.contains("-h") || args.contains("--help") {
        print("usage: darwin-bench [matmul|elementwise|forward|generate|obs|scale|all|serve] [--shape NAME] [--dir DIR] [--training | --training-frozen-embeddings] [--training-only] [--state-dtype float32|bf16] [--activations auto|kept|recomputed] [--thread-split sequences|products] [--threads N] [--size N] [--repeats N]; serve: [--model DIR] [--batch N] [--seq N] [--float32-weights]")
        return
    }
    if let s = args.first { suite = s }
    if suite == "serve" {
        try ServeMode.run(batch: take("--batch").flatMap(Int.init) ?? 8, seq: take("--seq").flatMap(Int.init) ?? 512, model: take("--model"),
                          float32Weights: args.contains("--float32-weights"), threadSplit: threadSplit)
        return
    }
    print("darwin-bench: threads=\(Parallel.threads), \(BLASLibrary.description) (build with -c release for meaningful numbers)")
    var rows: [BenchRow] = []
    if suite == "matmul" || suite == "all" { rows += try TensorBenchmarks.matmul(size: size, repeats: repeats) }
    if suite == "elementwise" || suite == "all" { rows += try TensorBenchmarks.elementwise(count: 1 << 22, repeats: repeats) }
    if suite == "scale" {
        let shapes = shape.map { [$0] } ?? ScaleBenchmarks.defaultShapes
        let directory = shapeDirectory ?? NSTemporaryDirectory() + "darwin-real-shapes"
        for shape in shapes {
            let measured = try ScaleBenchmarks.run(shape: shape, directory: directory, calibration: (4, 512),
                                                   training: training ? (frozenEmbeddings ? .frozenEmbeddings : .all) : nil,
                                                   optimizer: optimizer, recompute: recompute, threadSplit: threadSplit,
                                                   trainingOnly: trainingOnly)
            for row in measured { print(row.line) }
            rows += measured
        }
        return
    }
    if suite == "obs" {
        rows += try PruningBenchmarks.obs(name: "SmolLM2-360M", hidden: 960, width: 2560, heads: 15, headDim: 64, tokens: 2048)
        rows += try PruningBenchmarks.obs(name: "Llama-3.2-1B", hidden: 2048, width: 8192, heads: 32, headDim: 64, tokens: 2048)
    }
    if suite == "generate" || suite == "all" {
        rows += try ModelBenchmarks.generation(prompt: 64, count: 64) + ModelBenchmarks.generation(prompt: 256, count: 64)
    }
    if suite == "forward" || suite == "all" { rows += try ModelBenchmarks.forward(batch: 8, seq: 512, repeats: max(1, repeats / 2)) }
    guard !rows.isEmpty else { print("unknown suite '\(suite)'; expected matmul, elementwise, forward, generate, obs, scale or all"); exit(2) }
    for row in rows { print(row.line) }
}

do { try benchMain() } catch { print("darwin-bench: \(error)"); exit(1) }
