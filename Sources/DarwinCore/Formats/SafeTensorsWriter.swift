import Foundation

/// Writes safetensors files atomically (to a temporary file in the same folder, then renamed).
public enum SafeTensorsWriter {
    /// Storage format for written tensors.
    public enum Precision {
        case f32, bf16, f16
        /// The safetensors dtype name.
        /// The same encoding as a ggml element type.
        var elementType: GGMLType { self == .f32 ? .f32 : self == .bf16 ? .bf16 : .f16 }
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
        for (name, t) in tensors {
            try Interrupt.check()
            let c = t.contiguous()
            try precision.elementType.encode(UnsafeBufferPointer(start: c.data, count: c.count), into: &out, name: name)
        }
        try AtomicFile.write(out, to: path)
    }

    /// Writes a file of tensors with the given names and shapes whose values `fill(tensorIndex, chunk)` provides
    /// chunk by chunk (in order), so that files larger than memory can be written; atomically, like `write`.
    public static func stream(_ entries: [(String, [Int])], to path: String, metadata: [String: String] = [:], precision: Precision,
                              fill: (Int, UnsafeMutableBufferPointer<Float>) -> Void) throws {
        let layout = try header(entries, metadata: metadata, precision: precision)
        try AtomicFile.stream(to: path) { handle in
            try handle.write(contentsOf: layout.header)
            try TensorStream.write(entries.map { ($0.0, Shape.count($0.1), precision.elementType) }, to: handle, alignment: 1, fill: fill)
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
}

/// Atomic file replacement: write a temporary sibling, flush, rename over the target. Only a regular file (or a
/// new name) is ever replaced: a directory, device, pipe or socket at the path is refused. A temporary left by a
/// process that was killed while writing the same file is removed the next time that file is written.
public enum AtomicFile {
    /// Writes `data` to `path` so that readers see either the old or the new file, never a partial one.
    public static func write(_ data: Data, to path: String) throws {
        try stream(to: path) { handle in try handle.write(contentsOf: data) }
    }

    /// Runs `body` on a temporary file beside `path`, for files written piece by piece, and renames it into place;
    /// removes it on failure.
    public static func stream(to path: String, _ body: (FileHandle) throws -> Void) throws {
        try checkReplaceable(path)
        removeStaleTemporaries(of: path)
        let temp = temporaryPath(of: path)
        guard FileManager.default.createFile(atPath: temp, contents: nil), let handle = FileHandle(forWritingAtPath: temp) else {
            throw FormatError(file: path, "cannot create a temporary file beside it")
        }
        do {
            try body(handle)
            try handle.close()
            guard rename(temp, path) == 0 else { throw FormatError(file: path, "cannot rename temporary file into place (errno \(errno))") }
        } catch {
            try? handle.close()
            try? FileManager.default.removeItem(atPath: temp)
            if error is FormatError || error is TensorError { throw error }
            throw FormatError(file: path, "cannot write: \(error.localizedDescription)")
        }
    }

    /// Refuses a path that holds something other than a regular file (followed through links).
    static func checkReplaceable(_ path: String) throws {
        var info = stat()
        guard stat(path, &info) == 0 else { return }  // nothing there (or a dangling link): a new file
        guard info.st_mode & S_IFMT == S_IFREG else {
            throw FormatError(file: path, "exists and is not a regular file (a directory, device, pipe or socket); nothing was written")
        }
    }

    /// The sibling this process writes `path` through: `DIR/.NAME.KIND-PID` (`tmp` for files; `saving` and `old`
    /// for checkpoint directories).
    public static func temporaryPath(of path: String, kind: String = "tmp") -> String {
        let url = URL(fileURLWithPath: path)
        return url.deletingLastPathComponent().appendingPathComponent(".\(url.lastPathComponent).\(kind)-\(getpid())").path
    }

    /// Removes the `temporaryPath` siblings of `path` of this kind whose writer no longer runs (killed during a write).
    public static func removeStaleTemporaries(of path: String, kind: String = "tmp") {
        let url = URL(fileURLWithPath: path)
        let prefix = ".\(url.lastPathComponent).\(kind)-"
        let folder = url.deletingLastPathComponent().path
        for name in (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [] where name.hasPrefix(prefix) {
            guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid(), kill(pid, 0) != 0, errno == ESRCH else { continue }
            try? FileManager.default.removeItem(atPath: folder + "/" + name)
        }
    }
}
