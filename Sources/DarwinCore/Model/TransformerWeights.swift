import Synchronization

/// Attention weights of one block, possibly pruned: each block keeps its own number of query heads and
/// the KV heads they still use. Linear weights are `[out, in]` as in Hugging Face checkpoints.
public final class AttentionWeights {
    /// `[queryHeads*headDim, hidden]`, `[kvHeads*headDim, hidden]`, `[kvHeads*headDim, hidden]`, `[hidden, queryHeads*headDim]`.
    public var q: Weight, k: Weight, v: Weight, o: Weight
    /// Optional biases (Qwen2 has q/k/v biases; `attention_bias` gives all four).
    public var qBias: Tensor?, kBias: Tensor?, vBias: Tensor?, oBias: Tensor?
    /// Qwen3's per-head RMSNorm weights (`[headDim]`, shared by all heads) applied to queries and keys before RoPE.
    public var qNorm: Tensor?, kNorm: Tensor?
    /// For each kept query head, the index of its KV head within this block's `k`/`v`.
    public var kvOfQuery: [Int]
    /// For each kept query head, its index in the dense model (nil: the heads are the dense ones, in order).
    public var denseHeads: [Int]?

    /// Number of query heads.
    public var queryHeads: Int { kvOfQuery.count }
    /// Number of KV heads.
    public var kvHeads: Int { k.shape[0] / headDim }
    /// Per-head dimension.
    public let headDim: Int

    public init(q: Weight, k: Weight, v: Weight, o: Weight, qBias: Tensor? = nil, kBias: Tensor? = nil,
                vBias: Tensor? = nil, oBias: Tensor? = nil, qNorm: Tensor? = nil, kNorm: Tensor? = nil, kvOfQuery: [Int], headDim: Int) {
        self.q = q; self.k = k; self.v = v; self.o = o
        self.qBias = qBias; self.kBias = kBias; self.vBias = vBias; self.oBias = oBias
        self.qNorm = qNorm; self.kNorm = kNorm
        self.kvOfQuery = kvOfQuery; self.headDim = headDim
    }

    /// Attention with float32 weights.
    public convenience init(q: Tensor, k: Tensor, v: Tensor, o: Tensor, qBias: Tensor? = nil, kBias: Tensor? = nil,
                            vBias: Tensor? = nil, oBias: Tensor? = nil, kvOfQuery: [Int], headDim: Int) {
        self.init(q: Weight(q), k: Weight(k), v: Weight(v), o: Weight(o), qBias: qBias, kBias: kBias, vBias: vBias, oBias: oBias,
                  kvOfQuery: kvOfQuery, headDim: headDim)
    }

    /// The four weight matrices.
    public var weights: [Weight] { [q, k, v, o] }
    /// The biases present.
    public var biases: [Tensor] { [qBias, kBias, vBias, oBias].compactMap { $0 } }
    /// The query and key norm weights present.
    public var norms: [Tensor] { [qNorm, kNorm].compactMap { $0 } }

    /// Parameter count.
    public var parameterCount: Int { weights.map(\.count).reduce(0, +) + (biases + norms).map(\.count).reduce(0, +) }
}

/// SwiGLU MLP weights of one block, possibly narrowed: `down(silu(gate x) * up x)`.
public final class MLPWeights {
    /// `[width, hidden]`, `[width, hidden]`, `[hidden, width]`.
    public var gate: Weight, up: Weight, down: Weight
    /// Optional biases (`mlp_bias`).
    public var gateBias: Tensor?, upBias: Tensor?, downBias: Tensor?

    public init(gate: Weight, up: Weight, down: Weight, gateBias: Tensor? = nil, upBias: Tensor? = nil, downBias: Tensor? = nil) {
        self.gate = gate; self.up = up; self.down = down
        self.gateBias = gateBias; self.upBias = upBias; self.downBias = downBias
    }

    /// An MLP with float32 weights.
    public convenience init(gate: Tensor, up: Tensor, down: Tensor, gateBias: Tensor? = nil, upBias: Tensor? = nil, downBias: Tensor? = nil) {
        self.init(gate: Weight(gate), up: Weight(up), down: Weight(down), gateBias: gateBias, upBias: upBias, downBias: downBias)
    }

    /// The three weight matrices.
    public var weights: [Weight] { [gate, up, down] }
    /// The biases present.
    public var biases: [Tensor] { [gateBias, upBias, downBias].compactMap { $0 } }

    /// Number of intermediate neurons.
    public var width: Int { gate.shape[0] }
    /// For each kept neuron, its index in the dense model (nil: the dense neurons, in order).
    public var denseNeurons: [Int]?
    /// Parameter count.
    public var parameterCount: Int { weights.map(\.count).reduce(0, +) + biases.map(\.count).reduce(0, +) }
}

/// One decoder block; `attention` or `mlp` is nil when pruning removed it entirely (the residual passes through).
public final class TransformerBlock {
    public var inputNorm: Tensor
    public var postAttentionNorm: Tensor
    public var attention: AttentionWeights?
    public var mlp: MLPWeights?
    /// The attention's sliding window (nil: full causal attention): position i sees keys i-window+1...i.
    public let window: Int?

