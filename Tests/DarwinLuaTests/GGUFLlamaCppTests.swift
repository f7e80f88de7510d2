import Foundation
import Testing

/// GGUF exports checked in llama.cpp itself (the llama-cpp-python package, `pip install llama-cpp-python`): the
/// perplexity llama.cpp computes from the file matches darwinhost's to 1e-3 relative (f32), and the vocabulary
/// embedded in the file tokenizes sample texts to darwinhost's ids (bench/gguf_reference.lua, bench/verify_gguf.py).
/// Skipped when no Python with `llama_cpp` is found (`DARWIN_LLAMA_PYTHON` names one, else `python3`).
@Suite("GGUF in llama.cpp")
struct GGUFLlamaCppTests {
    static let python = ProcessInfo.processInfo.environment["DARWIN_LLAMA_PYTHON"] ?? "python3"
    static let available: Bool = (try? run([python, "-c", "import llama_cpp"]).status) == 0
    static let sharedModel = TestSupport.repoRoot.appendingPathComponent("../shared/models/darwin-pycode-16m").standardized.path

    static func run(_ arguments: [String]) throws -> (status: Int32, out: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.nullDevice
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// Exports `model` (a checkpoint directory) with bench/gguf_reference.lua and checks it with bench/verify_gguf.py.
    /// `leadingSpaceMay`: texts that start with whitespace may tokenize differently (Metaspace tokenizers, which
    /// llama.cpp cannot express); every other text must give the same ids.
    static func verify(model: String, text: String, tokenizer: String? = nil, in dir: URL, leadingSpaceMay: Bool = false) throws {
        let root = TestSupport.repoRoot.path
        var arguments = [root + "/bench/gguf_reference.lua", "--model", model, "--text", text, "--output", dir.path, "--sequences", "2"]
        if let tokenizer { arguments += ["--tokenizer", tokenizer, "--texts", tokenizer + "/cases.json"] }
        let (status, out, err) = try TestSupport.runExecutable(arguments, directory: dir.deletingLastPathComponent())
        #expect(status == 0, "gguf_reference.lua: \(out) \(err)")
        let check = try run([python, root + "/bench/verify_gguf.py", dir.path + "/model.gguf", dir.path + "/reference.json"])
        let result = try JSONSerialization.jsonObject(with: Data(check.out.utf8)) as? [String: Any]
        let difference = result?["relative_difference"] as? Double ?? .infinity
        #expect(difference < 1e-3)
        let mismatches = (result?["tokenizer_mismatches"] as? [[String: Any]]) ?? [["text": "(no result)"]]
        let unexpected = mismatches.filter { !(leadingSpaceMay && (($0["text"] as? String)?.first?.isWhitespace ?? false)) }
        #expect(unexpected.isEmpty, "\(unexpected)")
        // verify_gguf.py fails on any mismatch; the allowed ones are all it may have found.
        #expect(check.status == 0 || (leadingSpaceMay && unexpected.isEmpty && !mismatches.isEmpty), "verify_gguf.py: \(check.out)")
        #expect((result?["tokenizer_samples"] as? Int ?? 0) > (tokenizer == nil ? 2 : 12))
    }

    /// Tokenizer fixtures with the vocabulary size of each.
    static let tokenizers: [(String, Int)] = [("bytelevel_llama3", 700), ("bytelevel_gpt2", 600), ("sentencepiece_bpe", 900), ("metaspace_bpe", 800)]

    @Test("a pruned random model with uneven KV groups and empty units, each tokenizer kind", .enabled(if: available), arguments: tokenizers)
    func prunedRandomModel(tokenizer: String, vocab: Int) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-gguf-\(getpid())-\(tokenizer)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = """
            local m = darwin.random_model{vocab = \(vocab), hidden = 64, layers = 4, heads = 4, kv_heads = 2, intermediate = 96, head_dim = 16, std = 0.2, seed = 5}
            m:keep(1, "attention", {}); m:keep(2, "attention", {1, 2, 4}); m:keep(3, "mlp", {}); m:keep(4, "mlp", {2, 3, 40})
            m:save(arg[1])
            """
        let (status, _, err) = try TestSupport.runExecutable(["-e", script, "-", dir.path + "/model"])
        #expect(status == 0, "\(err)")
        try Self.verify(model: dir.path + "/model", text: TestSupport.repoRoot.path + "/docs/lua-api.md",
                        tokenizer: TestSupport.repoRoot.path + "/Tests/Fixtures/tokenizers/" + tokenizer, in: dir.appendingPathComponent("out"),
                        leadingSpaceMay: tokenizer == "metaspace_bpe")
    }

    @Test("a searched darwin-pycode-16m (scripts/darwinlm.lua --gguf f32)",
          .enabled(if: available && FileManager.default.fileExists(atPath: sharedModel + "/config.json")))
    func searchedSharedModel() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-gguf-search-\(getpid())")
        defer { try? FileManager.default.removeItem(at: dir) }
        let m = Self.sharedModel
        let (status, out, err) = try TestSupport.runExecutable([
            TestSupport.repoRoot.path + "/scripts/darwinlm.lua", "--model", m, "--data", m + "/data/calib.txt.gz", "--eval-data", m + "/data/eval.txt.gz",
            "--output", dir.path, "--level", "0.5", "--generations", "2", "--offspring", "4", "--train-tokens", "0", "--post-train-tokens", "1024",
            "--seqlen", "128", "--calibration-sequences", "8", "--gguf", "f32"])
        #expect(status == 0, "\(out) \(err)")
        #expect(out.contains("llama.cpp architecture 'deci'"))
        try Self.verify(model: dir.path + "/model", text: m + "/data/eval.txt.gz", in: dir.appendingPathComponent("check"))
    }
}
