import Foundation

/// A value of GGUF metadata (the subset of GGUF's types that llama.cpp's loaders read for dense decoders).
public enum GGUFValue {
    case uint32(UInt32), float32(Float), bool(Bool), string(String)
    case int32s([Int32]), float32s([Float]), strings([String])
}

/// The ggml element types darwinhost writes, with ggml's numbering.
public enum GGMLType: UInt32, CaseIterable {
    case f32 = 0, f16 = 1, bf16 = 30, q8_0 = 8

    /// The name used in options and reports (`"q8_0"`).
    public var name: String { self == .f32 ? "f32" : self == .f16 ? "f16" : self == .bf16 ? "bf16" : "q8_0" }

    /// Elements per block: Q8_0 stores 32 values as one float16 scale and 32 signed bytes.
    public var blockSize: Int { self == .q8_0 ? 32 : 1 }

    /// Bytes of one block.
    var blockBytes: Int { self == .f32 ? 4 : self == .q8_0 ? 34 : 2 }

    /// Bytes of `count` elements (a multiple of `blockSize`).
    func byteCount(_ count: Int) -> Int { count / blockSize * blockBytes }

    /// The largest magnitude a float16 holds (and so the largest Q8_0 scale).
    static let float16Max: Float = 65504

    /// Appends `values` in this type to `out` (little-endian; Q8_0 as ggml's `quantize_row_q8_0_ref` does it).
    /// Refuses values the type cannot hold instead of writing them as something else: finite values beyond float16's
    /// range in f16 (they would become inf), and in Q8_0 NaN, infinities, and blocks whose scale exceeds float16.
    /// `name` is the tensor's, for the message.
    func encode(_ values: UnsafeBufferPointer<Float>, into out: inout Data, name: String) throws {
        switch self {
        case .f32: out.append(values)
        case .f16, .bf16:
            var bits = [UInt16](repeating: 0, count: values.count)
            for i in values.indices {
                if self == .f16, values[i].isFinite, abs(values[i]) > GGMLType.float16Max {
                    throw TensorError("tensor '\(name)' holds \(values[i]), beyond float16's range (±65504): f16 would store it as inf; save as bf16 or f32")
                }
                bits[i] = (self == .f16 ? Float16(values[i]).bitPattern : HalfPrecision.floatToBF16(values[i])).littleEndian
            }
            bits.withUnsafeBufferPointer { out.append($0) }
        case .q8_0:
            var block = [UInt8](repeating: 0, count: 34)
            for start in stride(from: 0, to: values.count, by: 32) {
                var amax: Float = 0
                for i in start..<(start + 32) {
                    guard values[i].isFinite else {
                        throw TensorError("tensor '\(name)' holds \(values[i]) (the model has diverged?): q8_0 cannot store NaN or infinite values; save as f32, f16 or bf16")
                    }
                    amax = max(amax, abs(values[i]))
                }
                guard amax / 127 <= GGMLType.float16Max else {
                    throw TensorError("tensor '\(name)' holds \(amax), too large for a q8_0 block (its float16 scale would overflow); save as f32 or bf16")
                }
                let scale = amax / 127, inverse = scale != 0 ? 1 / scale : 0
                let scaleBits = Float16(scale).bitPattern
                block[0] = UInt8(scaleBits & 0xFF); block[1] = UInt8(scaleBits >> 8)
                for i in 0..<32 { block[2 + i] = UInt8(bitPattern: Int8((values[start + i] * inverse).rounded(.toNearestOrAwayFromZero))) }
                out.append(contentsOf: block)
            }
        }
    }
}

/// Writes tensors' values into an open file, chunk by chunk, each tensor padded to `alignment` bytes.
enum TensorStream {
    /// `fill(tensorIndex, chunk)` provides the float32 values of tensor `tensorIndex` in order; chunks are a whole
    /// number of every type's blocks, so quantized types see whole blocks.
    /// Ctrl-C stops it between chunks (the caller's temporary file is then removed).
    static func write(_ tensors: [(name: String, count: Int, type: GGMLType)], to handle: FileHandle, alignment: Int,
                      fill: (Int, UnsafeMutableBufferPointer<Float>) -> Void) throws {
        let chunkSize = 1 << 20
        let chunk = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunkSize)
        defer { chunk.deallocate() }
        for (index, tensor) in tensors.enumerated() {
            var left = tensor.count
            while left > 0 {
                let part = UnsafeMutableBufferPointer(rebasing: chunk[0..<min(left, chunkSize)])
                try Interrupt.check()
                fill(index, part)
                var out = Data(capacity: part.count * 4)
                try tensor.type.encode(UnsafeBufferPointer(part), into: &out, name: tensor.name)
                try handle.write(contentsOf: out)
                left -= part.count
            }
            let bytes = tensor.type.byteCount(tensor.count), padding = (alignment - bytes % alignment) % alignment
            if padding > 0 { try handle.write(contentsOf: Data(count: padding)) }
        }
    }
}

