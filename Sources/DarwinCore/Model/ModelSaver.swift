import CDarwinSupport
import Foundation

/// Saves a model as a Hugging Face checkpoint directory (`config.json` + `model.safetensors`).
/// A model with uniform shapes is loadable by `transformers` as is; a pruned model records its per-block
/// shapes in the config field `darwin_layers`, which darwinhost reads back.
public enum ModelSaver {
    /// Writes the checkpoint atomically: into a temporary sibling directory, which then takes the place of
    /// `directory` in one exchange. A previous checkpoint there (shards and index included) is replaced whole, so
    /// no stale file survives; files that are not part of a checkpoint (tokenizer files, notes) are carried over.
    public static func save(_ model: LanguageModel, to directory: String, precision: SafeTensorsWriter.Precision = .f32) throws {
        let fm = FileManager.default
        let target = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath()
        try checkReplaceable(target)
        if let source = model.source, URL(fileURLWithPath: source).standardizedFileURL.resolvingSymlinksInPath() == target {
            throw FormatError(file: target.path, "is the checkpoint this model was loaded from; saving would replace it. Choose another directory")
        }
        AtomicFile.removeStaleTemporaries(of: target.path, kind: "saving")  // never ".old-": that may be the only copy
        let temp = URL(fileURLWithPath: AtomicFile.temporaryPath(of: target.path, kind: "saving"))
        try? fm.removeItem(at: temp)
        try fm.createDirectory(at: temp, withIntermediateDirectories: true)
        do {
            try write(model, to: temp.path, precision: precision)
            try copyTokenizerFiles(from: model.source, to: temp)
            try replaceDirectory(target, with: temp)
        } catch {
            try? fm.removeItem(at: temp)
            throw error
        }
    }

    /// Refuses targets whose replacement would take more than a checkpoint with it: the directory the process runs in
    /// or one containing it (`model:save(".")`, `model:save("/tmp")`), and directories holding subdirectories.
    static func checkReplaceable(_ target: URL) throws {
        let fm = FileManager.default
        let here = URL(fileURLWithPath: fm.currentDirectoryPath).standardizedFileURL.resolvingSymlinksInPath().path
        let path = target.path
        if here == path || here.hasPrefix(path.hasSuffix("/") ? path : path + "/") {
            throw FormatError(file: path, "cannot save a checkpoint over the current directory or a directory containing it; choose a directory of its own")
        }
        var isDirectory: ObjCBool = false
        guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { return }
        guard isDirectory.boolValue else { throw FormatError(file: path, "exists and is not a directory; choose a directory for the checkpoint") }
        for name in try fm.contentsOfDirectory(atPath: path) {
            var sub: ObjCBool = false
            if fm.fileExists(atPath: path + "/" + name, isDirectory: &sub), sub.boolValue {
                throw FormatError(file: path, "holds the directory '\(name)', so it is not a checkpoint directory; saving would replace it whole. Choose a directory of its own")
            }
        }
    }

