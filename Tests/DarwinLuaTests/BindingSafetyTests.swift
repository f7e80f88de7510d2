import Foundation
import CLua
import DarwinCore
import Testing
@testable import DarwinLua

/// Counts events from Swift objects whose lifetime the tests observe.
final class LifetimeLog {
    var deinits = 0
    var defers = 0
}

/// An object that reports its deinitialisation.
final class Probe {
    let log: LifetimeLog
    init(_ log: LifetimeLog) { self.log = log }
    deinit { log.deinits += 1 }
}

@Suite("binding layer: errors never skip Swift cleanup; userdata are collected")
struct BindingSafetyTests {
    @Test("a throwing binding runs its defer and releases its locals before Lua sees the error")
    func cleanupOnError() throws {
        let host = LuaHost()
        let log = LifetimeLog()
        host.pushFunction("test.fail") { _ in
            let probe = Probe(log)
            defer { log.defers += 1 }
            _ = probe
            throw LuaError("deliberate failure")
        }
        host.setGlobal("fail")
        let results = try host.run("local msgs = {}\nfor i = 1, 100 do local ok, e = pcall(fail); msgs[#msgs + 1] = e end\nreturn msgs[100]")
        #expect(log.defers == 100)
        #expect(log.deinits == 100)
        #expect(results == ["test.fail: deliberate failure"] || results.first?.hasSuffix("test.fail: deliberate failure") == true)
    }

    @Test("argument errors raised inside tensor bindings also leave no Swift object behind")
    func tensorArgumentErrorsDoNotLeak() throws {
        // In a process of its own: tests running beside this one would change the process-wide tensor count.
        let (status, out, err) = try TestSupport.runExecutable(["-e", """
            collectgarbage(); collectgarbage()
            local before = darwin.memory().tensors
            local a = tensor.zeros(3, 4)
            for i = 1, 200 do pcall(a.matmul, a, tensor.zeros(5, 6)) end
            for i = 1, 200 do pcall(tensor.cat, {a, tensor.zeros(2, 5)}, 1) end
            a = nil
            collectgarbage(); collectgarbage()
            print(darwin.memory().tensors - before)
            """])
        #expect(status == 0, "\(err)")
        #expect(out == "0\n")
    }

    @Test("a tensor pushed to Lua is released when Lua collects it")
    func tensorUserdataCollected() throws {
        let host = try TestSupport.host()
        weak var weakTensor: Tensor?
        do {
            let t = try Tensor.zeros([4])
            weakTensor = t
            host.push(object: t)
            host.setGlobal("kept")
        }
        try host.run("collectgarbage()")
        #expect(weakTensor != nil)  // still referenced from Lua
        try host.run("assert(kept:numel() == 4); kept = nil; collectgarbage(); collectgarbage()")
        #expect(weakTensor == nil)
    }

    @Test("objects of a custom class are collected, __gc runs once per userdata")
    func customClassCollected() throws {
        let host = LuaHost()
        let log = LifetimeLog()
        try host.defineClass(Probe.self, name: "test.Probe", methods: [("ping", { c in c.push("pong"); return 1 })])
        host.pushFunction("test.make") { c in c.push(object: Probe(log)); return 1 }
        host.setGlobal("make")
        let r = try host.run("local last\nfor i = 1, 500 do last = make():ping() end\ncollectgarbage(); collectgarbage()\nreturn last")
        #expect(r == ["pong"])
        #expect(log.deinits == 500)
    }

    @Test("uncaught errors carry a traceback; error objects that are not strings are described")
    func tracebacks() throws {
        let host = try TestSupport.host()
        let msg = TestSupport.errorMessage(host, "local function inner() tensor.zeros(2):get(5) end\nlocal function outer() inner() end\nouter()")
        #expect(msg?.contains("tensor.get: index: index 5 out of range 1..2") == true || msg?.contains("index 5 out of range 1..2") == true)
        #expect(msg?.contains("stack traceback:") == true)
        #expect(msg?.contains("in local 'inner'") == true || msg?.contains("inner") == true)
        let tableError = TestSupport.errorMessage(host, "error({})")
        #expect(tableError?.contains("error object is a table value") == true)
    }

    @Test("error messages name the qualified function once")
    func qualification() {
        #expect(LuaHost.qualify("matmul: shapes [3,4] and [5,6] do not match", with: "tensor.matmul") == "tensor.matmul: shapes [3,4] and [5,6] do not match")
        #expect(LuaHost.qualify("add_: bad", with: "tensor.add_") == "tensor.add_: bad")
        #expect(LuaHost.qualify("reshape: cannot", with: "tensor.view") == "tensor.view: reshape: cannot")
        #expect(LuaHost.qualify("bad argument #1 to 'x' (y)", with: "tensor.x") == "bad argument #1 to 'x' (y)")
    }
}

@Suite("collector pacing")
struct CollectorPacingTests {
    @Test("a loop of large temporaries does not pile up memory without collectgarbage()")
    func temporariesAreCollected() throws {
        let host = try TestSupport.host()
        // 400 temporaries of 4 MiB = 1.6 GiB allocated in total; Lua alone would see only 400 small userdata.
        let last = try host.run("""
            local x = tensor.zeros(1 << 20)
            for i = 1, 400 do x = x + 1 end
            return x:get(1)
            """)
        #expect(last == ["400.0"])
        // What this host's Lua state still references: the result plus at most a collection threshold of garbage
        // (64 MiB), not the 1.6 GiB of all temporaries. Host-local, so tests running beside this one do not count.
        #expect(host.tensorBytesHeldByLua < 200 << 20)
        try host.run("collectgarbage()")
        #expect(host.tensorBytesHeldByLua == 0)
    }
}

