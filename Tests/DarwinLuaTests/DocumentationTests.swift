import Foundation
import Testing
@testable import DarwinLua

/// Runs every ```lua block of README.md and docs/*.md in a fresh host: documented examples must work.
@Suite("documentation examples")
struct DocumentationTests {
    /// (file, block number, code) for every Lua block.
    static let blocks: [(String, Int, String)] = {
        let root = TestSupport.repoRoot
        let docs = ((try? FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("docs").path)) ?? [])
            .filter { $0.hasSuffix(".md") }.sorted().map { "docs/" + $0 }
        return (["README.md"] + docs).flatMap { file -> [(String, Int, String)] in
            guard let text = try? String(contentsOf: root.appendingPathComponent(file), encoding: .utf8) else { return [] }
            return luaBlocks(in: text).enumerated().map { (file, $0.offset + 1, $0.element) }
        }
    }()

    /// The contents of the ```lua fenced blocks of a Markdown text.
    static func luaBlocks(in markdown: String) -> [String] {
        var blocks: [String] = [], current: [String]? = nil
        for line in markdown.split(separator: "\n", omittingEmptySubsequences: false) {
            if current == nil, line.trimmingCharacters(in: .whitespaces) == "```lua" { current = [] }
            else if current != nil, line.trimmingCharacters(in: .whitespaces) == "```" { blocks.append(current!.joined(separator: "\n")); current = nil }
            else if current != nil { current!.append(String(line)) }
        }
        return blocks
    }

    @Test("the docs contain Lua examples")
    func present() { #expect(Self.blocks.count >= 10) }

    @Test("documented Lua example runs", arguments: 0..<blocks.count)
    func run(index: Int) throws {
        let (file, number, code) = Self.blocks[index]
        let host = try TestSupport.host()
        do { try host.run(code, chunkName: "=\(file) block \(number)") } catch {
            Issue.record("\(file) block \(number) failed: \(error)")
        }
    }
}
