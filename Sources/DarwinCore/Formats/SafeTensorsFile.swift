import Foundation

/// Element types of safetensors entries that darwinhost reads (all converted to float32 on load).
public enum SafeTensorsDType: String {
    case f32 = "F32", f16 = "F16", bf16 = "BF16", f64 = "F64"

    /// Bytes per element.
    var size: Int {
        switch self {
        case .f32: return 4
        case .f16, .bf16: return 2
        case .f64: return 8
        }
    }
}

/// One tensor's entry in a safetensors header.
public struct SafeTensorsEntry {
    /// Element type as stored.
    public let dtype: SafeTensorsDType
    /// Shape as stored.
    public let shape: [Int]
    /// Byte range within the data section.
    let begin: Int, end: Int
}

/// A memory-mapped `.safetensors` file: the header is parsed and validated on open; tensors are converted
/// to float32 on demand.
public final class SafeTensorsFile {
    /// The file's path (used in error messages).
    public let path: String
    /// Entries by tensor name.
    public let entries: [String: SafeTensorsEntry]
    /// The free-form `__metadata__` strings.
    public let metadata: [String: String]
    private let data: Data
    private let dataStart: Int

    /// Opens and validates `path`: header size and JSON, known dtypes, offsets inside the file and
    /// consistent with dtype and shape.
    public init(path: String) throws {
        self.path = path
        guard FileManager.default.fileExists(atPath: path) else { throw FormatError(file: path, "file not found") }
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path), options: .alwaysMapped) } catch {
            throw FormatError(file: path, "cannot read: \(error.localizedDescription)")
        }
        self.data = data
        guard data.count >= 8 else { throw FormatError(file: path, "truncated: \(data.count) bytes, a safetensors file starts with an 8-byte header length") }
        let storedLength = data.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) }.littleEndian
        guard storedLength > 1, storedLength <= UInt64(data.count - 8), storedLength < 1 << 28 else {
            throw FormatError(file: path, "truncated or not a safetensors file: header length \(storedLength) does not fit in \(data.count) bytes")
        }
        let headerLength = Int(storedLength)
        dataStart = 8 + headerLength
        let header = data.subdata(in: 8..<dataStart)
        guard let json = (try? JSONSerialization.jsonObject(with: header)) as? [String: Any] else {
            throw FormatError(file: path, "header is not a JSON object")
        }
        var entries: [String: SafeTensorsEntry] = [:]
        var metadata: [String: String] = [:]
        let dataSize = data.count - dataStart
        for (name, value) in json {
            if name == "__metadata__" {
                metadata = (value as? [String: String]) ?? [:]
                continue
            }
            guard let info = value as? [String: Any], let dtypeName = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2 else {
                throw FormatError(file: path, "tensor '\(name)': header entry needs dtype, shape and data_offsets [begin, end]")
            }
            guard let dtype = SafeTensorsDType(rawValue: dtypeName) else {
                throw FormatError(file: path, "tensor '\(name)': unsupported dtype \(dtypeName) (supported: F32, F16, BF16, F64)")
            }
            guard let elements = Shape.checkedProduct(shape), elements <= Int.max / 8 else {
                throw FormatError(file: path, "tensor '\(name)': shape \(TensorError.show(shape)) must list non-negative sizes of a tensor that fits in memory")
            }
            let expected = elements * dtype.size
            guard offsets[0] >= 0, offsets[1] >= offsets[0], offsets[1] <= dataSize else {
                throw FormatError(file: path, "tensor '\(name)': data_offsets \(offsets) outside the data section of \(dataSize) bytes (truncated file?)")
            }
            guard offsets[1] - offsets[0] == expected else {
                throw FormatError(file: path, "tensor '\(name)': \(offsets[1] - offsets[0]) bytes stored, \(expected) expected for \(dtypeName) \(TensorError.show(shape))")
            }
            entries[name] = SafeTensorsEntry(dtype: dtype, shape: shape, begin: offsets[0], end: offsets[1])
        }
        let spans = entries.map { ($0.value.begin, $0.value.end, $0.key) }.filter { $0.0 < $0.1 }.sorted { $0.0 < $1.0 }
        for (a, b) in zip(spans, spans.dropFirst()) where b.0 < a.1 {
            throw FormatError(file: path, "tensors '\(a.2)' and '\(b.2)' overlap in the data section (data_offsets \([a.0, a.1]) and \([b.0, b.1]))")
        }
        self.entries = entries
        self.metadata = metadata
    }

    /// The 2-d tensor `name` as a model weight: its 16-bit bits copied as they are for BF16/F16 (a copy rather than
    /// the mapped file, so that a checkpoint rewritten while the model is loaded cannot take the pages away), float32 otherwise.
    public func weight(_ name: String) throws -> Weight {
        guard let e = entries[name] else { throw FormatError(file: path, "no tensor named '\(name)'") }
        guard e.shape.count == 2, e.dtype == .bf16 || e.dtype == .f16 else { return Weight(try tensor(name)) }
        return try data.withUnsafeBytes { raw in
            let source = raw.baseAddress! + dataStart + e.begin
            let weight = Weight(try HalfMatrix(format: e.dtype == .bf16 ? .bf16 : .f16, rows: e.shape[0], columns: e.shape[1], copying: source))
            Self.releasePages(source, bytes: e.end - e.begin)
            return weight
        }
    }

    /// Drops the mapped file pages of a span already copied (they count as resident memory until unmapped: loading an
    /// 8B checkpoint would otherwise peak at twice its size). They are read from the file again if touched.
    private static func releasePages(_ start: UnsafeRawPointer, bytes: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let first = (Int(bitPattern: start) + page - 1) / page * page, last = (Int(bitPattern: start) + bytes) / page * page
        guard last > first, let pointer = UnsafeMutableRawPointer(bitPattern: first) else { return }
        _ = madvise(pointer, last - first, MADV_DONTNEED)
    }

    /// The tensor `name` converted to float32.
    public func tensor(_ name: String) throws -> Tensor {
        guard let e = entries[name] else { throw FormatError(file: path, "no tensor named '\(name)'") }
        let out = Tensor(uninitializedShape: e.shape)
        let count = out.count
        data.withUnsafeBytes { raw in
            let src = raw.baseAddress! + dataStart + e.begin
            switch e.dtype {
            case .f32: for i in 0..<count { out.data[i] = src.loadUnaligned(fromByteOffset: 4 * i, as: Float.self) }
            case .bf16: HalfPrecision.bf16ToFloat(src, out.data, count: count)
            case .f16: HalfPrecision.f16ToFloat(src, out.data, count: count)
            case .f64: for i in 0..<count { out.data[i] = Float(src.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            }
            Self.releasePages(src, bytes: e.end - e.begin)
        }
        return out
    }
}
