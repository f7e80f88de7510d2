import DarwinCore
import Foundation
import Testing

/// darwin.progress and the progress of darwinhost's long phases: one line rewritten in place on a terminal (run here
/// through a pseudo-terminal with script(1)), plain lines in a log.
@Suite("progress lines")
struct ProgressTests {
    static let script = """
        local p = darwin.progress("work", 4, {unit = "items"})
        for _ = 1, 4 do local t = os.clock() while os.clock() - t < 0.15 do end p:step() end
        p:finish()
        local model = darwin.random_model{vocab = 64, hidden = 16, layers = 3, heads = 2, intermediate = 32, seed = 1}
        local path = os.tmpname(); os.remove(path)
        darwin.database.build(model, darwin.tensor.arange(0, 64):reshape(4, 16), {path = path, levels = 2})
        os.execute("rm -r '" .. path .. "'")
        """

    @Test("on a terminal: one line updated in place, with rate and ETA", .enabled(if: FileManager.default.fileExists(atPath: "/usr/bin/script")))
    func terminal() throws {
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-progress-\(getpid()).lua")
        try Self.script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        // script(1) runs the command on a pseudo-terminal and copies what it writes there to our pipe.
        let (ok, out, err) = try TestSupport.runShell("TERM=xterm script -qfec \"$0 '$1'\" /dev/null", arguments: [file.path])
        #expect(ok, "\(out) \(err)")
        #expect(out.contains("\r\u{1B}[Kwork  1/4 items   25%"))
        #expect(out.contains("items/s") && out.contains("ETA"))
        #expect(out.contains("work  4/4 items  in "))
        #expect(out.contains("\r\u{1B}[Kdatabase  "), "the database build shows a live line")
        #expect(out.contains("database  3/3 blocks  in "))
    }

    @Test("in a log: plain lines only, at most one per interval, and the total at the end")
    func log() throws {
        let (status, _, err) = try TestSupport.runExecutable(["-e", Self.script])
        #expect(status == 0, "\(err)")
        #expect(!err.contains("\r") && !err.contains("\u{1B}"))
        let work = err.split(separator: "\n").filter { $0.hasPrefix("work") }
        #expect(work.count == 2, "first update and the finish: \(work)")
        #expect(work.last?.hasPrefix("work  4/4 items  in ") == true)
        #expect(err.contains("database: block 3/3 pruned in"))
    }

    @Test("the text: fraction, rate, time left; resumed units do not count in the rate")
    func text() {
        #expect(ProgressLine.describe(label: "database", done: 3, total: 24, unit: "blocks", seconds: 6, note: nil)
                == "database  3/24 blocks   12%  2.0 s/block  ETA 42.0 s")
        #expect(ProgressLine.describe(label: "gen 2", done: 30, total: 40, unit: "candidates", seconds: 10, note: "stage 1/2")
                == "gen 2  30/40 candidates   75%  3.0 candidates/s  ETA 3.3 s  stage 1/2")
        #expect(ProgressLine.describe(label: "db", done: 22, total: 24, unit: "blocks", seconds: 60, baseline: 20, note: nil)
                == "db  22/24 blocks   92%  30.0 s/block  ETA 1:00")
        #expect(ProgressLine.describe(label: "x", done: 0, total: 10, unit: "steps", seconds: 1, note: nil) == "x  0/10 steps    0%")
    }

    @Test("darwin.progress checks its numbers")
    func arguments() throws {
        let host = try TestSupport.host()
        #expect(TestSupport.errorMessage(host, "darwin.progress('x', 0/0)")?.contains("bad argument #2 to 'progress'") == true)
        #expect(TestSupport.errorMessage(host, "darwin.progress('x', 3):update(-1)")?.contains("bad argument #1 to 'update'") == true)
        #expect(TestSupport.errorMessage(host, "darwin.progress('x', 3, {units = 'a'})")?.contains("units") == true)
    }
}
