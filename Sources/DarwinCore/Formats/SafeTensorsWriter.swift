import Foundation

/// Writes safetensors files atomically (to a temporary file in the same folder, then renamed).
public enum SafeTensorsWriter {
    /// Storage format for written tensors.
    public enum Precision {
        case f32, bf16, f16
        /// The safetensors dtype name.
        var dtypeName: String { self == .f32 ? "F32" : self == .bf16 ? "BF16" : "F16" }
        /// The `torch_dtype` name a config records.
        var torchName: String { self == .f32 ? "float32" : self == .bf16 ? "bfloat16" : "float16" }
    }

    /// Writes `tensors` (name, tensor) in the given order with optional `metadata`.
    public static func write(_ tensors: [(String, Tensor)], to path: String, metadata: [String: String] = [:],
                             precision: Precision = .f32) throws {
        let layout = try header(tensors.map { ($0.0, $0.1.shape) }, metadata: metadata, precision: precision)
        var out = Data(capacity: layout.header.count + layout.dataBytes)
        out.append(layout.header)
        for (_, t) in tensors {
            let c = t.contiguous()
            append(UnsafeBufferPointer(start: c.data, count: c.count), precision: precision, to: &out)
        }
        try AtomicFile.write(out, to: path)
    }

    /// Writes a file of tensors with the given names and shapes whose values `fill(tensorIndex, chunk)` provides
    /// chunk by chunk (in order), so that files larger than memory can be written; atomically, like `write`.
    public static func stream(_ entries: [(String, [Int])], to path: String, metadata: [String: String] = [:], precision: Precision,
                              fill: (Int, UnsafeMutableBufferPointer<Float>) -> Void) throws {
        let layout = try header(entries, metadata: metadata, precision: precision)
        let temp = path + ".tmp-\(getpid())"
        guard FileManager.default.createFile(atPath: temp, contents: nil), let handle = FileHandle(forWritingAtPath: temp) else {
            throw FormatError(file: path, "cannot create a temporary file beside it")
        }
        do {
            try handle.write(contentsOf: layout.header)
            let chunkSize = 1 << 20
            let chunk = UnsafeMutableBufferPointer<Float>.allocate(capacity: chunkSize)
            defer { chunk.deallocate() }
            for (index, entry) in entries.enumerated() {
                var left = Shape.count(entry.1)
                while left > 0 {
                    let part = UnsafeMutableBufferPointer(rebasing: chunk[0..<min(left, chunkSize)])
                    fill(index, part)
                    var out = Data(capacity: part.count * 4)
                    append(UnsafeBufferPointer(part), precision: precision, to: &out)
                    try handle.write(contentsOf: out)
                    left -= part.count
                }
            }
            try handle.close()
            guard rename(temp, path) == 0 else { throw FormatError(file: path, "cannot rename temporary file into place (errno \(errno))") }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temp)
            throw error as? FormatError ?? FormatError(file: path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// The 8-byte length and the padded JSON header for tensors of these names and shapes, stored back to back.
    private static func header(_ entries: [(String, [Int])], metadata: [String: String], precision: Precision) throws -> (header: Data, dataBytes: Int) {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        let elementSize = precision == .f32 ? 4 : 2
        var offset = 0
        for (name, shape) in entries {
            let bytes = Shape.count(shape) * elementSize
            header[name] = ["dtype": precision.dtypeName, "shape": shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var json = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while json.count % 8 != 0 { json.append(0x20) }  // pad with spaces (allowed by the format)
        var out = Data()
        withUnsafeBytes(of: UInt64(json.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(json)
        return (out, offset)
    }

    /// Appends `values` to `out` in the storage precision (little-endian).
    private static func append(_ values: UnsafeBufferPointer<Float>, precision: Precision, to out: inout Data) {
        switch precision {
        case .f32: out.append(values)
        case .bf16, .f16:
            var half = [UInt16](repeating: 0, count: values.count)
            if precision == .bf16 {
                for i in values.indices { half[i] = HalfPrecision.floatToBF16(values[i]).littleEndian }
            } else {
                for i in values.indices { half[i] = Float16(values[i]).bitPattern.littleEndian }
            }
            half.withUnsafeBufferPointer { out.append($0) }
        }
    }
}

/// Atomic file replacement: write a temporary sibling, flush, rename over the target.
public enum AtomicFile {
    /// Writes `data` to `path` so that readers see either the old or the new file, never a partial one.
    public static func write(_ data: Data, to path: String) throws {
        let url = URL(fileURLWithPath: path)
        let temp = url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).tmp-\(getpid())")
        do {
            try data.write(to: temp)
            if rename(temp.path, url.path) != 0 {
                throw FormatError(file: path, "cannot rename temporary file into place (errno \(errno))")
            }
        } catch {
            try? FileManager.default.removeItem(at: temp)
            throw error as? FormatError ?? FormatError(file: path, "cannot write: \(error.localizedDescription)")
        }
    }
}
