import Foundation
import Testing
@testable import DarwinLua

@Suite("darwinhost executable")
struct CommandLineTests {
    @Test("-e runs code; the issue's example prints a 4x4 product")
    func evaluate() throws {
        let (status, out, _) = try TestSupport.runExecutable(["-e", "local t = tensor.randn(4,4); print(t:matmul(t:t()))"])
        #expect(status == 0)
        #expect(out.hasPrefix("tensor([[") && out.contains("shape=[4, 4], dtype=float32)"))
    }

    @Test("scripts get arg and ..., errors exit 1 with a traceback")
    func scripts() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwinhost-cli-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let ok = dir.appendingPathComponent("ok.lua"), bad = dir.appendingPathComponent("bad.lua")
        try "#!/usr/bin/env darwinhost\nlocal a, b = ...\nprint(arg[0], arg[1], a, b, #arg)".write(to: ok, atomically: true, encoding: .utf8)
        try "local function f()\n  tensor.zeros(2):reshape(3)\nend\nf()".write(to: bad, atomically: true, encoding: .utf8)
        let (s1, o1, _) = try TestSupport.runExecutable([ok.path, "x", "y"])
        #expect(s1 == 0 && o1 == "\(ok.path)\tx\tx\ty\t2\n")
        let (s2, _, e2) = try TestSupport.runExecutable([bad.path])
        #expect(s2 == 1)
        #expect(e2.contains("bad.lua:2: tensor.reshape: cannot reshape [2] (2 elements) into [3]"))
        #expect(e2.contains("stack traceback:") && e2.contains("in local 'f'"))
        let (s3, _, e3) = try TestSupport.runExecutable([dir.appendingPathComponent("missing.lua").path])
        #expect(s3 == 1 && e3.contains("cannot open") && e3.contains("missing.lua"))
    }

    @Test("options: --version, --help, --threads, bad options")
    func options() throws {
        #expect(try TestSupport.runExecutable(["--version"]).1.hasPrefix("darwinhost \(LuaHost.version)"))
        #expect(try TestSupport.runExecutable(["--help"]).1.contains("usage: darwinhost"))
        #expect(try TestSupport.runExecutable(["--threads", "1", "-e", "print(darwin.threads())"]).1 == "1\n")
        let (s, _, e) = try TestSupport.runExecutable(["--threads", "zero"])
        #expect(s == 2 && e.contains("--threads expects a positive integer"))
        #expect(try TestSupport.runExecutable(["--frobnicate"]).0 == 2)
    }

    @Test("the REPL reads piped lines with -i and keeps going after errors")
    func interactive() throws {
        let (status, out, err) = try TestSupport.runExecutable(["-i", "-e", "y = 2"], stdin: "for i = 1, 2 do\ny = y * 3\nend\nerror('oops')\n=y\n",
                                                               environment: ["HOME": FileManager.default.temporaryDirectory.path])
        #expect(status == 0)
        #expect(out.contains("18"))
        #expect(err.contains("oops"))
    }

    @Test("Ctrl-C interrupts a running script with an error and a traceback")
    func interrupt() throws {
        let (status, _, err) = try TestSupport.runExecutable(["-e", "local function spin() while true do end end\nspin()"], interruptAfter: 0.5)
        #expect(status == 1)
        #expect(err.contains("interrupted!") && err.contains("stack traceback") && err.contains("spin"))
    }

    @Test("stdlib is found from another working directory and via DARWIN_PATH")
    func stdlibLocation() throws {
        let (s, out, _) = try TestSupport.runExecutable(["-e", "print(require('pretty').format({1, x = 2}))"],
                                                        directory: FileManager.default.temporaryDirectory)
        #expect(s == 0 && out == "{1, x = 2}\n")
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-path-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try "return { format = function() return 'custom' end }".write(to: dir.appendingPathComponent("pretty.lua"), atomically: true, encoding: .utf8)
        let (_, custom, _) = try TestSupport.runExecutable(["-e", "print(require('pretty').format(1), darwin.stdlib)"], environment: ["DARWIN_PATH": dir.path])
        #expect(custom == "custom\t\(dir.path)\n")
    }
}

@Suite("example scripts")
struct ExampleScriptTests {
    @Test("quickstart trains: the loss falls and accuracy beats chance (25%)")
    func quickstart() throws {
        let script = TestSupport.repoRoot.appendingPathComponent("scripts/quickstart.lua").path
        let (status, out, err) = try TestSupport.runExecutable([script, "60"])
        #expect(status == 0, "stderr: \(err)")
        let losses = out.split(separator: "\n").filter { $0.hasPrefix("step") }.compactMap { Double($0.split(separator: " ").last!) }
        #expect(losses.count >= 2 && losses.first! > 1.38 && losses.last! < 0.9)
        let accuracy = out.split(separator: "\n").last { $0.hasPrefix("accuracy") }.flatMap { Double($0.dropFirst(9).prefix { $0 != "%" }) }
        #expect((accuracy ?? 0) > 50)
    }
}
