import Foundation
import Testing

/// darwinhost on Intel's MKL through `scripts/setup-mkl.sh` (an OpenBLAS interface over MKL, found on the library
/// path): the same numbers and the same pruning choices as on OpenBLAS. Skipped where the script has not been run
/// (CI, a fresh clone): MKL is a 220 MB download.
@Suite("alternative BLAS")
struct AlternativeBLASTests {
    static let mklLibraries = TestSupport.repoRoot.appendingPathComponent(".build/mkl/lib")

    /// A forward pass, two training steps and a small database, printed by a script run on each library.
    static let script = #"""
        local m = darwin.random_model{vocab = 300, hidden = 128, layers = 2, heads = 4, kv_heads = 2, intermediate = 384, seed = 5}
        local ids = {}
        for i = 1, 4 do ids[i] = {} for j = 1, 48 do ids[i][j] = (i * 37 + j * 11) % 300 end end
        ids = tensor(ids)
        local logits = m:forward(ids)
        print(darwin.blas)
        print(string.format("%.9g %.9g %.9g", logits:sum(), logits:max(), logits:min()))
        local trainer = darwin.trainer(m:clone(), {lr = 1e-3})
        print(string.format("%.9g %.9g", trainer:step(ids), trainer:step(ids)))
        local db = darwin.database.build(m, ids, {path = arg[1], levels = 4, quiet = true})
        for block = 1, 2 do
            for _, kind in ipairs({"attention", "mlp"}) do
                for level = 1, 3 do print(kind, level, table.concat(db:kept(block, kind, level), ",")) end
            end
        end
        """#

    /// Runs the script with `libraryPath` first on LD_LIBRARY_PATH (nil: the system's OpenBLAS); its output lines.
    /// Folders of the inherited path that hold a libopenblas.so.0 of their own (this test run itself on MKL) are left
    /// out, so that the system's library is the other side.
    static func run(libraryPath: String?) throws -> [Substring] {
        let inherited = (ProcessInfo.processInfo.environment["LD_LIBRARY_PATH"] ?? "").split(separator: ":").map(String.init)
        let kept = inherited.filter { !FileManager.default.fileExists(atPath: $0 + "/libopenblas.so.0") }
        let environment = ["LD_LIBRARY_PATH": ((libraryPath.map { [$0] } ?? []) + kept).joined(separator: ":")]
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-blas-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }
        let file = work.appendingPathComponent("numbers.lua")
        try script.write(to: file, atomically: true, encoding: .utf8)
        let (status, out, err) = try TestSupport.runExecutable([file.path, work.appendingPathComponent("db").path], environment: environment)
        #expect(status == 0, "\(err)")
        return out.split(separator: "\n")
    }

    @Test("on MKL (scripts/setup-mkl.sh), forward, training and the database agree with OpenBLAS",
          .enabled(if: FileManager.default.fileExists(atPath: mklLibraries.appendingPathComponent("libopenblas.so.0").path)))
    func mklAgreesWithOpenBLAS() throws {
        let openBLAS = try Self.run(libraryPath: nil), mkl = try Self.run(libraryPath: Self.mklLibraries.path)
        try #require(openBLAS.count == 15 && mkl.count == 15, "\(openBLAS) \(mkl)")
        #expect(openBLAS[0].hasPrefix("OpenBLAS ") && mkl[0].hasPrefix("MKL "))
        for line in 1...2 {
            let a = openBLAS[line].split(separator: " ").compactMap { Double($0) }
            let b = mkl[line].split(separator: " ").compactMap { Double($0) }
            #expect(a.count == b.count && a.count >= 2)
            for (x, y) in zip(a, b) { #expect(abs(x - y) <= 1e-5 * max(1, abs(x)), "line \(line): \(x) vs \(y)") }
        }
        #expect(Array(openBLAS[3...]) == Array(mkl[3...]), "the database's kept structures differ")
    }
}
