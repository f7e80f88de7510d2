import Foundation

/// Writes a model, pruned or dense, as a GGUF file that llama.cpp runs without padding to the dense shapes.
///
/// - Llama, Mistral and Qwen2 models with the same shapes in every block are written as llama.cpp's `llama`
///   architecture; pruned ones, with their own head counts and MLP widths per block, as `deci` (the architecture of
///   Nemotron's variable-width Llama), whose loader reads per-layer `head_count`, `head_count_kv` and
///   `feed_forward_length` arrays and accepts blocks without attention or without MLP.
/// - Qwen3 is written as `qwen3`, which has one shape for all blocks: a pruned Qwen3 is zero-padded to the dense shapes.
/// - Queries and keys are permuted to the interleaved rotary layout llama.cpp's `llama`/`deci` graphs use.
public enum GGUFExport {
    /// What was written, and what had to be added for llama.cpp.
    public struct Report {
        /// llama.cpp's architecture name (`llama`, `deci`, `qwen3`).
        public var architecture: String
        /// Lines for the user: blocks written with additions, tensors kept in another type, limits of the format.
        public var notes: [String]
        /// Parameters written, and the model's own parameter count.
        public var writtenParameters: Int, modelParameters: Int
    }

    /// Writes `model` (with `tokenizer` embedded) to the file `path`; 2-D tensors in `type`, norms in f32.
    public static func save(_ model: LanguageModel, tokenizer: Tokenizer, to path: String, type: GGMLType) throws -> Report {
        let c = model.config
        guard c.architecture != .phi3 else {
            throw FormatError(file: path, "GGUF export supports Llama, Mistral, Qwen2 and Qwen3 models; Phi-3's fused projections and partial rotary embeddings are not written")
        }
        guard c.rope.rotaryDimensions(headDim: c.headDim) == c.headDim else {
            throw FormatError(file: path, "GGUF export needs rotary embeddings on the whole head (partial_rotary_factor \(c.rope.partialRotaryFactor) rotates \(c.rope.rotaryDimensions(headDim: c.headDim)) of \(c.headDim) dimensions)")
        }
        var notes: [String] = []
        var source = model
        var layouts = model.blocks.enumerated().map { GGUFBlockLayout($0.element, needsAttention: $0.offset == 0) }
        let uniform = Set(layouts.map { [$0.heads, $0.kvHeads, $0.mlpWidth] }).count == 1 && layouts.allSatisfy { $0.isExact && $0.heads > 0 && $0.mlpWidth > 0 }
        let architecture: String
        if c.architecture == .qwen3 {
            architecture = "qwen3"
            if !uniform {
                source = try model.zeroPadded()
                layouts = source.blocks.map { GGUFBlockLayout($0, needsAttention: true) }
                notes.append("zero-padded to the dense shapes: llama.cpp's qwen3 architecture has one shape for all blocks")
            }
        } else {
            architecture = uniform ? "llama" : "deci"
            for (i, layout) in layouts.enumerated() where !layout.isExact {
                notes.append("block \(i + 1): " + layout.additions.joined(separator: "; "))
            }
        }
        let rotaryPermuted = architecture != "qwen3"
        let tensors = try GGUFTensors(model: source, layouts: layouts, type: type, permuteRotary: rotaryPermuted)
        notes += tensors.notes
        if let window = c.layerWindows.compactMap({ $0 }).min(), window < c.maxPositions {
            notes.append("sliding-window attention (window \(window)) is not expressed in GGUF: llama.cpp attends to the whole context, the same as darwinhost for sequences up to \(window) tokens")
        }
        var metadata: [(String, GGUFValue)] = [
            ("general.architecture", .string(architecture)),
            ("general.name", .string(model.source.map { URL(fileURLWithPath: $0).lastPathComponent } ?? "darwinhost model")),
            ("general.file_type", .uint32(fileType(type))),
        ]
        if type == .q8_0 { metadata.append(("general.quantization_version", .uint32(2))) }
        metadata += hyperparameters(c, layouts: layouts, prefix: architecture, perLayer: architecture == "deci")
        metadata += try tokenizer.ggufMetadata(vocabularySize: c.vocabSize, config: c)
        notes += tokenizer.ggufNotes
        try GGUFWriter.write(metadata: metadata, entries: tensors.entries, to: path, fill: tensors.fill)
        return Report(architecture: architecture, notes: notes, writtenParameters: tensors.entries.map { Shape.count($0.shape) }.reduce(0, +),
                      modelParameters: model.parameterCount)
    }

    /// llama.cpp's `general.file_type` for a model whose matrices are mostly `type`.
    static func fileType(_ type: GGMLType) -> UInt32 {
        switch type {
        case .f32: return 0
        case .f16: return 1
        case .q8_0: return 7
        case .bf16: return 32
        }
    }

    /// The architecture's hyperparameters; `perLayer` writes head counts and MLP widths as one entry per block.
    static func hyperparameters(_ c: ModelConfig, layouts: [GGUFBlockLayout], prefix: String, perLayer: Bool) -> [(String, GGUFValue)] {
        func count(_ values: [Int]) -> GGUFValue { perLayer ? .int32s(values.map { Int32($0) }) : .uint32(UInt32(values[0])) }
        var out: [(String, GGUFValue)] = [
            ("context_length", .uint32(UInt32(c.maxPositions))),
            ("embedding_length", .uint32(UInt32(c.hiddenSize))),
            ("block_count", .uint32(UInt32(c.layerCount))),
            ("feed_forward_length", count(layouts.map(\.mlpWidth))),
            ("attention.head_count", count(layouts.map(\.heads))),
            ("attention.head_count_kv", count(layouts.map(\.kvHeads))),
            ("attention.key_length", .uint32(UInt32(c.headDim))),
            ("attention.value_length", .uint32(UInt32(c.headDim))),
            ("attention.layer_norm_rms_epsilon", .float32(Float(c.rmsNormEps))),
            ("rope.freq_base", .float32(Float(c.rope.theta))),
            ("rope.dimension_count", .uint32(UInt32(c.headDim))),
            ("vocab_size", .uint32(UInt32(c.vocabSize))),
        ]
        if case .linear(let factor) = c.rope.scaling {
            out += [("rope.scaling.type", .string("linear")), ("rope.scaling.factor", .float32(Float(factor)))]
        }
        return out.map { (prefix + "." + $0.0, $0.1) }
    }
}
