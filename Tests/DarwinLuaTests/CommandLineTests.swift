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
        // The version line names the BLAS the process loaded (its own version string), as `darwin.blas` does:
        // OpenBLAS, or MKL through scripts/setup-mkl.sh.
        let version = try TestSupport.runExecutable(["--version"]).1
        #expect(version.hasPrefix("darwinhost \(LuaHost.version) (Lua 5.4, "))
        let blas = try TestSupport.runExecutable(["-e", "io.write(darwin.blas)"]).1
        let named = blas.range(of: #"^(OpenBLAS \d+\.\d+\.\d+|MKL \d+\.\d+)"#, options: .regularExpression) != nil
        #expect(named && version.contains("(Lua 5.4, \(blas))"))
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

    @Test("Ctrl-C at the REPL prompt cancels the line (and a pending chunk) instead of ending the session",
          .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func interruptAtPrompt() throws {
        // A pseudo-terminal (util-linux `script`) turns the typed ^C into SIGINT, as a terminal does.
        let typing = #"""
            (sleep 2; printf 'x = 1'; sleep 0.7; printf '\003'; sleep 0.7; printf 'for i = 1, 2 do\n'; sleep 0.7; printf '\003'; \
             sleep 0.7; printf 'print("after", x)\n'; sleep 0.7; printf '\004'; sleep 1) | script -qfec "$0" /dev/null
            """#
        // The exit status is not checked: how `script` ends when its input closes varies between util-linux versions.
        let (_, out, _) = try TestSupport.runShell(typing, arguments: [])
        #expect(out.contains("after\tnil") && out.components(separatedBy: "^C").count == 3, "\(out)")
    }

    @Test("Tab at the prompt completes module fields and methods", .enabled(if: FileManager.default.isExecutableFile(atPath: "/usr/bin/script")))
    func tabCompletion() throws {
        let typing = #"""
            (sleep 2; printf 't = darwin.tensor.zer\ts(3)\n'; sleep 0.7; printf 'print("n =", t:nu\t())\n'; sleep 0.7; printf '\004'; sleep 1) \
             | script -qfec "$0" /dev/null
            """#
        let (_, out, _) = try TestSupport.runShell(typing, arguments: [])
        #expect(out.contains("n =\t3"), "\(out)")
    }

    @Test("Ctrl-C stops a database build inside Swift promptly; the build resumes from the blocks it finished")
    func interruptLongSwiftWork() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-interrupt-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let script = """
            local m = darwin.random_model{vocab = 512, hidden = 256, layers = 6, heads = 4, kv_heads = 2, intermediate = 2048, seed = 3}
            local calib = {}
            for i = 1, 8 do calib[i] = {} for j = 1, 256 do calib[i][j] = (i * j) % 500 end end
            print("started"); io.stdout:flush()
            local db = darwin.database.build(m, calib, {path = arg[1], quiet = true})
            print("built", db:complete())
            """
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-interrupt-\(UUID().uuidString).lua")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        let start = Date()
        let (status, out, err) = try TestSupport.runExecutable([file.path, dir.path], interruptAfter: 1.5)
        let elapsed = Date().timeIntervalSince(start)
        #expect(status == 1 && out.contains("started") && !out.contains("built"), "\(out) \(err)")
        #expect(err.contains("interrupted"), "\(err)")
        // The whole build takes several seconds; the interrupt lands between blocks or OBS removals.
        #expect(elapsed < 6, "took \(elapsed) s to stop")
        let (again, out2, err2) = try TestSupport.runExecutable([file.path, dir.path])
        #expect(again == 0 && out2.contains("built\ttrue"), "\(err2)")
    }

    @Test("bytes reach Lua unchanged: a BOM is skipped, non-UTF-8 scripts, paths, arguments and -e chunks; arg as in lua.c")
    func bytesEndToEnd() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-bytes-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        // A script in a directory whose name is not UTF-8, starting with a BOM, holding a raw 0xFF byte in a string.
        let script = #"""
            mkdir -p "$1/d$(printf '\377')" && printf '\357\273\277local s = "\377"\nprint(#s, s:byte(), #arg[1], arg[1]:byte(), arg[-2], arg[-1])\n' > "$1/d$(printf '\377')/s.lua" && \
            exec "$0" -e "$(printf 'x = "\351"')" "$1/d$(printf '\377')/s.lua" "$(printf '\376')"
            """#
        let (ok, text, errors) = try TestSupport.runShell(script, arguments: [dir.path])
        #expect(ok, "\(errors)")
        // #s == 1 and byte 255 (not U+FFFD), the argument's one byte 254, arg[-2] = "-e", arg[-1] = the chunk (as lua.c).
        #expect(text.hasPrefix("1\t255\t1\t254\t-e\tx = "), "\(text)")
        let (status, chunkOut, _) = try TestSupport.runExecutable(["-e", "print(arg[0], arg[1], #arg)", "--", "-", "y"], stdin: "print('stdin', ...)")
        #expect(status == 0 && chunkOut.contains("stdin\ty"), "\(chunkOut)")
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
    @Test("softmax_regression trains: the loss falls and accuracy beats chance (25%)")
    func softmaxRegression() throws {
        let script = TestSupport.repoRoot.appendingPathComponent("scripts/softmax_regression.lua").path
        let (status, out, err) = try TestSupport.runExecutable([script, "60"])
        #expect(status == 0, "stderr: \(err)")
        let losses = out.split(separator: "\n").filter { $0.hasPrefix("step") }.compactMap { Double($0.split(separator: " ").last!) }
        #expect(losses.count >= 2 && losses.first! > 1.38 && losses.last! < 0.9)
        let accuracy = out.split(separator: "\n").last { $0.hasPrefix("accuracy") }.flatMap { Double($0.dropFirst(9).prefix { $0 != "%" }) }
        #expect((accuracy ?? 0) > 50)
    }
}

@Suite("pruning scripts end to end")
struct PruningScriptTests {
    /// Random token ids below `vocab` as a nanoGPT-style .bin file.
    static func tokenFile(_ dir: URL, count: Int, vocab: Int) throws -> String {
        var data = Data()
        var state: UInt64 = 12345
        for _ in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            withUnsafeBytes(of: UInt16(Int(state >> 33) % vocab).littleEndian) { data.append(contentsOf: $0) }
        }
        let path = dir.appendingPathComponent("tokens.bin").path
        try data.write(to: URL(fileURLWithPath: path))
        return path
    }

    @Test("darwinlm.lua searches, resumes, post-trains and exports; evopress.lua, uniform.lua and adapt_pruner.lua run")
    func pipeline() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("darwinlm-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = TestSupport.repoRoot.appendingPathComponent("Tests/Fixtures/models/llama3_bias_bf16_sharded").path
        let data = try Self.tokenFile(dir, count: 3000, vocab: 80)
        let out = dir.appendingPathComponent("run").path
        let script = TestSupport.repoRoot.appendingPathComponent("scripts/darwinlm.lua").path
        let common = ["--model", model, "--data", data, "--output", out, "--seqlen", "8", "--calibration-sequences", "4",
                      "--offspring", "3", "--fitness-tokens", "32", "--train-tokens", "32", "--stages", "2",
                      "--post-train-tokens", "64", "--eval-sequences", "2", "--levels", "4", "--level", "2"]
        let (s1, o1, e1) = try TestSupport.runExecutable([script] + common + ["--generations", "2"])
        #expect(s1 == 0, "stderr: \(e1)")
        #expect(o1.contains("generation   2") && o1.contains("searched"))
        let (s2, o2, e2) = try TestSupport.runExecutable([script] + common + ["--generations", "3", "--resume"])
        #expect(s2 == 0, "stderr: \(e2)")
        #expect(o2.contains("resuming at generation 3") && !o2.contains("generation   1 "))
        let log = try String(contentsOfFile: out + "/log.jsonl", encoding: .utf8).split(separator: "\n")
        #expect(log.count == 3)
        let results = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "/results.json"))) as! [String: Any]
        let searched = results["searched"] as! [String: Any], uniform = results["uniform"] as! [String: Any]
        #expect((searched["params"] as! Int) <= (uniform["params"] as! Int))  // never above the uniform budget
        let config = try String(contentsOfFile: out + "/config.txt", encoding: .utf8)
        #expect(config.hasPrefix("model.layers.0.self_attn: ") && config.split(separator: "\n").count == 6)
        #expect(FileManager.default.fileExists(atPath: out + "/model/config.json"))
        let evopress = TestSupport.repoRoot.appendingPathComponent("scripts/evopress.lua").path
        let (s3, o3, e3) = try TestSupport.runExecutable([evopress] + common.map { $0 == out ? out + "-evo" : $0 } + ["--generations", "1"])
        #expect(s3 == 0 && o3.contains("searched"), "stderr: \(e3)")
        let uniformScript = TestSupport.repoRoot.appendingPathComponent("scripts/uniform.lua").path
        let (s4, o4, e4) = try TestSupport.runExecutable([uniformScript, "--model", model, "--data", data, "--database", out + "/database",
                                                          "--seqlen", "8", "--calibration-sequences", "4", "--levels", "4", "--level", "2", "--eval-sequences", "2"])
        #expect(s4 == 0 && o4.contains("uniform"), "stderr: \(e4)")
        // Adapt-Pruner: 4 steps to 50% of heads and neurons with training between them, interrupted state resumed.
        let adaptScript = TestSupport.repoRoot.appendingPathComponent("scripts/adapt_pruner.lua").path
        let adaptArgs = [adaptScript, "--model", model, "--data", data, "--output", out + "-adapt", "--seqlen", "8",
                         "--calibration-sequences", "4", "--gradient-sequences", "4", "--gradient-seqlen", "8", "--sparsity", "0.5",
                         "--fraction", "0.25", "--train-tokens", "64", "--eval-sequences", "2"]
        let (s6, o6, e6) = try TestSupport.runExecutable(adaptArgs)
        #expect(s6 == 0 && o6.contains("step  4/4") && o6.contains("adapt-pruner"), "stderr: \(e6)")
        let adaptResults = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out + "-adapt/results.json"))) as! [String: Any]
        let adapted = adaptResults["adapt_pruner"] as! [String: Any], denseRow = adaptResults["dense"] as! [String: Any]
        #expect((adapted["params"] as! Int) < (denseRow["params"] as! Int))
        let (s7, o7, e7) = try TestSupport.runExecutable(adaptArgs + ["--resume"])
        #expect(s7 == 0 && o7.contains("resuming Adapt-Pruner at step 5") && !o7.contains("step  1/4"), "stderr: \(e7)")
        #expect(FileManager.default.fileExists(atPath: out + "-adapt/model/config.json"))
        let (s5, _, e5) = try TestSupport.runExecutable([script, "--data", data])
        #expect(s5 == 1 && e5.contains("option --model is required"))
        // Nothing the first search made is lost: a rerun without --resume stops, a resume with another target is
        // refused naming the setting, and bad options fail before any work.
        let (s8, _, e8) = try TestSupport.runExecutable([script] + common + ["--generations", "3"])
        #expect(s8 == 1 && e8.contains("state.json holds a saved search: resume it (--resume) or start again over it (--overwrite)"), "\(e8)")
        let (s9, _, e9) = try TestSupport.runExecutable([script] + common.map { $0 == "2" ? "1" : $0 } + ["--generations", "4", "--resume"])
        #expect(s9 == 1 && e9.contains("it was saved by a search with level = 2, this run asks for 1"), "\(e9)")
        let (s10, _, e10) = try TestSupport.runExecutable([script] + common + ["--level", "99"])
        #expect(s10 == 1 && e10.contains("--level 99 does not exist") && e10.contains("choose --level 0..4"), "\(e10)")
        let (s11, _, e11) = try TestSupport.runExecutable([script] + common + ["--batch-size", "0"])
        #expect(s11 == 1 && e11.contains("option --batch-size must be at least 1, got 0"), "\(e11)")
        #expect(FileManager.default.fileExists(atPath: out + "/state.json"))
    }
}

@Suite("replaceable pieces of the search")
struct SearchPieceTests {
    /// User modules, in a folder outside stdlib/, for each piece of the search (and broken ones for each contract).
    static let modules: [String: String] = [
        // The stock KL composed with a size penalty, as a plain function.
        "my_fitness.lua": """
            local fitness = require("fitness")
            return function(model, batch) return fitness.kl(model, batch) + 1e-9 * model:parameters() end
            """,
        // A selection that returns only the best genome (no stage records): one round of scoring, no training.
        "my_selection.lua": """
            return {select = function(candidates, ctx)
              local batch = ctx.fitness.prepare(ctx, ctx.sample("fitness", 32))
              local best, best_score
              for _, g in ipairs(candidates) do
                local m = ctx.model:clone(); m:apply(ctx.db, g)
                local s = ctx.fitness.score(m, batch); m:close()
                if not best_score or s < best_score then best, best_score = g, s end
              end
              return best
            end}
            """,
        "my_finetune.lua": """
            local finetune = require("finetune")
            calls = 0
            return function(model, ids, ctx) calls = calls + 1; io.stderr:write("my_finetune ", ids:size(1), "\\n"); return finetune.adamw(model, ids, ctx) end
            """,
        "my_schedule.lua": "return {{survivors = 2, tokens = 16, train_tokens = 16}, {survivors = 1, tokens = 32, train_tokens = 0}}",
        "bad_mutation.lua": "return function(parent, ctx) parent.mlp[1] = 0; return parent end",
        "bad_fitness.lua": "return {score = function(model, batch) return nil end}",
        "bad_selection.lua": "return function(candidates, ctx) return 'the best one' end",
        "bad_schedule.lua": "return {{survivors = 0, tokens = 16}}",
        "bad_finetune.lua": "return function(model, ids, ctx) return 42 end",
        // A whole strategy on the public API for compare.lua: random search at the target size, then post-training.
        "random_search.lua": """
            local genome, mutation, fitness = require("genome"), require("mutation"), require("fitness")
            return {name = "random-search", run = function(ctx)
              local sctx = {db = ctx.db, rng = darwin.generator(1), dense = ctx.dense, batch_size = 4}
              local batch = fitness.kl.prepare(sctx, ctx.inputs.calibration)
              local best, best_score = ctx.uniform, math.huge
              for _ = 1, 4 do
                local g = ctx.uniform
                for _ = 1, 3 do g = mutation.level_switch(g, sctx) end
                if ctx.db:params(g) <= ctx.db:params(ctx.uniform) then
                  local m = ctx.dense:clone(); m:apply(ctx.db, g)
                  local s = fitness.kl(m, batch); m:close()
                  if s < best_score then best, best_score = g, s end
                end
              end
              local m = ctx.dense:clone(); m:apply(ctx.db, best)
              return m, ctx.post_train(m)
            end}
            """,
        "bad_strategy.lua": "return function(ctx) return ctx.uniform end",
    ]

    @Test("each piece is replaced from the command line by a user module; broken pieces stop with the contract's message")
    func userPieces() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("pieces-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        for (name, text) in Self.modules { try text.write(to: dir.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        // The generator-style (coroutine) mutation of examples/, copied into the folder like a user's own file.
        try FileManager.default.copyItem(atPath: TestSupport.repoRoot.appendingPathComponent("examples/generator_mutation.lua").path,
                                         toPath: dir.appendingPathComponent("my_mutation.lua").path)
        let model = TestSupport.repoRoot.appendingPathComponent("Tests/Fixtures/models/llama3_bias_bf16_sharded").path
        let data = try PruningScriptTests.tokenFile(dir, count: 3000, vocab: 80)
        let script = TestSupport.repoRoot.appendingPathComponent("scripts/darwinlm.lua").path
        func run(_ output: String, _ extra: [String]) throws -> (Int32, String, String) {
            try TestSupport.runExecutable([script, "--model", model, "--data", data, "--output", dir.appendingPathComponent(output).path,
                                           "--seqlen", "8", "--calibration-sequences", "4", "--offspring", "3", "--generations", "2",
                                           "--post-train-tokens", "0", "--eval-sequences", "2", "--levels", "4", "--level", "2"] + extra,
                                          environment: ["LUA_PATH": dir.path + "/?.lua;;"])
        }
        // Files by path and modules by name (on package.path through LUA_PATH), all five pieces at once.
        let (s1, o1, e1) = try run("all", ["--mutation", dir.path + "/my_mutation.lua", "--fitness", "my_fitness",
                                           "--finetune", dir.path + "/my_finetune.lua", "--schedule", "my_schedule"])
        #expect(s1 == 0 && o1.contains("generation   2"), "\(e1)")
        #expect(e1.components(separatedBy: "my_finetune 2").count - 1 == 2 * 3, "each generation fine-tunes its 3 offspring on 2 rows in stage 1 only: \(e1)")
        let (s2, o2, e2) = try run("select", ["--selection", dir.path + "/my_selection.lua", "--fitness-tokens", "16,32",
                                              "--train-tokens", "16,0", "--survivors", "2,1"])
        #expect(s2 == 0 && o2.contains("generation   2  fitness -"), "\(e2)")
        #expect(FileManager.default.fileExists(atPath: dir.path + "/all/fitness.csv"))
        let broken: [(String, String, String)] = [
            ("--mutation", "bad_mutation.lua", "mutation contract (\(dir.path)/bad_mutation.lua): the operator changed its parent in place"),
            ("--fitness", "bad_fitness.lua", "fitness contract (\(dir.path)/bad_fitness.lua): score returned nil, expected a finite number"),
            ("--selection", "bad_selection.lua", "selection contract (\(dir.path)/bad_selection.lua) returned an invalid genome: expected {attention = {...}, mlp = {...}}, got string"),
            ("--schedule", "bad_schedule.lua", "schedule contract (\(dir.path)/bad_schedule.lua): stage 1: survivors is 0, expected an integer >= 1"),
            ("--finetune", "bad_finetune.lua", "finetune contract (\(dir.path)/bad_finetune.lua): returned 42, expected nil or a trainer"),
            ("--mutation", "missing.lua", "--mutation \(dir.path)/missing.lua: cannot load it"),
        ]
        for (option, file, message) in broken {
            let (s, _, e) = try run("bad-" + file, [option, dir.path + "/" + file])
            #expect(s == 1 && e.contains(message), "\(option) \(file): \(e)")
        }
        // compare.lua with a user strategy beside the built-in ones (and the user mutation in its searches).
        let compare = TestSupport.repoRoot.appendingPathComponent("scripts/compare.lua").path
        let compareArgs = [compare, "--model", model, "--data", data, "--seqlen", "8", "--calibration-sequences", "4", "--levels", "4",
                           "--level", "2", "--generations", "1", "--offspring", "2", "--fitness-tokens", "16", "--post-train-tokens", "32",
                           "--eval-sequences", "2", "--strategies", "uniform,evopress", "--mutation", dir.path + "/my_mutation.lua"]
        let (s6, o6, e6) = try TestSupport.runExecutable(compareArgs + ["--output", dir.path + "/cmp", "--strategy", dir.path + "/random_search.lua"])
        #expect(s6 == 0 && o6.contains("random-search") && o6.contains("EvoPress"), "\(o6) \(e6)")
        let table = try String(contentsOfFile: dir.path + "/cmp/results.md", encoding: .utf8)
        #expect(table.contains("random-search"))
        let (s7, _, e7) = try TestSupport.runExecutable(compareArgs + ["--output", dir.path + "/cmp-bad", "--strategy", dir.path + "/bad_strategy.lua"])
        #expect(s7 == 1 && e7.contains("strategy contract (\(dir.path)/bad_strategy.lua): returned table"), "\(e7)")
        let (s3, _, e3) = try run("lists", ["--fitness-tokens", "16,32,64", "--train-tokens", "16,0"])
        #expect(s3 == 1 && e3.contains("train_tokens has 2 values, the other lists 3 stages"), "\(e3)")
        // Database levels as the reference lists them: structures removed at each level.
        let (s4, o4, e4) = try run("levels", ["--attention-levels", "0,1,3,4", "--mlp-levels", "0,9,36,72", "--generations", "1"])
        #expect(s4 == 0 && o4.contains("i.e. 3 of 4 heads and 36 of 72 MLP neurons removed per block"), "\(o4) \(e4)")
        // A target fraction of parameters picks the nearest uniform level, said before any work.
        let (s8, o8, e8) = try run("fraction", ["--level", "0.5", "--generations", "1"])
        #expect(s8 == 0 && o8.contains("(the nearest to removing 50% of the parameters)") && o8.contains("parameters kept"), "\(o8) \(e8)")
        let (s9, _, e9) = try run("bad-fraction", ["--level", "1.5"])
        #expect(s9 == 1 && e9.contains("give a level (an integer) or the fraction of parameters to remove"), "\(e9)")
        let (s5, _, e5) = try run("bad-levels", ["--attention-levels", "0,2,1"])
        #expect(s5 == 1 && e5.contains("--attention-levels must start at 0 and increase up to at most 4 (the model's heads), got 0,2,1"), "\(e5)")
    }
}

extension SearchPieceTests {
    @Test("the examples in examples/ run as pieces of a real search and as a strategy of compare.lua")
    func examples() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("examples-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = TestSupport.repoRoot.appendingPathComponent("Tests/Fixtures/models/llama3_bias_bf16_sharded").path
        let data = try PruningScriptTests.tokenFile(dir, count: 3000, vocab: 80)
        let examples = TestSupport.repoRoot.appendingPathComponent("examples").path
        let common = ["--model", model, "--data", data, "--seqlen", "8", "--calibration-sequences", "4", "--offspring", "3",
                      "--generations", "2", "--fitness-tokens", "16", "--train-tokens", "16", "--stages", "2", "--post-train-tokens", "0",
                      "--eval-sequences", "2", "--levels", "4", "--level", "2"]
        let darwinlm = TestSupport.repoRoot.appendingPathComponent("scripts/darwinlm.lua").path
        for (option, file) in [("--fitness", "latency_fitness.lua"), ("--fitness", "perplexity_fitness.lua"),
                               ("--selection", "successive_halving.lua"), ("--mutation", "several_steps.lua")] {
            let (s, o, e) = try TestSupport.runExecutable([darwinlm] + common + ["--output", dir.path + "/" + file, option, examples + "/" + file])
            #expect(s == 0 && o.contains("generation   2") && o.contains("searched"), "\(file): \(e)")
        }
        let compare = TestSupport.repoRoot.appendingPathComponent("scripts/compare.lua").path
        let (s, o, e) = try TestSupport.runExecutable([compare, "--model", model, "--data", data, "--seqlen", "8", "--calibration-sequences", "4",
                                                       "--levels", "4", "--level", "2", "--post-train-tokens", "32", "--eval-sequences", "2",
                                                       "--strategies", "uniform", "--strategy", examples + "/random_search.lua",
                                                       "--output", dir.path + "/compare"])
        #expect(s == 0 && o.contains("random-search"), "\(e)")
    }
}

@Suite("quickstart")
struct QuickstartTests {
    /// The README's demo at its default settings (about 75 s in a debug build): on a trained model, the searched
    /// model must beat uniform pruning on held-out perplexity with no more parameters.
    @Test("the quickstart trains, builds a database, searches, and the searched model beats uniform pruning")
    func quickstart() throws {
        let script = TestSupport.repoRoot.appendingPathComponent("scripts/quickstart.lua").path
        let saved = FileManager.default.temporaryDirectory.appendingPathComponent("quickstart-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: saved) }
        let (status, out, err) = try TestSupport.runExecutable([script, "--save", saved.path])
        #expect(status == 0, "stderr: \(err)")
        let lines = out.split(separator: "\n")
        func row(_ name: String) -> (params: Int, perplexity: Double)? {
            guard let line = lines.first(where: { $0.hasPrefix(name + " ") }) else { return nil }
            let words = line.split(separator: " ", omittingEmptySubsequences: true)
            guard let p = Int(words[1]), let i = words.firstIndex(of: "perplexity"), let v = Double(words[i + 1]) else { return nil }
            return (p, v)
        }
        guard let dense = row("dense"), let uniform = row("uniform"), let searched = row("searched") else {
            Issue.record("missing result rows in:\n\(out)"); return
        }
        #expect(uniform.params < dense.params && searched.params <= uniform.params)
        #expect(searched.perplexity < uniform.perplexity, "searched \(searched.perplexity) vs uniform \(uniform.perplexity)")
        #expect(dense.perplexity < 2.0)  // the small model learned the generated text
        let losses = lines.filter { $0.hasPrefix("train step") }.compactMap { Double($0.split(separator: " ").last!) }
        #expect(losses.count >= 2 && losses.first! > 5 && losses.last! < 1)  // from ~log(256) down
        #expect(out.contains("generation   8"))
        try CompareReport.check(model: saved.path + "/model", data: saved.path + "/train.bin", eval: saved.path + "/eval.bin",
                                options: ["--seqlen", "64", "--batch-size", "8", "--eval-sequences", "16", "--lr", "1e-3", "--topk", "32",
                                          "--generations", "3", "--offspring", "4", "--post-train-tokens", "8192", "--adapt-amplitude", "0.3"],
                                generations: 3, adaptSteps: 20, budget: 8192)
    }
}

/// Runs scripts/compare.lua and checks its report: every strategy at the target size, the token budget kept,
/// the curves written.
enum CompareReport {
    struct Row { let name: String; let params: Int; let perplexity: Double; let kl: Double; let tokens: Int }

    static func check(model: String, data: String, eval: String, options: [String], generations: Int, adaptSteps: Int, budget: Int) throws {
        let out = FileManager.default.temporaryDirectory.appendingPathComponent("compare-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: out) }
        let script = TestSupport.repoRoot.appendingPathComponent("scripts/compare.lua").path
        let (status, _, err) = try TestSupport.runExecutable([script, "--model", model, "--data", data, "--eval-data", eval,
                                                              "--output", out.path] + options)
        #expect(status == 0, "stderr: \(err)")
        let table = try String(contentsOfFile: out.path + "/results.md", encoding: .utf8)
        let rows: [Row] = table.split(separator: "\n").filter { $0.hasPrefix("| ") && !$0.hasPrefix("| strategy") }.map { line in
            let cells = line.split(separator: "|").map { $0.trimmingCharacters(in: .whitespaces) }
            return Row(name: cells[0], params: Int(cells[1])!, perplexity: Double(cells[2])!, kl: Double(cells[3])!, tokens: Int(cells[5])!)
        }
        #expect(rows.map(\.name) == ["dense", "uniform", "EvoPress", "DarwinLM", "Adapt-Pruner"], "\(table)")
        guard rows.count == 5 else { return }
        let dense = rows[0], uniform = rows[1]
        #expect(dense.kl == 0 && uniform.params < dense.params)
        for r in rows.dropFirst() {
            #expect(r.kl > 0 && r.perplexity > dense.perplexity, "\(r.name) cannot beat the dense model it was pruned from")
            #expect(r.params <= uniform.params && Double(r.params) > 0.9 * Double(uniform.params), "\(r.name) at the target size: \(r.params)")
        }
        #expect(rows[1].tokens == budget && rows[2].tokens == budget && rows[4].tokens == budget, "post-training budget")
        #expect(rows[3].tokens > budget, "DarwinLM also trains in selection")
        let csv = try String(contentsOfFile: out.path + "/fitness.csv", encoding: .utf8).split(separator: "\n")
        #expect(csv.first == "series,x,y" && csv.count == 1 + 2 * (generations + 1) + 2 * generations + adaptSteps)
        let svg = try String(contentsOfFile: out.path + "/fitness.svg", encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.components(separatedBy: "<polyline").count == 6)
        let json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: out.path + "/results.json"))) as! [String: Any]
        #expect((json["target_params"] as? Int) == uniform.params)
        // Resuming a finished comparison redoes nothing but the deterministic post-training: the same table.
        let (status2, out2, err2) = try TestSupport.runExecutable([script, "--model", model, "--data", data, "--eval-data", eval,
                                                                   "--output", out.path, "--resume"] + options)
        #expect(status2 == 0, "stderr: \(err2)")
        #expect(out2.contains("resuming at generation \(generations + 1)") && out2.contains("resuming Adapt-Pruner at step \(adaptSteps + 1)"))
        let table2 = try String(contentsOfFile: out.path + "/results.md", encoding: .utf8)
        func scores(_ t: String) -> [String] { t.split(separator: "\n").filter { $0.hasPrefix("| ") }.map { $0.split(separator: "|").prefix(4).joined(separator: "|") } }
        #expect(scores(table2) == scores(table))
    }
}

@Suite("comparison on the shared reference model")
struct SharedModelComparisonTests {
    static let modelDirectory = TestSupport.repoRoot.appendingPathComponent("../shared/models/darwin-pycode-16m").standardized.path

    /// scripts/compare.lua on darwin-pycode-16m with a small budget (about 2 minutes); skipped without ../shared.
    @Test("compare.lua runs all four strategies on darwin-pycode-16m", .enabled(if: FileManager.default.fileExists(atPath: modelDirectory + "/config.json")))
    func compareOnSharedModel() throws {
        let dir = Self.modelDirectory
        try CompareReport.check(model: dir, data: dir + "/data/calib.txt.gz", eval: dir + "/data/eval.txt.gz",
                                options: ["--seqlen", "128", "--calibration-sequences", "8", "--levels", "4", "--level", "1",
                                          "--generations", "2", "--offspring", "4", "--fitness-tokens", "512", "--search-train-tokens", "256",
                                          "--post-train-tokens", "2048", "--adapt-fraction", "0.25", "--eval-sequences", "4"],
                                generations: 2, adaptSteps: 4, budget: 2048)
    }
}

@Suite("installing")
struct InstallTests {
    /// scripts/install.sh puts the binary in PREFIX/bin and the modules in PREFIX/share/darwinhost/stdlib, where the
    /// installed binary finds them; a binary outside any checkout or prefix (swift build --scratch-path) still finds
    /// the modules of the checkout it was compiled from.
    @Test("scripts/install.sh installs a darwinhost that finds its stdlib; a binary built elsewhere finds the checkout's")
    func install() throws {
        let prefix = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-install-\(getpid())")
        defer { try? FileManager.default.removeItem(at: prefix) }
        let build = TestSupport.builtProduct("darwinhost").deletingLastPathComponent().path
        let (ok, out, err) = try TestSupport.runShell("BUILD_DIR=\"$1\" exec \"$2\" \"$3\"",
            arguments: [build, TestSupport.repoRoot.appendingPathComponent("scripts/install.sh").path, prefix.path])
        #expect(ok, "\(err)")
        let installedStdlib = prefix.appendingPathComponent("share/darwinhost/stdlib").path
        #expect(out.contains("stdlib: \(installedStdlib)"), "\(out)")
        let installed = prefix.appendingPathComponent("bin/darwinhost").path
        let (ran, printed, _) = try TestSupport.runShell("exec \"$1\" -e 'require(\"evolution\"); print(darwin.stdlib)'",
                                                          arguments: [installed], directory: FileManager.default.temporaryDirectory)
        #expect(ran && printed.trimmingCharacters(in: .whitespacesAndNewlines) == installedStdlib, "\(printed)")
        // Outside any checkout or prefix: the compiled-in checkout's stdlib.
        let loose = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-loose-\(getpid())")
        defer { try? FileManager.default.removeItem(at: loose) }
        try FileManager.default.createDirectory(at: loose, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: installed, toPath: loose.appendingPathComponent("darwinhost").path)
        let (found, where_, _) = try TestSupport.runShell("exec \"$1\" -e 'require(\"evolution\"); print(darwin.stdlib)'",
                                                           arguments: [loose.appendingPathComponent("darwinhost").path])
        #expect(found && where_.trimmingCharacters(in: .whitespacesAndNewlines) == TestSupport.repoRoot.appendingPathComponent("stdlib").path,
                "\(where_)")
    }
}

@Suite("benchmark tools")
struct BenchmarkToolTests {
    @Test("darwin-bench serve answers each timed call with seconds and a bad command with an error line")
    func serve() throws {
        // The protocol bench/side_by_side.py --interleave relies on (random weights without ../shared).
        let (status, out, err) = try TestSupport.runExecutable(["serve", "--threads", "2"], stdin: "kl\nbogus\nkl\nquit\n",
                                                               directory: TestSupport.repoRoot, product: "darwin-bench")
        #expect(status == 0, "\(err)")
        let lines = out.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(out)")
        guard lines.count == 4 else { return }
        #expect(lines[0].hasPrefix("ready ") && lines[0].contains("tokens=4096"))
        for i in [1, 3] { #expect((Double(lines[i]) ?? 0) > 0, "\(lines[i])") }
        #expect(lines[2] == "error: unknown command 'bogus'; expected forward, kl, train, train_kept or quit")
    }
}
