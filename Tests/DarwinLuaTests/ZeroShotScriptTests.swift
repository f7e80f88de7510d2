import Foundation
import Testing

/// `--tasks` on the scripts: darwinlm.lua's and compare.lua's accuracy columns, and scripts/evaluate.lua, which must
/// give the same numbers for the models the search saved. The numbers themselves are checked against
/// lm-evaluation-harness in Tests/lua/test_eval.lua.
@Suite("zero-shot accuracy in the scripts")
struct ZeroShotScriptTests {
    static let fixture = TestSupport.repoRoot.appendingPathComponent("Tests/Fixtures/zeroshot").path
    static var model: String { fixture + "/models/llama3_bos" }
    static var taskFiles: [String] { ["arc", "piqa", "custom"].map { fixture + "/tasks/\($0).jsonl" } }
    static func script(_ name: String) -> String { TestSupport.repoRoot.appendingPathComponent("scripts/\(name)").path }

    /// Plain text for calibration and training: sentences from a small word list.
    static func textFile(_ dir: URL) throws -> String {
        let words = "the a model prunes heads and neurons of every block def return x print import data train loss value water sun cat".split(separator: " ")
        var state: UInt64 = 1
        let lines = (0..<400).map { _ in
            (0..<12).map { _ -> Substring in
                state = state &* 6364136223846793005 &+ 1442695040888963407
                return words[Int(state >> 33) % words.count]
            }.joined(separator: " ") + "."
        }
        let path = dir.appendingPathComponent("text.txt").path
        try lines.joined(separator: "\n").write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    /// Markdown table rows by their first cell: the remaining cells.
    static func tableRows(_ text: String) -> [String: [String]] {
        var rows: [String: [String]] = [:]
        for line in text.split(separator: "\n") where line.hasPrefix("| ") {
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            rows[cells[0]] = Array(cells.dropFirst())
        }
        return rows
    }

    @Test("darwinlm.lua adds accuracy columns, evaluate.lua agrees on the saved model, compare.lua adds columns")
    func accuracyColumns() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("zeroshot-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let data = try Self.textFile(dir)
        let out = dir.appendingPathComponent("run").path
        let common = ["--model", Self.model, "--data", data, "--seqlen", "16", "--calibration-sequences", "4", "--eval-sequences", "2",
                      "--levels", "4", "--level", "2", "--offspring", "3", "--fitness-tokens", "64", "--post-train-tokens", "64"]
        let (s1, o1, e1) = try TestSupport.runExecutable([Self.script("darwinlm.lua")] + common +
            ["--output", out, "--train-tokens", "32", "--stages", "2", "--generations", "2", "--tasks"] + Self.taskFiles)
        #expect(s1 == 0, "stderr: \(e1)")
        let accuracy = Self.tableRows(try String(contentsOfFile: out + "/accuracy.md", encoding: .utf8))
        #expect(accuracy["model"] == ["arc acc", "arc acc_norm", "piqa acc", "piqa acc_norm", "custom acc", "custom acc_norm", "mean acc", "mean acc_norm"])
        #expect(Set(accuracy.keys) == ["model", "dense", "uniform", "searched"], "\(accuracy)")
        #expect(o1.contains("| searched | "))
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))) as! [String: Any]
        let searched = (results["searched"] as! [String: Any])["accuracy"] as! [[String: Any]]
        #expect(searched.map { $0["task"] as! String } == ["arc", "piqa", "custom"])
        #expect(searched.map { $0["n"] as! Int } == [6, 4, 4])

        // evaluate.lua on the dense checkpoint and the searched model darwinlm.lua saved: the same cells.
        let (s2, o2, e2) = try TestSupport.runExecutable([Self.script("evaluate.lua"), "--model", Self.model, out + "/model",
                                                          "--tasks"] + Self.taskFiles + ["--output", dir.appendingPathComponent("eval").path])
        #expect(s2 == 0, "stderr: \(e2)")
        let evaluated = Self.tableRows(o2)
        #expect(evaluated[Self.model] == accuracy["dense"], "\(o2)")
        #expect(evaluated[out + "/model"] == accuracy["searched"], "\(o2)")
        let report = try JSONSerialization.jsonObject(with: Data(contentsOf: dir.appendingPathComponent("eval.json"))) as! [String: Any]
        let first = ((report["models"] as! [[String: Any]])[0]["tasks"] as! [[String: Any]])[0]
        #expect((first["questions"] as! [[String: Any]]).count == 6 && first["acc_stderr"] != nil)

        // compare.lua: the task columns after its own, one row per strategy.
        let (s3, _, e3) = try TestSupport.runExecutable([Self.script("compare.lua")] + common +
            ["--output", out + "-compare", "--strategies", "uniform,evopress", "--generations", "1", "--tasks", Self.taskFiles[0], "--task-limit", "3"])
        #expect(s3 == 0, "stderr: \(e3)")
        let compared = Self.tableRows(try String(contentsOfFile: out + "-compare/results.md", encoding: .utf8))
        #expect(compared["strategy"]?.suffix(4) == ["arc acc", "arc acc_norm", "mean acc", "mean acc_norm"])
        #expect(compared["dense"]?.suffix(4) == accuracy["dense"].map { _ in Array(compared["dense"]!.suffix(4)) } ?? [])
        #expect(Set(compared.keys) == ["strategy", "dense", "uniform", "EvoPress"], "\(compared)")

        // A bad task file stops the run before any work, naming the file and line.
        let bad = dir.appendingPathComponent("bad.jsonl").path
        try "{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"gold\": 5}\n".write(toFile: bad, atomically: true, encoding: .utf8)
        let (s4, _, e4) = try TestSupport.runExecutable([Self.script("darwinlm.lua")] + common + ["--output", out + "-bad", "--tasks", bad])
        #expect(s4 == 1 && e4.contains("bad.jsonl:1: gold index 5 is not among the 2 choices"), "\(e4)")
        #expect(!FileManager.default.fileExists(atPath: out + "-bad"))
        let (s5, _, e5) = try TestSupport.runExecutable([Self.script("evaluate.lua"), "--model", Self.model])
        #expect(s5 == 1 && e5.contains("option --tasks is required"), "\(e5)")
        // An option right after --tasks is not taken for a file.
        let (s7, _, e7) = try TestSupport.runExecutable([Self.script("evaluate.lua"), "--model", Self.model, "--tasks", "--task-limit", "3"])
        #expect(s7 == 1 && e7.contains("option --tasks needs a value"), "\(e7)")
    }
}
