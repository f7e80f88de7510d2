import Glibc

/// A row-major `[rows, columns]` matrix of 16-bit floats (bfloat16 or IEEE half) as a checkpoint stores it: half
/// the memory of float32. Products convert it to float32 a tile of rows at a time (`convertRows`); the conversion
/// is exact, so results equal those of the float32 path on the same values.
public final class HalfMatrix {
    /// The 16-bit element formats of checkpoints.
    public enum Format: Sendable {
        case bf16, f16
        /// The matching precision for written files.
        public var precision: SafeTensorsWriter.Precision { self == .bf16 ? .bf16 : .f16 }
    }

    /// The element format.
    public let format: Format
    /// Number of rows.
    public let rows: Int
    /// Number of columns (elements per row).
    public let columns: Int
    /// The element bits, row-major.
    let bits: UnsafeMutablePointer<UInt16>

    /// Allocates an uninitialised matrix; throws when the memory is not there.
    public init(format: Format, rows: Int, columns: Int) throws {
        guard rows >= 0, columns >= 0, let count = Shape.checkedProduct([rows, columns]), count <= Int.max / 4,
              let raw = malloc(max(count, 1) * 2) else {
            throw TensorError("not enough memory for a \(format) matrix of shape [\(rows), \(columns)]")
        }
        self.format = format; self.rows = rows; self.columns = columns
        bits = raw.bindMemory(to: UInt16.self, capacity: max(count, 1))
        LiveTensorCounter.storages.add(1, ordering: .relaxed)
        LiveTensorCounter.bytes.add(count * 2, ordering: .relaxed)
    }

    deinit {
        free(bits)
        LiveTensorCounter.storages.add(-1, ordering: .relaxed)
        LiveTensorCounter.bytes.add(-count * 2, ordering: .relaxed)
    }

    /// Number of elements.
    public var count: Int { rows * columns }
    /// Bytes of the elements.
    public var byteCount: Int { count * 2 }

    /// A matrix holding `count` little-endian 16-bit values copied from `source` (which need not be aligned).
    public convenience init(format: Format, rows: Int, columns: Int, copying source: UnsafeRawPointer) throws {
        try self.init(format: format, rows: rows, columns: columns)
        UnsafeMutableRawPointer(bits).copyMemory(from: source, byteCount: count * 2)
    }

    /// The float32 values of `matrix` (2-D) rounded to `format` (round to nearest even).
    public convenience init(rounding matrix: Tensor, to format: Format) throws {
        guard matrix.rank == 2 else { throw TensorError("half matrix: expected a 2-d tensor, got shape \(TensorError.show(matrix.shape))") }
        try self.init(format: format, rows: matrix.shape[0], columns: matrix.shape[1])
        let source = matrix.contiguous().data
        for i in 0..<count {
            bits[i] = format == .bf16 ? HalfPrecision.floatToBF16(source[i]) : Float16(source[i]).bitPattern
        }
    }

    /// Writes rows `range` as float32 into `destination` (row-major, `range.count × columns`), in parallel for large tiles.
    public func convertRows(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>, parallel: Bool = true) {
        let n = columns, first = range.lowerBound
        Parallel.forEachChunk(count: range.count, minimumChunk: max(1, Parallel.grainElements / max(n, 1)), enabled: parallel) { part in
            let start = (first + part.lowerBound) * n
            convertElements(start..<(start + part.count * n), into: destination + part.lowerBound * n)
        }
    }

    /// Writes elements `range` (row-major order) as float32 into `destination`.
    public func convertElements(_ range: Range<Int>, into destination: UnsafeMutablePointer<Float>) {
        let source = UnsafePointer(bits + range.lowerBound)
        if format == .bf16 { HalfPrecision.bf16BitsToFloat(source, destination, count: range.count) } else {
            HalfPrecision.f16ToFloat(UnsafeRawPointer(source), destination, count: range.count)
        }
    }

    /// The whole matrix as a new float32 tensor.
    public func floatTensor() -> Tensor {
        let t = Tensor(uninitializedShape: [rows, columns])
        convertRows(0..<rows, into: t.data)
        return t
    }

    /// A new matrix of the rows `indices` (0-based, each in range: callers check).
    public func selecting(rows indices: [Int]) throws -> HalfMatrix {
        let out = try HalfMatrix(format: format, rows: indices.count, columns: columns)
        for (i, r) in indices.enumerated() { (out.bits + i * columns).update(from: bits + r * columns, count: columns) }
        return out
    }

    /// A new matrix of the columns `indices` (0-based, each in range: callers check).
    public func selecting(columns indices: [Int]) throws -> HalfMatrix {
        let out = try HalfMatrix(format: format, rows: rows, columns: indices.count)
        for r in 0..<rows {
            let source = bits + r * columns, target = out.bits + r * indices.count
            for (i, c) in indices.enumerated() { target[i] = source[c] }
        }
        return out
    }
}
