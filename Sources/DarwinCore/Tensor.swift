/// A float32 N-dimensional tensor: a strided view (shape, strides, offset) into shared storage.
///
/// Views (reshape of contiguous data, transpose, narrow, select, ...) share storage with their source;
/// operations that produce new values return fresh contiguous tensors. Dimensions are 0-based here;
/// the Lua binding converts from Lua's 1-based convention.
public final class Tensor {
    /// The buffer holding the elements (shared between views).
    public let storage: TensorStorage
    /// Size of each dimension.
    public let shape: [Int]
    /// Element step of each dimension.
    public let strides: [Int]
    /// Index of the first element within `storage`.
    public let offset: Int

    /// Wraps existing storage as a view.
    public init(storage: TensorStorage, shape: [Int], strides: [Int], offset: Int = 0) {
        self.storage = storage
        self.shape = shape
        self.strides = strides
        self.offset = offset
    }

    /// A new contiguous tensor of `shape` with uninitialised contents.
    public convenience init(uninitializedShape shape: [Int]) {
        self.init(storage: TensorStorage(count: Shape.count(shape)), shape: shape, strides: Shape.contiguousStrides(shape))
    }

    /// A new contiguous tensor of `shape` whose size comes from a caller (sizes, broadcasting, products): checked
    /// first, so that a negative, overflowing or impossible shape is a clear error naming `op`, never a trap.
    public convenience init(checkedShape shape: [Int], op: String) throws {
        _ = try Shape.checkedCount(shape, op: op)
        self.init(uninitializedShape: shape)
    }

    /// A new contiguous tensor of `shape` filled with `value`.
    public convenience init(shape: [Int], repeating value: Float) {
        self.init(storage: TensorStorage(count: Shape.count(shape), repeating: value), shape: shape,
                  strides: Shape.contiguousStrides(shape))
    }

    /// A new contiguous tensor holding `values` (row-major) with `shape`.
    public convenience init(_ values: [Float], shape: [Int]) throws {
        guard values.count == Shape.count(shape) else {
            throw TensorError("tensor: \(values.count) values do not fill shape \(TensorError.show(shape))")
        }
        self.init(uninitializedShape: shape)
        values.withUnsafeBufferPointer { data.update(from: $0.baseAddress!, count: values.count) }
    }

    /// Number of dimensions.
    @inline(__always) public var rank: Int { shape.count }
    /// Number of elements.
    @inline(__always) public var count: Int { Shape.count(shape) }
    /// Pointer to the first element of this view.
    @inline(__always) public var data: UnsafeMutablePointer<Float> { storage.pointer + offset }

    /// True when the elements are laid out row-major without gaps.
    public var isContiguous: Bool {
        var expected = 1
        for d in stride(from: rank - 1, through: 0, by: -1) where shape[d] != 1 {
            if strides[d] != expected { return false }
            expected *= shape[d]
        }
        return true
    }

    /// This tensor if contiguous, else a contiguous copy.
    public func contiguous() -> Tensor { isContiguous ? self : clone() }

    /// A contiguous copy with its own storage.
    public func clone() -> Tensor {
        let out = Tensor(uninitializedShape: shape)
        out.copyElements(from: self)
        return out
    }

    /// Copies the elements of `source` (same shape, any strides) into this view.
    func copyElements(from source: Tensor) {
        let rows = StridedRows(shape: shape, strides: [strides, source.strides])
        let dst = data, src = source.data
        let n = rows.rowLength, sd = rows.innerStride(0), ss = rows.innerStride(1)
        rows.forEachRowParallel { o0, o1, _ in
            if sd == 1 && ss == 1 { (dst + o0).update(from: src + o1, count: n); return }
            for i in 0..<n { dst[o0 + i * sd] = src[o1 + i * ss] }
        }
    }

    /// Copies `source` into this tensor, broadcasting it to this tensor's shape.
    public func copy(from source: Tensor) throws -> Tensor {
        let target = try Shape.broadcast(shape, source.shape, op: "copy")
        guard target == shape else {
            throw TensorError("copy: shape \(TensorError.show(source.shape)) cannot be copied into \(TensorError.show(shape))")
        }
        let view = Tensor(storage: source.storage, shape: shape,
                          strides: Shape.broadcastStrides(shape: source.shape, strides: source.strides, to: shape),
                          offset: source.offset)
        if source.storage === storage { copyElements(from: view.clone()) } else { copyElements(from: view) }
        return self
    }

    /// Element offset (relative to `data`) of a full 0-based multi-index, with bounds checks.
    public func elementOffset(_ index: [Int]) throws -> Int {
        guard index.count == rank else {
            throw TensorError("index: expected \(rank) indices for shape \(TensorError.show(shape)), got \(index.count)")
        }
        var off = 0
        for d in 0..<rank {
            guard index[d] >= 0 && index[d] < shape[d] else {
                throw TensorError("index: index \(index[d] + 1) out of range 1..\(shape[d]) in dimension \(d + 1)")
            }
            off += index[d] * strides[d]
        }
        return off
    }

    /// Reads one element at a 0-based multi-index.
    public func value(at index: [Int]) throws -> Float { data[try elementOffset(index)] }

    /// Writes one element at a 0-based multi-index.
    public func setValue(_ value: Float, at index: [Int]) throws { data[try elementOffset(index)] = value }

    /// The single value of a one-element tensor.
    public func item() throws -> Float {
        guard count == 1 else { throw TensorError("item: tensor of shape \(TensorError.show(shape)) has \(count) elements, expected 1") }
        return data[0]
    }

    /// All elements in row-major order.
    public func toArray() -> [Float] {
        let c = contiguous()
        return Array(UnsafeBufferPointer(start: c.data, count: c.count))
    }

    /// Sets every element to `value` (in place).
    @discardableResult
    public func fill(_ value: Float) -> Tensor {
        let rows = StridedRows(shape: shape, strides: [strides])
        let p = data, n = rows.rowLength, s = rows.innerStride(0)
        rows.forEachRowParallel { o, _, _ in
            if s == 1 { (p + o).update(repeating: value, count: n) } else { for i in 0..<n { p[o + i * s] = value } }
        }
        return self
    }
}