/// Writes GGUF files (version 3), the format llama.cpp loads: a header, metadata, tensor descriptions, then the
/// tensors' data, each aligned to 32 bytes. Written to a temporary sibling and renamed into place.
public enum GGUFWriter {
    /// One tensor: its name, its shape in Hugging Face order (`[rows, columns]`; GGUF stores the reverse) and type.
    public struct Entry {
        public let name: String, shape: [Int], type: GGMLType
        public init(name: String, shape: [Int], type: GGMLType) { self.name = name; self.shape = shape; self.type = type }
    }

    static let alignment = 32

    /// Writes `metadata` and the tensors `entries`, whose float32 values `fill(entryIndex, chunk)` provides in order,
    /// chunk by chunk (each chunk a whole number of the type's blocks), so files larger than memory can be written.
    public static func write(metadata: [(String, GGUFValue)], entries: [Entry], to path: String,
                             fill: (Int, UnsafeMutableBufferPointer<Float>) -> Void) throws {
        for e in entries where Shape.count(e.shape) % e.type.blockSize != 0 || (e.shape.last ?? 0) % e.type.blockSize != 0 {
            throw FormatError(file: path, "tensor '\(e.name)' of shape \(e.shape) cannot be stored as \(e.type.name): rows must be a multiple of \(e.type.blockSize)")
        }
        var head = Data()
        head.append(contentsOf: Array("GGUF".utf8))
        appendInteger(UInt32(3), to: &head)
        appendInteger(UInt64(entries.count), to: &head)
        appendInteger(UInt64(metadata.count), to: &head)
        for (key, value) in metadata {
            appendString(key, to: &head)
            appendValue(value, to: &head)
        }
        var offset = 0
        for e in entries {
            appendString(e.name, to: &head)
            appendInteger(UInt32(e.shape.count), to: &head)
            for dimension in e.shape.reversed() { appendInteger(UInt64(dimension), to: &head) }
            appendInteger(e.type.rawValue, to: &head)
            appendInteger(UInt64(offset), to: &head)
            offset += padded(e.type.byteCount(Shape.count(e.shape)))
        }
        head.append(Data(count: padded(head.count) - head.count))
        try AtomicFile.stream(to: path) { handle in
            try handle.write(contentsOf: head)
            try TensorStream.write(entries.map { ($0.name, Shape.count($0.shape), $0.type) }, to: handle, alignment: alignment, fill: fill)
        }
    }

    /// `n` rounded up to the alignment.
    static func padded(_ n: Int) -> Int { (n + alignment - 1) / alignment * alignment }

    private static func appendInteger<T: FixedWidthInteger>(_ value: T, to out: inout Data) {
        withUnsafeBytes(of: value.littleEndian) { out.append(contentsOf: $0) }
    }

    private static func appendString(_ s: String, to out: inout Data) {
        let bytes = Array(s.utf8)
        appendInteger(UInt64(bytes.count), to: &out)
        out.append(contentsOf: bytes)
    }

    /// GGUF value type codes.
    private enum TypeCode: UInt32 { case uint32 = 4, int32 = 5, float32 = 6, bool = 7, string = 8, array = 9 }

    private static func appendValue(_ value: GGUFValue, to out: inout Data) {
        func array(_ element: TypeCode, _ count: Int, _ body: (inout Data) -> Void) {
            appendInteger(TypeCode.array.rawValue, to: &out)
            appendInteger(element.rawValue, to: &out)
            appendInteger(UInt64(count), to: &out)
            body(&out)
        }
        switch value {
        case .uint32(let v): appendInteger(TypeCode.uint32.rawValue, to: &out); appendInteger(v, to: &out)
        case .float32(let v): appendInteger(TypeCode.float32.rawValue, to: &out); appendInteger(v.bitPattern, to: &out)
        case .bool(let v): appendInteger(TypeCode.bool.rawValue, to: &out); out.append(v ? 1 : 0)
        case .string(let s): appendInteger(TypeCode.string.rawValue, to: &out); appendString(s, to: &out)
        case .int32s(let list): array(.int32, list.count) { o in for v in list { appendInteger(v, to: &o) } }
        case .float32s(let list): array(.float32, list.count) { o in for v in list { appendInteger(v.bitPattern, to: &o) } }
        case .strings(let list): array(.string, list.count) { o in for s in list { appendString(s, to: &o) } }
        }
    }
}
