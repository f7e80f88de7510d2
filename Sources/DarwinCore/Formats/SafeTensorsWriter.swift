import Foundation

/// Writes safetensors files atomically (to a temporary file in the same folder, then renamed).
public enum SafeTensorsWriter {
    /// Storage format for written tensors.
    public enum Precision { case f32, bf16 }

    /// Writes `tensors` (name, tensor) in the given order with optional `metadata`.
    public static func write(_ tensors: [(String, Tensor)], to path: String, metadata: [String: String] = [:],
                             precision: Precision = .f32) throws {
        var header: [String: Any] = [:]
        if !metadata.isEmpty { header["__metadata__"] = metadata }
        let elementSize = precision == .f32 ? 4 : 2
        var offset = 0
        for (name, t) in tensors {
            let bytes = t.count * elementSize
            header[name] = ["dtype": precision == .f32 ? "F32" : "BF16", "shape": t.shape, "data_offsets": [offset, offset + bytes]] as [String: Any]
            offset += bytes
        }
        var headerData = try JSONSerialization.data(withJSONObject: header, options: [.sortedKeys])
        while headerData.count % 8 != 0 { headerData.append(0x20) }  // pad with spaces (allowed by the format)
        var out = Data(capacity: 8 + headerData.count + offset)
        withUnsafeBytes(of: UInt64(headerData.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerData)
        for (_, t) in tensors {
            let c = t.contiguous()
            if precision == .f32 {
                out.append(UnsafeBufferPointer(start: c.data, count: c.count))
            } else {
                var half = [UInt16](repeating: 0, count: c.count)
                for i in 0..<c.count { half[i] = HalfPrecision.floatToBF16(c.data[i]).littleEndian }
                half.withUnsafeBufferPointer { out.append($0) }
            }
        }
        try AtomicFile.write(out, to: path)
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
