import Foundation
import Testing
@testable import DarwinLua

/// Runs every `Tests/lua/test_*.lua` file; each uses `assert` and the helpers in `Tests/lua/check.lua`.
@Suite("Lua test files")
struct LuaScriptTests {
    static let directory = TestSupport.repoRoot.appendingPathComponent("Tests/lua")
    static let files: [String] = ((try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [])
        .filter { $0.hasPrefix("test_") && $0.hasSuffix(".lua") }.sorted()

    @Test("there are Lua test files")
    func present() { #expect(!Self.files.isEmpty) }

    @Test("Lua test file passes", arguments: files)
    func run(file: String) throws {
        let host = try TestSupport.host()
        try ScriptRunner.runChunk(host, code: "local dir, root = ...\npackage.path = dir .. '/?.lua;' .. package.path\ndarwin.test_root = root",
                                  chunkName: "=(setup)", arguments: [Self.directory.path, TestSupport.repoRoot.path])
        try ScriptRunner.runFile(host, path: Self.directory.appendingPathComponent(file).path, arguments: [])
    }
}
