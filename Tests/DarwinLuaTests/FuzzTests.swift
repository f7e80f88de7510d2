import Foundation
import Testing

/// Seeded fuzzing in a child process (`Tests/fuzz/fuzz.lua`): thousands of calls of every bound function and method
/// with wrong types, NaN, infinities, huge, negative and fractional numbers, nested and self-referencing tables
/// and coroutines, and thousands of mutated checkpoints, configs, tokenizers, `.npy`, JSONL and database
/// manifests. The process must end normally: any trap, abort or signal fails the test.
@Suite("fuzzing the host")
struct FuzzTests {
    @Test("random calls and mutated files end in a Lua error or success, never a crash", arguments: [1, 2, 3])
    func fuzz(seed: Int) throws {
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-fuzz-\(getpid())-\(seed)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: scratch) }
        // An address-space limit makes impossible allocations fail quickly instead of paging.
        let (ok, text, errors) = try TestSupport.runShell("ulimit -v 8000000 && exec \"$0\" \"$1\" \"$2\" 5000 1500 \"$3\"",
            arguments: [TestSupport.repoRoot.appendingPathComponent("Tests/fuzz/fuzz.lua").path, TestSupport.repoRoot.path, String(seed)],
            directory: scratch)
        #expect(ok, "seed \(seed): \(errors.prefix(3000))")
        let summary = text.split(separator: "\n").last.map(String.init) ?? ""
        #expect(summary.hasPrefix("fuzz: 5000 calls of ") && summary.hasSuffix(", 1500 mutated files"), "\(summary)")
        print(summary)
    }
}
