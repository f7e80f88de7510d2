/// Constructors for new tensors.
extension Tensor {
    /// Zeros of `shape`.
    public static func zeros(_ shape: [Int]) throws -> Tensor { try checked(shape, op: "zeros"); return Tensor(shape: shape, repeating: 0) }
    /// Ones of `shape`.
    public static func ones(_ shape: [Int]) throws -> Tensor { try checked(shape, op: "ones"); return Tensor(shape: shape, repeating: 1) }
    /// `value` everywhere in `shape`.
    public static func full(_ shape: [Int], _ value: Float) throws -> Tensor {
        try checked(shape, op: "full"); return Tensor(shape: shape, repeating: value)
    }

    /// Values `start, start+step, ...` strictly before `end` (like `torch.arange`).
    public static func arange(_ start: Double, _ end: Double, _ step: Double = 1) throws -> Tensor {
        guard step != 0, step.isFinite, start.isFinite, end.isFinite else { throw TensorError("arange: step must be a non-zero finite number") }
        let steps = ((end - start) / step).rounded(.up)
        guard steps.isFinite, steps < Double(Int.max / 8) else { throw TensorError("arange: \(steps) elements are far more than memory holds") }
        let n = try Shape.checkedCount([Int(max(0, steps))], op: "arange")
        let t = Tensor(uninitializedShape: [n])
        for i in 0..<n { t.data[i] = Float(start + Double(i) * step) }
        return t
    }

    /// Uniform values in [0, 1) from `generator`.
    public static func rand(_ shape: [Int], generator: RandomGenerator = .shared) throws -> Tensor {
        try checked(shape, op: "rand")
        let t = Tensor(uninitializedShape: shape)
        generator.fillUniform(UnsafeMutableBufferPointer(start: t.data, count: t.count))
        return t
    }

    /// Standard normal values from `generator`.
    public static func randn(_ shape: [Int], generator: RandomGenerator = .shared) throws -> Tensor {
        try checked(shape, op: "randn")
        let t = Tensor(uninitializedShape: shape)
        generator.fillNormal(UnsafeMutableBufferPointer(start: t.data, count: t.count))
        return t
    }

    /// Rejects negative sizes with a message naming the constructor.
    static func checked(_ shape: [Int], op: String) throws { _ = try Shape.checkedCount(shape, op: op) }
}
