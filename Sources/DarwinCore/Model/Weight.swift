/// A weight matrix of the model (a linear layer's `[out, in]` or the embedding `[vocab, hidden]`): float32, or
/// 16-bit as a bf16/f16 checkpoint stores it, in which case the products convert it tile by tile and it takes
/// half the memory. Units of clones share `Weight` objects; a weight is never changed in value in place by
/// darwinhost except through `tensor` (training, user edits), which first makes it float32 for good.
public final class Weight {
    /// How the values are held.
    public enum Storage {
        case float(Tensor)
        case half(HalfMatrix)
    }

    /// The values.
    public private(set) var storage: Storage

    /// A float32 weight (a 2-d tensor).
    public init(_ tensor: Tensor) { storage = .float(tensor) }
    /// A 16-bit weight.
    public init(_ matrix: HalfMatrix) { storage = .half(matrix) }

    /// `[rows, columns]`.
    public var shape: [Int] {
        switch storage {
        case .float(let t): return t.shape
        case .half(let h): return [h.rows, h.columns]
        }
    }

    /// Number of elements.
    public var count: Int { Shape.count(shape) }

    /// The 16-bit matrix, when the weight is held that way.
    public var half: HalfMatrix? { if case .half(let h) = storage { return h } else { return nil } }

    /// The weight as a float32 tensor that is the weight itself: edits change the model, gradients are keyed by it.
    /// A 16-bit weight is converted once and stays float32 from then on (twice the memory).
    public var tensor: Tensor {
        switch storage {
        case .float(let t): return t
        case .half(let h):
            let t = h.floatTensor()
            storage = .float(t)
            return t
        }
    }

    /// A new float32 copy of the values (the weight itself is left as it is).
    public func floatCopy() -> Tensor {
        switch storage {
        case .float(let t): return t.clone()
        case .half(let h): return h.floatTensor()
        }
    }

    /// The float32 values without converting the weight: the tensor itself when float32, else a new copy.
    public func floatValues() -> Tensor {
        if case .float(let t) = storage { return t }
        return floatCopy()
    }

    /// The float32 values of `matrix` stored like this weight (rounded to its 16-bit format when it has one).
    public func sameFormat(_ matrix: Tensor) throws -> Weight {
        guard let h = half else { return Weight(matrix) }
        return Weight(try HalfMatrix(rounding: matrix, to: h.format))
    }

    /// Bytes of the values.
    public var byteCount: Int {
        switch storage {
        case .float(let t): return t.storage.count * 4
        case .half(let h): return h.byteCount
        }
    }

    /// Identifies the memory behind the values (views of one storage share it), to count shared bytes once.
    var memoryIdentity: ObjectIdentifier {
        switch storage {
        case .float(let t): return ObjectIdentifier(t.storage)
        case .half(let h): return ObjectIdentifier(h)
        }
    }

    /// A new weight of the rows `indices` (0-based), in the same format.
    public func selecting(rows indices: [Int]) throws -> Weight {
        switch storage {
        case .float(let t): return Weight(try t.indexSelect(0, indices))
        case .half(let h):
            try checkIndices(indices, below: h.rows, dimension: "row")
            return Weight(try h.selecting(rows: indices))
        }
    }

    /// A new weight of the columns `indices` (0-based), in the same format.
    public func selecting(columns indices: [Int]) throws -> Weight {
        switch storage {
        case .float(let t): return Weight(try t.indexSelect(1, indices))
        case .half(let h):
            try checkIndices(indices, below: h.columns, dimension: "column")
            return Weight(try h.selecting(columns: indices))
        }
    }

    private func checkIndices(_ indices: [Int], below limit: Int, dimension: String) throws {
        if let bad = indices.first(where: { $0 < 0 || $0 >= limit }) {
            throw TensorError("weight: \(dimension) index \(bad) out of range 0..<\(limit)")
        }
    }

    /// Elements `range` (row-major order) as float32 into `destination`.
    public func convertElements(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        switch storage {
        case .float(let t):
            destination.update(from: (t.isContiguous ? t : t.contiguous()).data + range.lowerBound, count: range.count)
        case .half(let h): h.convertElements(range, into: destination)
        }
    }

    /// Rows `range` as float32 into `destination` (`range.count × columns`, row-major).
    public func convertRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        switch storage {
        case .float(let t): convertElements((range.lowerBound * t.shape[1])..<(range.upperBound * t.shape[1]), into: destination)
        case .half(let h): h.convertRows(range, into: destination)
        }
    }
}
