import DarwinCore
import Dispatch
import Foundation

/// `darwin-bench serve`: the reference model's forward, KL and training step, one timed call per line read from
/// stdin (`forward`, `kl`, `train`, `train_kept`; `quit` ends), each answered with its seconds on stdout. `bench/side_by_side.py
/// --interleave` drives it and the PyTorch companion's `--serve` call by call, so both sides see the same machine
/// speed to within a second.
/// With `model`, a checkpoint directory (a real shape from `darwin-bench scale`) is served instead, with its 16-bit
/// weights as loaded, or converted to float32 at load with `float32Weights` (`--float32-weights`: two servers of one
/// binary, alternated call by call, compare the two). Its trainers use the threads as `threadSplit` says
/// (`--thread-split`: two servers compare the two ways).
enum ServeMode {
    static func run(batch: Int = 8, seq: Int = 512, model directory: String? = nil, float32Weights: Bool = false,
                    threadSplit: Trainer.ThreadSplit = .sequences) throws {
        let (model, name) = try directory.map {
            (try ModelLoader.load(directory: $0, keepHalf: !float32Weights), URL(fileURLWithPath: $0).lastPathComponent)
        }
            ?? ModelBenchmarks.referenceModel()
        let g = RandomGenerator(seed: 1)
        let tokens = (0..<(batch * seq)).map { _ in Int32(g.integer(0, model.config.vocabSize - 1)) }
        let sequences = (0..<batch).map { Array(tokens[($0 * seq)..<(($0 + 1) * seq)]) }
        let targets = try model.targets(sequences, topK: 64, batchSize: batch)
        // Trainers are made at their first step (one at a time: the other is dropped), so a real shape's two sets of
        // masters and moments are never held together.
        var trainer: (kept: Bool, trainer: Trainer)?
        func step(keepingActivations kept: Bool) throws {
            if trainer?.kept != kept {
                trainer = nil
                let made = Trainer(model: model.clone(), settings: OptimizerSettings())
                if kept { made.recompute = false }
                made.threadSplit = threadSplit
                trainer = (kept, made)
            }
            try trainer!.trainer.step(tokens: tokens, batch: batch)
        }
        let operations: [String: () throws -> Void] = [
            "forward": { _ = try model.forward(tokens: tokens, batch: batch) },
            "kl": { _ = try model.klDivergence(sequences, to: targets, batchSize: batch) },
            "train": { try step(keepingActivations: false) },  // as users get it: activations recomputed when large
            "train_kept": { try step(keepingActivations: true) },  // every block's activations kept, as PyTorch does
        ]
        print("ready \(name) threads=\(Parallel.threads) tokens=\(batch * seq) (\(BLASLibrary.description))")
        fflush(stdout)
        while let line = readLine() {
            let command = line.trimmingCharacters(in: .whitespaces)
            if command == "quit" { break }
            guard let operation = operations[command] else {
                print("error: unknown command '\(command)'; expected forward, kl, train, train_kept or quit")
                fflush(stdout)
                continue
            }
            let start = DispatchTime.now().uptimeNanoseconds
            try operation()
            print(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9)
            fflush(stdout)
        }
    }
}