    public init(inputNorm: Tensor, postAttentionNorm: Tensor, attention: AttentionWeights?, mlp: MLPWeights?, window: Int? = nil) {
        self.inputNorm = inputNorm; self.postAttentionNorm = postAttentionNorm
        self.attention = attention; self.mlp = mlp; self.window = window
    }

    /// Parameter count.
    public var parameterCount: Int {
        inputNorm.count + postAttentionNorm.count + (attention?.parameterCount ?? 0) + (mlp?.parameterCount ?? 0)
    }
}

/// A decoder-only language model of the Llama family, with per-block shapes. Weight matrices are float32 or, as
/// loaded from a bf16/f16 checkpoint, 16-bit (`Weight`); norms and biases are float32; all arithmetic is float32.
public final class LanguageModel {
    public let config: ModelConfig
    /// `[vocab, hidden]`.
    public var embedding: Weight
    public var blocks: [TransformerBlock]
    public var finalNorm: Tensor
    /// `[vocab, hidden]`; the same object as `embedding` when embeddings are tied.
    public var lmHead: Weight
    /// Where the model was loaded from, if anywhere.
    public var source: String?

    public init(config: ModelConfig, embedding: Weight, blocks: [TransformerBlock], finalNorm: Tensor, lmHead: Weight) {
        self.config = config; self.embedding = embedding; self.blocks = blocks
        self.finalNorm = finalNorm; self.lmHead = lmHead
    }

    /// True when the LM head is the embedding matrix.
    public var tiedEmbeddings: Bool { lmHead === embedding }

    /// Bytes of the distinct memory behind this model's parameters (shared ones counted once here,
    /// though clones count the memory they share with their parent too).
    public var parameterBytes: Int {
        var seen = Set<ObjectIdentifier>(), bytes = 0
        for (_, p) in namedWeights {
            switch p {
            case .matrix(let w): if seen.insert(w.memoryIdentity).inserted { bytes += w.byteCount }
            case .vector(let t): if seen.insert(ObjectIdentifier(t.storage)).inserted { bytes += t.storage.count * 4 }
            }
        }
        return bytes
    }

    /// True when some weight matrix is held in 16 bits.
    public var hasHalfWeights: Bool {
        namedWeights.contains { if case .matrix(let w) = $0.1 { return w.half != nil } else { return false } }
    }

    /// How the weight matrices are held: "bfloat16", "float16", "float32", or "mixed" (some converted to float32,
    /// by training or by reading them as tensors).
    public var weightFormatName: String {
        let formats = Set(namedWeights.compactMap { p -> String? in
            guard case .matrix(let w) = p.1 else { return nil }
            return w.half.map { $0.format == .bf16 ? "bfloat16" : "float16" } ?? "float32"
        })
        return formats.count == 1 ? formats.first! : "mixed"
    }

    /// Total parameter count (tied embeddings counted once).
    public var parameterCount: Int {
        embedding.count + blocks.map(\.parameterCount).reduce(0, +) + finalNorm.count + (tiedEmbeddings ? 0 : lmHead.count)
    }

    /// Shows the progress of the evaluations (perplexity, targets, KL) run while it is set, in sequences.
    public var evaluationProgress: ProgressLine?
    /// RoPE cos/sin tables, cached per length; locked, as the parts of a batch split by sequences ask at once.
    let ropeCache = Mutex<RopeTables?>(nil)
    /// The dense model's fingerprint, kept once computed (and carried by clones).
    var fingerprintCache: String?
    /// Levels applied from a compression database, per kind and block (nil: the weights as loaded).
    public internal(set) var genome: Genome?
    /// The dense model's units, recorded by the first `apply` of a database (the database stores only what OBS
    /// changes; the rest of a pruned unit is rows of these). Shared by clones, never modified in place.
    var denseUnits: [(attention: AttentionWeights?, mlp: MLPWeights?)]?
    /// The element type of the checkpoint the weights came from (float32 for models made in memory): what
    /// databases and saved checkpoints store by default.
    public var storagePrecision: SafeTensorsWriter.Precision = .f32

    /// A copy with its own block list sharing the weight tensors: applying a genome or replacing a block's
    /// weights on the copy leaves this model untouched (tensors are never modified in place by `apply`).
    public func clone() -> LanguageModel {
        let copy = LanguageModel(config: config, embedding: embedding, blocks: blocks.map {
            TransformerBlock(inputNorm: $0.inputNorm, postAttentionNorm: $0.postAttentionNorm, attention: $0.attention, mlp: $0.mlp, window: $0.window)
        }, finalNorm: finalNorm, lmHead: lmHead)
        copy.source = source
        copy.fingerprintCache = fingerprintCache
        copy.genome = genome
        copy.denseUnits = denseUnits
        copy.storagePrecision = storagePrecision
        return copy
    }
}
