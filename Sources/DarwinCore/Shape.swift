/// Shape arithmetic shared by all tensor operations.
public enum Shape {
    /// Number of elements of a tensor with this shape (1 for a scalar shape `[]`).
    @inline(__always) public static func count(_ shape: [Int]) -> Int { shape.reduce(1, *) }

    /// The element count of a new tensor of `shape`, checked: sizes non-negative, no overflow, and its float32
    /// bytes within this machine's physical memory, so that an impossible request is a clear error instead of a
    /// failed allocation.
    public static func checkedCount(_ shape: [Int], op: String) throws -> Int {
        if let bad = shape.first(where: { $0 < 0 }) {
            throw TensorError("\(op): size \(bad) in shape \(TensorError.show(shape)) must be non-negative")
        }
        guard let count = checkedProduct(shape) else {
            throw TensorError("\(op): not enough memory: shape \(TensorError.show(shape)) has more elements than an address space holds")
        }
        let bytes = Double(count) * 4, available = MemoryLimit.availableBytes(for: bytes)
        guard bytes <= available else {
            throw TensorError("\(op): not enough memory for a tensor of shape \(TensorError.show(shape)) (\(MemoryLimit.gib(bytes)) GiB; \(MemoryLimit.gib(available)) GiB available)")
        }
        return count
    }

    /// Row-major (C-order) strides for `shape`.
    public static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var acc = 1
        for d in stride(from: shape.count - 1, through: 0, by: -1) { strides[d] = acc; acc *= max(shape[d], 1) }
        return strides
    }

    /// The broadcast shape of two shapes (NumPy rules), or an error naming both.
    public static func broadcast(_ a: [Int], _ b: [Int], op: String) throws -> [Int] {
        let n = max(a.count, b.count)
        var out = [Int](repeating: 1, count: n)
        for i in 0..<n {
            let da = i < n - a.count ? 1 : a[i - (n - a.count)]
            let db = i < n - b.count ? 1 : b[i - (n - b.count)]
            if da == db || db == 1 { out[i] = da } else if da == 1 { out[i] = db } else {
                throw TensorError("\(op): shapes \(TensorError.show(a)) and \(TensorError.show(b)) cannot be broadcast")
            }
        }
        return out
    }

    /// Strides that read a tensor of `shape`/`strides` as if it had `target` shape (stride 0 on broadcast dims).
    public static func broadcastStrides(shape: [Int], strides: [Int], to target: [Int]) -> [Int] {
        var out = [Int](repeating: 0, count: target.count)
        let shift = target.count - shape.count
        for i in 0..<shape.count where shape[i] != 1 || target[i + shift] == 1 { out[i + shift] = strides[i] }
        return out
    }

    /// Validates a 0-based dimension index, accepting negative values counted from the end.
    /// Messages show dimensions 1-based, as Lua users write them.
    public static func normalize(dim: Int, rank: Int, op: String) throws -> Int {
        let d = dim < 0 ? dim + rank : dim
        guard d >= 0 && d < rank else {
            throw TensorError("\(op): dimension \(dim >= 0 ? dim + 1 : dim) out of range for a tensor of rank \(rank)")
        }
        return d
    }

    /// Splits `shape` around `dim` into (outer, size, inner) element counts.
    public static func split(_ shape: [Int], at dim: Int) -> (outer: Int, size: Int, inner: Int) {
        (count(Array(shape[..<dim])), shape[dim], count(Array(shape[(dim + 1)...])))
    }
}