    /// The files beside a checkpoint that make it usable on its own (`AutoTokenizer.from_pretrained`, generation).
    static let companionFiles = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                                 "tokenizer.model", "vocab.json", "merges.txt", "added_tokens.json"]

    /// Copies the companion files of the checkpoint directory `source` (the one the model was loaded from) into `directory`.
    static func copyTokenizerFiles(from source: String?, to directory: URL) throws {
        guard let source else { return }
        let fm = FileManager.default
        for name in companionFiles where fm.fileExists(atPath: source + "/" + name) {
            try fm.copyItem(atPath: source + "/" + name, toPath: directory.appendingPathComponent(name).path)
        }
    }

    /// True for the files a checkpoint consists of (replaced by a save, never carried over).
    static func isCheckpointFile(_ name: String) -> Bool {
        name == "config.json" || name == "model.safetensors.index.json" || (name.hasPrefix("model") && name.hasSuffix(".safetensors"))
    }

    /// Puts the finished directory `temp` in the place of `target`, carrying over `target`'s other files.
    static func replaceDirectory(_ target: URL, with temp: URL) throws {
        let fm = FileManager.default
        guard fm.fileExists(atPath: target.path) else {
            guard rename(temp.path, target.path) == 0 else { throw FormatError(file: target.path, "cannot move the saved checkpoint into place (errno \(errno))") }
            return
        }
        let fresh = Set(try fm.contentsOfDirectory(atPath: temp.path))
        for name in try fm.contentsOfDirectory(atPath: target.path) where !isCheckpointFile(name) && !fresh.contains(name) {
            try fm.copyItem(at: target.appendingPathComponent(name), to: temp.appendingPathComponent(name))
        }
        if darwin_exchange_paths(temp.path, target.path) != 0 {
            // No atomic exchange here: move the old directory aside first, so a crash leaves one of the two whole.
            let old = URL(fileURLWithPath: AtomicFile.temporaryPath(of: target.path, kind: "old"))
            guard rename(target.path, old.path) == 0, rename(temp.path, target.path) == 0 else {
                throw FormatError(file: target.path, "cannot move the saved checkpoint into place (errno \(errno))")
            }
            try? fm.removeItem(at: old)
            return
        }
        try? fm.removeItem(at: temp)  // now the previous checkpoint
    }

    /// The tensors of the checkpoint file: a name, a shape and the parameters whose elements it holds, in order
    /// (several where the family's format joins them by rows: Phi-3's `qkv_proj` and `gate_up_proj`).
    static func fileTensors(_ model: LanguageModel) -> [(name: String, shape: [Int], parts: [ModelParameter])] {
        let named = model.namedWeights
        guard model.config.fusedProjections else { return named.map { ($0.0, $0.1.shape, [$0.1]) } }
        let byName = Dictionary(named, uniquingKeysWith: { a, _ in a })
        // Each joined tensor and its parts, in order; it is written where its first part stands.
        let joined: [(fused: String, parts: [String])] = [
            ("self_attn.qkv_proj.weight", ["q_proj", "k_proj", "v_proj"].map { "self_attn.\($0).weight" }),
            ("mlp.gate_up_proj.weight", ["gate_proj", "up_proj"].map { "mlp.\($0).weight" }),
        ]
        var out: [(name: String, shape: [Int], parts: [ModelParameter])] = []
        for (name, parameter) in named {
            if let group = joined.first(where: { name.hasSuffix("." + $0.parts[0]) }) {
                let prefix = String(name.dropLast(group.parts[0].count))
                let parts = group.parts.compactMap { byName[prefix + $0] }
                out.append((prefix + group.fused, [parts.map { $0.shape[0] }.reduce(0, +), parameter.shape[1]], parts))
            } else if !joined.contains(where: { $0.parts.dropFirst().contains { name.hasSuffix("." + $0) } }) {
                out.append((name, parameter.shape, [parameter]))
            }
        }
        return out
    }

    /// Writes config.json and model.safetensors into an existing directory.
    static func write(_ model: LanguageModel, to directory: String, precision: SafeTensorsWriter.Precision) throws {
        var config = model.config.raw
        let c = model.config
        let uniform = model.blocks.allSatisfy {
            $0.attention?.kvOfQuery == (0..<c.headCount).map { $0 / (c.headCount / c.kvHeadCount) } && $0.mlp?.width == c.intermediateSize
        }
        if uniform { config.removeValue(forKey: "darwin_layers") } else {
            // Which dense heads and neurons each block kept, too: a reloaded model can still be expanded to the dense
            // shapes (zeroPadded) with every structure in its place.
            config["darwin_layers"] = model.blocks.map { b -> [String: Any] in
                var layer: [String: Any] = ["kv_of_query": b.attention?.kvOfQuery ?? [], "mlp_width": b.mlp?.width ?? 0]
                if let a = b.attention { layer["dense_heads"] = a.denseHeads ?? Array(0..<a.queryHeads) }
                if let m = b.mlp { layer["dense_neurons"] = m.denseNeurons ?? Array(0..<m.width) }
                return layer
            }
        }
        config["torch_dtype"] = precision.torchName
        // transformers needs both to load the config (a model made in memory may lack them).
        if config["model_type"] == nil { config["model_type"] = c.architecture.modelType }
        if config["architectures"] == nil { config["architectures"] = [c.architecture.rawValue] }
        config.removeValue(forKey: "dtype")
        config["tie_word_embeddings"] = model.tiedEmbeddings
        // Streamed tensor by tensor: a 16-bit model is never held in float32 whole, nor the file in memory.
        let tensors = fileTensors(model)
        var cursor = (index: -1, element: 0)
        try SafeTensorsWriter.stream(tensors.map { ($0.name, $0.shape) }, to: directory + "/model.safetensors",
                                     metadata: ["format": "pt"], precision: precision) { index, chunk in
            if index != cursor.index { cursor = (index, 0) }
            let range = cursor.element..<(cursor.element + chunk.count)
            var start = 0  // the element where the current part begins within the file tensor
            for part in tensors[index].parts {
                let count = part.shape.reduce(1, *), overlap = max(range.lowerBound, start)..<min(range.upperBound, start + count)
                if !overlap.isEmpty {
                    let local = (overlap.lowerBound - start)..<(overlap.upperBound - start), out = chunk.baseAddress! + (overlap.lowerBound - range.lowerBound)
                    switch part {
                    case .matrix(let w): w.convertElements(local, into: out)
                    case .vector(let t): out.update(from: t.contiguous().data + local.lowerBound, count: local.count)
                    }
                }
                start += count
            }
            cursor.element = range.upperBound
        }
        let json = try JSONSerialization.data(withJSONObject: config, options: [.prettyPrinted, .sortedKeys])
        try AtomicFile.write(json, to: directory + "/config.json")
    }
}