@Suite("the collector sees what objects hold")
struct ObjectMemoryTests {
    @Test("dropped clones and trainers are collected as their memory grows, without collectgarbage()")
    func droppedTrainers() throws {
        // Each trainer holds a private copy of the 21 MB model and 42 MB of AdamW state: 2.5 GB over 40 of them.
        // In a child process, so that the process-wide tensor count is this script's alone.
        let (status, out, err) = try TestSupport.runExecutable(["-e", """
            local model = darwin.random_model{vocab = 4096, hidden = 256, layers = 4, heads = 4, kv_heads = 2, intermediate = 1024}
            local ids = tensor.arange(0, 64):reshape(2, 32)
            local peak = 0
            for i = 1, 40 do
              local trainer = darwin.trainer(model:clone(), {lr = 1e-4})
              trainer:step(ids)
              peak = math.max(peak, darwin.memory().tensor_bytes)
            end
            print(string.format("%d", peak // 2^20))
            """])
        #expect(status == 0, "\(err)")
        let peakMiB = Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        #expect(peakMiB > 0 && peakMiB < 600, "peak tensor memory \(peakMiB) MiB")
    }

    @Test("close() and <close> release an object at once; a closed object is a clear error")
    func closing() throws {
        let host = try TestSupport.host()
        let out = try host.run("""
            local model = darwin.random_model{vocab = 64, hidden = 16, layers = 1, heads = 2, kv_heads = 1, intermediate = 8}
            local base = darwin.memory().lua_tensor_bytes
            local copy = model:clone()
            local grew = darwin.memory().lua_tensor_bytes - base
            copy:close()
            copy:close()  -- twice is harmless
            local after = darwin.memory().lua_tensor_bytes - base
            do local t <close> = tensor.zeros(1000) end
            local ok, err = pcall(copy.perplexity, copy, tensor{{1, 2, 3}})
            return grew > 0 and after == 0 and darwin.memory().lua_tensor_bytes - base <= 12, err
            """)
        #expect(out[0] == "true")
        #expect(out[1].contains("bad argument #1 to 'model.perplexity' (darwin.Model was closed)"))
    }
}

@Suite("out of memory is a Lua error")
struct OutOfMemoryTests {
    @Test("impossible tensor sizes are caught by pcall with a clear message, and the session goes on")
    func impossibleTensors() throws {
        let host = try TestSupport.host()
        let results = try host.run("""
            local out = {}
            for _, f in ipairs{function() return tensor.zeros(1e12) end, function() return tensor.ones(2^40, 2^40) end,
                               function() return tensor.zeros({1e300}) end, function() return tensor.arange(0, 1e300) end,
                               function() return tensor.randn(1e6, 1e6) end} do
              local ok, err = pcall(f)
              out[#out + 1] = tostring(ok) .. " " .. err
            end
            out[#out + 1] = tostring(tensor.ones(3):sum())
            return table.concat(out, "\\n")
            """)
        let lines = results[0].split(separator: "\n").map(String.init)
        #expect(lines[0].hasPrefix("false ") && lines[0].contains("tensor.zeros: not enough memory for a tensor of shape [1000000000000]"))
        #expect(lines[1].contains("tensor.ones: not enough memory"))
        #expect(lines[2].contains("bad argument #1 to 'tensor.zeros'"))
        #expect(lines[3].contains("tensor.arange"))
        #expect(lines[4].contains("tensor.randn: not enough memory"))
        #expect(lines[5] == "3.0")
    }

    @Test("under an address-space limit, Lua's own allocations and tensors fail with 'not enough memory', not an abort")
    func limitedAddressSpace() throws {
        let script = """
            local mb = string.rep("x", 2^20)
            local ok, err = pcall(function() local t = {} for i = 1, 100 do t[i] = string.rep(mb, 2^9) end end)
            print(ok, err)
            collectgarbage()
            print(pcall(tensor.zeros, 2^30))
            print("alive", tensor.ones(3):sum())
            """
        let (ok, text, errors) = try TestSupport.runShell("ulimit -v 4000000 && exec \"$0\" -e \"$1\"", arguments: [script])
        #expect(ok, "\(text) \(errors)")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 3 && lines[0] == "false\tnot enough memory", "\(text)")
        #expect(lines.count == 3 && lines[1].hasPrefix("false\ttensor.zeros: not enough memory"), "\(text)")
        #expect(lines.last == "alive\t3.0")
    }

    @Test("forward passes, training steps and targets too large for memory are Lua errors before any work")
    func largeWork() throws {
        let model = TestSupport.repoRoot.appendingPathComponent("Tests/Fixtures/models/llama_gqa_tied").path
        let script = """
            local m = darwin.load("\(model)")
            local ids = tensor.zeros(10000, 2000)
            print(pcall(m.targets, m, ids))
            print(pcall(m.forward, m, ids))
            local t = darwin.trainer(m:clone())
            print(pcall(t.step, t, tensor.zeros(2000, 4000)))
            print("alive", m:perplexity(tensor{{1, 2, 3, 4}}) > 1)
            """
        let (ok, text, errors) = try TestSupport.runShell("ulimit -v 3000000 && exec \"$0\" -e \"$1\"", arguments: [script])
        #expect(ok, "\(text) \(errors)")
        let lines = text.split(separator: "\n").map(String.init)
        #expect(lines.count == 4, "\(text) \(errors)")
        #expect(lines.first?.contains("model.targets: not enough memory for the targets of 10000x2000 positions") == true, "\(text)")
        #expect(lines.dropFirst().first?.contains("model.forward: not enough memory for a forward pass of 20000000 tokens") == true, "\(text)")
        #expect(lines.dropFirst(2).first?.contains("trainer.step: not enough memory for a training step of 8000000 tokens") == true, "\(text)")
        #expect(lines.last == "alive\ttrue")
    }
}
