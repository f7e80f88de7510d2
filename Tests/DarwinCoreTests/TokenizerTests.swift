import Foundation
import Synchronization
import Testing
@testable import DarwinCore

/// One reference case written by Tests/Fixtures/generate.py with Hugging Face `tokenizers`.
struct TokenizerCase: Decodable {
    let text: String
    let ids: [Int32]
    let ids_with_special: [Int32]
    let decoded: String
}

enum TokenizerFixtures {
    static let kinds = ["bytelevel_gpt2", "bytelevel_llama3", "sentencepiece_bpe", "metaspace_bpe", "added_flags", "added_normalized"]
    static func dir(_ kind: String) -> String { Fixtures.root.appendingPathComponent("tokenizers/\(kind)").path }
    static func cases(_ path: String) throws -> [TokenizerCase] {
        try JSONDecoder().decode([TokenizerCase].self, from: Data(contentsOf: URL(fileURLWithPath: path)))
    }
    static let sharedModel = Fixtures.root.deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("shared/models/darwin-pycode-16m").path
}

@Suite("tokenizers match Hugging Face tokenizers exactly")
struct TokenizerTests {
    static func check(_ tok: Tokenizer, _ cases: [TokenizerCase], label: String) {
        for c in cases {
            #expect(tok.encode(c.text, addSpecialTokens: false) == c.ids, "\(label): ids of \(c.text.debugDescription)")
            #expect(tok.encode(c.text, addSpecialTokens: true) == c.ids_with_special, "\(label): ids with special tokens of \(c.text.debugDescription)")
            #expect(tok.decode(c.ids) == c.decoded, "\(label): decoding of \(c.text.debugDescription)")
        }
    }

    @Test("canonically equivalent spellings stay different text, as in tokenizers (é / e + U+0301, Hangul, Ω / U+2126)",
          arguments: ["sentencepiece_bpe", "metaspace_bpe", "bytelevel_gpt2"])
    func unicodeExact(kind: String) throws {
        let tok = try Tokenizer(path: TokenizerFixtures.dir(kind))
        Self.check(tok, try TokenizerFixtures.cases(TokenizerFixtures.dir(kind) + "/unicode_cases.json"), label: kind + " unicode")
    }

    @Test("fixture tokenizers: ids, special tokens and decoding", arguments: TokenizerFixtures.kinds)
    func fixtures(kind: String) throws {
        let tok = try Tokenizer(path: TokenizerFixtures.dir(kind))
        let cases = try TokenizerFixtures.cases(TokenizerFixtures.dir(kind) + "/cases.json")
        #expect(cases.count >= (kind.hasPrefix("added_") ? 8 : 15))
        Self.check(tok, cases, label: kind)
    }

    @Test("one tokenizer shared by several threads gives each thread the ids it gives alone (its word cache is locked)")
    func sharedBetweenThreads() throws {
        let tok = try Tokenizer(path: TokenizerFixtures.dir("bytelevel_gpt2"))
        let g = RandomGenerator(seed: 9)
        let words = ["def", "class", "return", "naïve", "👍", "x**2", "IT'S", "12345", "  ", "\n", "self", "é"]
        let texts = (0..<8).map { _ in (0..<3000).map { _ in words[g.integer(0, words.count - 1)] + String(g.integer(0, 999)) }.joined(separator: " ") }
        let alone = texts.map { try! Tokenizer(path: TokenizerFixtures.dir("bytelevel_gpt2")).encode($0, addSpecialTokens: false) }
        let together = Mutex<[Int: [Int32]]>([:])
        DispatchQueue.concurrentPerform(iterations: texts.count) { i in
            let ids = tok.encode(texts[i], addSpecialTokens: false)
            together.withLock { $0[i] = ids }
        }
        for i in texts.indices { #expect(together.withLock { $0[i] } == alone[i], "text \(i)") }
    }

    @Test("the shared reference model's tokenizer (skipped without ../shared)",
          .enabled(if: FileManager.default.fileExists(atPath: TokenizerFixtures.sharedModel + "/tokenizer.json")))
    func sharedModel() throws {
        let tok = try Tokenizer(path: TokenizerFixtures.sharedModel)
        Self.check(tok, try TokenizerFixtures.cases(Fixtures.root.appendingPathComponent("tokenizers/shared_darwin_pycode_16m_cases.json").path),
                   label: "darwin-pycode-16m")
        #expect(tok.vocabularySize == 8192 && tok.id(of: "<|endoftext|>") == 0)
    }

    @Test("hand-written split scanners agree with the regexes on random text", arguments: 0..<4)
    func scannersMatchRegex(seed: Int) throws {
        let pool: [Unicode.Scalar] = Array("ab Z'sltrevmdLLSE09 \t\n\r\n.,;:(-)_#\"'ßéΣж日本한👍\u{301}\u{200b}\u{a0}\u{3000}".unicodeScalars)
        let g = RandomGenerator(seed: UInt64(seed))
        let pairs: [(PatternSplitter, String)] = [
            (KnownPatternSplitter(kind: .gpt2), KnownPatternSplitter.gpt2Pattern),
            (KnownPatternSplitter(kind: .llama3(maxDigits: 3)), KnownPatternSplitter.llama3Pattern),
            (KnownPatternSplitter(kind: .llama3(maxDigits: 1)), KnownPatternSplitter.qwen2Pattern),
        ]
        for (fast, pattern) in pairs {
            let regex = try RegexSplitter(pattern: pattern)
            for _ in 0..<150 {
                let text = (0..<g.integer(0, 24)).map { _ in pool[g.integer(0, pool.count - 1)] }
                #expect(fast.matches(in: text) == regex.matches(in: text), "\(pattern) on \(text.map { String($0) }.joined().debugDescription)")
            }
        }
    }

    @Test("patterns that repeat a repeating or alternating group run on the linear-time engine, on long text too")
    func catastrophicPatterns() throws {
        let text = [Unicode.Scalar](repeating: "a", count: 5000) + [Unicode.Scalar](repeating: " ", count: 5000)
        for bad in ["(a*)*b", "(?:\\s+)+$x", "((ab)+c)*", "(x|y+){2,}z", "(a|a)*b", "(?:a|ab)+c", "((a|b)c)+"] {
            let splitter = try RegexSplitter(pattern: bad)
            let started = Date()
            _ = splitter.matches(in: text)
            #expect(Date().timeIntervalSince(started) < 20, "\(bad)")
        }
    }

    @Test("bad tokenizer files give errors naming the file and field")
    func errors() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-tok-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let path = dir.appendingPathComponent("tokenizer.json").path
        try #"{"model": {"type": "WordPiece", "vocab": {}}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        do { _ = try Tokenizer(path: path); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.description == "\(path): model type 'WordPiece' is not supported (supported: BPE)")
        }
        try #"{"model": {"type": "BPE", "vocab": {"a": 0}, "merges": ["a b"]}}"#.write(toFile: path, atomically: true, encoding: .utf8)
        do { _ = try Tokenizer(path: path); Issue.record("expected an error") } catch let e as FormatError {
            #expect(e.message.contains("merge 1 ('a' 'b') uses tokens missing from the vocabulary"))
        }
        #expect(throws: FormatError.self) { try Tokenizer(path: dir.appendingPathComponent("missing.json").path) }
    }
}
