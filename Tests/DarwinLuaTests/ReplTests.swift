import Testing
@testable import DarwinLua

@Suite("REPL session")
struct ReplTests {
    @Test("Tab completes globals, module fields and the methods of objects; words that name nothing complete to nothing")
    func completion() throws {
        let repl = ReplSession(host: try TestSupport.host())
        #expect(repl.completions(for: "darwin.tens") == ["darwin.tensor"])
        #expect(repl.completions(for: "tensor.zer") == ["tensor.zero_", "tensor.zeros"])
        #expect(repl.completions(for: "darw") == ["darwin"])
        _ = repl.submit("t = tensor.zeros(3); cfg = {alpha = 1, beta = 2, [3] = 'x'}")
        #expect(repl.completions(for: "t:nu") == ["t:numel"])
        #expect(repl.completions(for: "cfg.") == ["cfg.alpha", "cfg.beta"])
        #expect(repl.completions(for: "cfg:") == [])      // a plain table has no methods
        #expect(repl.completions(for: "nothing.here.at_all") == [] && repl.completions(for: "t.x.y") == [])
        _ = repl.submit("trap = setmetatable({}, {__index = function() error('must not run') end})")
        #expect(repl.completions(for: "trap.x") == [])   // completion never runs user code
        #expect(repl.submit("=t:numel()") == .values(["3"]))
    }

    @Test("incomplete chunks ask for more input, then run as one chunk")
    func multiLine() throws {
        let repl = ReplSession(host: try TestSupport.host())
        #expect(repl.submit("x = 0") == .values([]))
        #expect(repl.submit("for i = 1, 3 do") == .needsMore)
        #expect(repl.isContinuing)
        #expect(repl.submit("  x = x + i") == .needsMore)
        #expect(repl.submit("end") == .values([]))
        #expect(!repl.isContinuing)
        #expect(repl.submit("=x") == .values(["6"]))
        #expect(repl.submit("local t = {") == .needsMore)
        #expect(repl.submit("  1, 2,") == .needsMore)
        #expect(repl.submit("}") == .values([]))
        #expect(repl.submit("s = [[a") == .needsMore)  // unfinished long string
        #expect(repl.submit("b]]") == .values([]))
        #expect(repl.submit("s") == .values(["a\nb"]))  // strings print raw, as in lua.c
    }

    @Test("bare expressions and = print values; tables print readably; tensors print with __tostring")
    func values() throws {
        let repl = ReplSession(host: try TestSupport.host())
        #expect(repl.submit("1 + 1") == .values(["2"]))
        #expect(repl.submit("= 2, 'a'") == .values(["2", "a"]))
        #expect(repl.submit("{1, 2, k = {true}}") == .values(["{1, 2, k = {true}}"]))
        #expect(repl.submit("tensor.ones(2)") == .values(["tensor([1., 1.], shape=[2], dtype=float32)"]))
        #expect(repl.submit("nil") == .values(["nil"]))
    }

    @Test("syntax and runtime errors are reported and the session continues")
    func errors() throws {
        let repl = ReplSession(host: try TestSupport.host())
        guard case .error(let syntax) = repl.submit("x = = 1") else { Issue.record("expected a syntax error"); return }
        #expect(syntax.contains("unexpected symbol"))
        #expect(!repl.isContinuing)
        guard case .error(let runtime) = repl.submit("error('boom')") else { Issue.record("expected a runtime error"); return }
        #expect(runtime.contains("boom") && runtime.contains("stack traceback"))
        guard case .error(let binding) = repl.submit("tensor.zeros(2,3):matmul(tensor.zeros(2,3))") else { Issue.record("expected an error"); return }
        #expect(binding.contains("tensor.matmul: shapes [2,3] and [2,3] do not match"))
        #expect(repl.submit("=40 + 2") == .values(["42"]))
        #expect(repl.submit("for i = 1, 2 do") == .needsMore)
        repl.reset()
        #expect(repl.submit("=1") == .values(["1"]))
    }
}
