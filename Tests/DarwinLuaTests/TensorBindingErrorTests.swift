import Testing
@testable import DarwinLua

@Suite("tensor bindings report bad input clearly")
struct TensorBindingErrorTests {
    static let cases: [(code: String, expected: String)] = [
        ("tensor.zeros(3,4):matmul(tensor.zeros(5,6))", "tensor.matmul: shapes [3,4] and [5,6] do not match"),
        ("tensor.matmul(1, 2)", "bad argument #1 to 'tensor.matmul' (darwin.Tensor expected, got number)"),
        ("tensor.zeros(2):matmul(nil)", "bad argument #2 to 'tensor.matmul' (darwin.Tensor expected, got nil)"),
        ("local _ = tensor.zeros(2) + 'x'", "bad argument #2 to 'tensor.add' (tensor or number expected, got string)"),
        ("local _ = tensor.zeros(2,3) + tensor.zeros(4)", "tensor.add: shapes [2,3] and [4] cannot be broadcast"),
        ("tensor.zeros(-1)", "tensor.zeros: size -1 in shape [-1] must be non-negative"),
        ("tensor.zeros(2, 'a')", "bad argument #2 to 'tensor.zeros' (number expected, got string)"),
        ("tensor.zeros(2.5)", "bad argument #1 to 'tensor.zeros' (number has no integer representation: 2.5)"),
        ("tensor.zeros(2):sum(0)", "dimension 0 is invalid: dimensions are 1-based"),
        ("tensor.zeros(2):sum(3)", "tensor.sum: dimension 3 out of range for a tensor of rank 1"),
        ("tensor.from({{1,2},{3}})", "tensor.from: ragged table: entry [2] has 1 elements, expected 2"),
        ("tensor.from({1,'a'})", "tensor.from: entry [2] is a string, expected a number"),
        ("tensor.zeros(2,2):reshape(3,-1)", "tensor.reshape: cannot reshape [2,2] (4 elements) into [3,-1]"),
        ("tensor.zeros(4):topk(5)", "tensor.topk: k = 5 is out of range 0..4 for dimension 1"),
        ("tensor.zeros(2):item()", "tensor.item: tensor of shape [2] has 2 elements, expected 1"),
        ("tensor.zeros(3,4):t():view(12)", "tensor.view: tensor is not contiguous"),
        ("tensor.zeros(2).foo = 1", "cannot assign field 'foo' of a tensor"),
        ("tensor.cat({tensor.zeros(2), 5})", "bad argument #1 to 'tensor.cat' (entry 2 is not a tensor)"),
        ("darwin.generator(1):integer(5, 1)", "generator.integer: empty interval [5, 1]"),
        ("darwin.set_threads(0)", "bad argument #1 to 'darwin.set_threads' (thread count must be in 1...1024, got 0)"),
        ("tensor.zeros(1e12)", "tensor.zeros: not enough memory for a tensor of shape [1000000000000]"),
        ("tensor.zeros({0/0})", "nan, expected an integer)"),
        ("darwin.generator(1):set_state({0, 0, 0, 0})", "generator.set_state: the all-zero state is not a valid generator state"),
    ]

    @Test("each bad call raises a Lua error naming the function and the problem", arguments: 0..<cases.count)
    func badInput(index: Int) throws {
        let host = try TestSupport.host()
        let (code, expected) = Self.cases[index]
        let message = TestSupport.errorMessage(host, code)
        #expect(message?.contains(expected) == true, "\(code) gave: \(message ?? "no error")")
        #expect(message?.hasPrefix("[string") == false)
        // The host keeps working after the error.
        #expect(try host.run("return tensor.ones(2):sum()") == ["2.0"])
    }
}
