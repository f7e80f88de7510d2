import CDarwinSupport
import CZlib
import Foundation

/// Reads training / calibration / evaluation data into one stream of token ids.
///
/// Formats, by file name: `.txt` (plain text, tokenized whole), `.jsonl` (one JSON object per line with a
/// `text` field; each document tokenized separately), `.npy` (a 1-d integer array of token ids) and `.bin`
/// (raw little-endian uint16 token ids, as nanoGPT writes them). Any of them may be gzip-compressed (`.gz`).
public enum TokenSource {
    /// All token ids of `path`. Text is tokenized with `tokenizer` (without special tokens); JSONL documents
    /// are joined with `separator` (e.g. the EOS id) when given.
    public static func tokens(path: String, tokenizer: Tokenizer?, separator: Int32? = nil) throws -> [Int32] {
        let name = path.hasSuffix(".gz") ? String(path.dropLast(3)) : path
        let data = try read(path)
        if name.hasSuffix(".npy") { return try NumpyArray.tokens(data, file: path) }
        if name.hasSuffix(".bin") {
            guard data.count % 2 == 0 else { throw FormatError(file: path, "a .bin token file holds uint16 ids; \(data.count) bytes is odd") }
            return data.withUnsafeBytes { raw in (0..<(data.count / 2)).map { Int32(UInt16(littleEndian: raw.loadUnaligned(fromByteOffset: 2 * $0, as: UInt16.self))) } }
        }
        guard let tokenizer else { throw FormatError(file: path, "text data needs a tokenizer") }
        let text = String(decoding: data, as: UTF8.self)
        if name.hasSuffix(".jsonl") {
            var out: [Int32] = []
            // "\r\n" is one Character in Swift: CRLF files split on it as well as on "\n".
            for (i, line) in text.split(omittingEmptySubsequences: false, whereSeparator: { $0 == "\n" || $0 == "\r\n" }).enumerated() {
                if line.allSatisfy({ $0 == " " || $0 == "\t" }) { continue }
                guard let object = (try? JSONSerialization.jsonObject(with: Data(line.utf8))) as? [String: Any],
                      let doc = object["text"] as? String else {
                    throw FormatError(file: path, "line \(i + 1): expected a JSON object with a string field 'text'")
                }
                if let separator, !out.isEmpty { out.append(separator) }
                out.append(contentsOf: try tokenizer.encodeStoppable(doc, addSpecialTokens: false))
            }
            return out
        }
        return try tokenizeInParallel(text, tokenizer)
    }

    /// Tokenizes long text in line-aligned chunks on all threads. A chunk ends only after a newline that is preceded
    /// and followed by characters other than whitespace ("x\ny"): there the supported pre-tokenizers always split the
    /// same way whether or not the text goes on (at "  \n" + end of text, `\s+(?!\S)` would take the spaces and the
    /// newline together), so the ids equal those of one whole-text call. `chunkBytes` is the target chunk size.
    /// Ctrl-C stops it between chunks.
    static func tokenizeInParallel(_ text: String, _ tokenizer: Tokenizer, chunkBytes: Int = 1 << 18) throws -> [Int32] {
        guard tokenizer.splitsAfterNewlines else { return try tokenizer.encodeStoppable(text, addSpecialTokens: false) }
        let utf8 = Array(text.utf8)
        guard !utf8.isEmpty else { return [] }
        func isSpace(_ b: UInt8) -> Bool { b == 0x0A || b == 0x0D || b == 0x20 || b == 0x09 || b == 0x0B || b == 0x0C }
        var bounds: [Int] = [0]
        while bounds.last! < utf8.count {
            var cut = min(utf8.count, bounds.last! + max(chunkBytes, 2))
            while cut < utf8.count && !(utf8[cut - 1] == 0x0A && cut - 2 >= bounds.last! && !isSpace(utf8[cut - 2]) && !isSpace(utf8[cut])) { cut += 1 }
            bounds.append(cut)
        }
        let chunks = bounds.count - 1
        var results = [[Int32]](repeating: [], count: chunks)
        let tokenizers = (0..<max(1, min(Parallel.threads, chunks))).map { _ in tokenizer.copyForThread() }
        results.withUnsafeMutableBufferPointer { out in
            let base = out.baseAddress!
            Parallel.forEachChunk(count: chunks, minimumChunk: 1, enabled: chunks > 1) { range in
                let worker = tokenizers[range.lowerBound * tokenizers.count / chunks]
                for c in range where darwin_interrupt_pending() == 0 {
                    base[c] = worker.encode(String(decoding: utf8[bounds[c]..<bounds[c + 1]], as: UTF8.self), addSpecialTokens: false)
                }
            }
        }
        try Interrupt.check()
        return results.flatMap { $0 }
    }

    /// File bytes, gunzipped when the name ends in `.gz`.
    public static func read(_ path: String) throws -> Data {
        guard FileManager.default.fileExists(atPath: path) else { throw FormatError(file: path, "file not found") }
        guard path.hasSuffix(".gz") else {
            guard let d = FileManager.default.contents(atPath: path) else { throw FormatError(file: path, "cannot read") }
            return d
        }
        guard let gz = gzopen(path, "rb") else { throw FormatError(file: path, "cannot open as gzip") }
        defer { gzclose(gz) }
        var out = Data()
        var buffer = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = buffer.withUnsafeMutableBytes { gzread(gz, $0.baseAddress, UInt32($0.count)) }
            if n < 0 { throw FormatError(file: path, "corrupt gzip data") }
            if n == 0 { break }
            out.append(buffer, count: Int(n))
        }
        // A truncated stream reads as a short one: zlib reports it only through gzerror.
        var status: Int32 = 0
        _ = gzerror(gz, &status)
        guard status == Z_OK || status == Z_STREAM_END else { throw FormatError(file: path, "corrupt or truncated gzip data (zlib error \(status))") }
        return out
    }
}

/// Minimal reader for 1-d integer `.npy` arrays.
enum NumpyArray {
    static func tokens(_ data: Data, file: String) throws -> [Int32] {
        guard data.count >= 10, data.prefix(6) == Data([0x93] + Array("NUMPY".utf8)) else {
            throw FormatError(file: file, "not a .npy file (missing the \\x93NUMPY magic)")
        }
        // Versions 1 (a 2-byte header length) and 2 and 3 (4 bytes); the fields are read only once they are there.
        let major = data[6]
        guard (1...3).contains(major) else { throw FormatError(file: file, "unsupported .npy version \(major) (expected 1, 2 or 3)") }
        let lengthBytes = major == 1 ? 2 : 4
        guard data.count >= 8 + lengthBytes else {
            throw FormatError(file: file, "the file ends (\(data.count) bytes) inside the .npy header length")
        }
        let headerLength = (0..<lengthBytes).reduce(0) { $0 | Int(data[8 + $1]) << (8 * $1) }
        let start = 8 + lengthBytes + headerLength
        guard start <= data.count else {
            throw FormatError(file: file, "header of \(headerLength) bytes runs past the end of the file (\(data.count) bytes)")
        }
        let header = String(decoding: data[(8 + lengthBytes)..<start], as: UTF8.self)
        guard header.contains("'fortran_order': False") else { throw FormatError(file: file, "only C-order arrays are supported") }
        let kinds: [(String, Int)] = [("<i2", 2), ("<u2", 2), ("<i4", 4), ("<u4", 4), ("<i8", 8), ("<u8", 8), ("|u1", 1)]
        guard let (kind, size) = kinds.first(where: { header.contains("'descr': '\($0.0)'") }) else {
            throw FormatError(file: file, "dtype in header \(header.trimmingCharacters(in: .whitespacesAndNewlines)) is not a little-endian integer type")
        }
        let count = (data.count - start) / size
        let values: [Int64] = data.withUnsafeBytes { raw in
            (0..<count).map { i in
                let off = start + i * size
                switch kind {
                case "<i2": return Int64(raw.loadUnaligned(fromByteOffset: off, as: Int16.self))
                case "<u2": return Int64(raw.loadUnaligned(fromByteOffset: off, as: UInt16.self))
                case "<i4": return Int64(raw.loadUnaligned(fromByteOffset: off, as: Int32.self))
                case "<u4": return Int64(raw.loadUnaligned(fromByteOffset: off, as: UInt32.self))
                case "|u1": return Int64(raw.load(fromByteOffset: off, as: UInt8.self))
                case "<u8": return Int64(clamping: raw.loadUnaligned(fromByteOffset: off, as: UInt64.self))
                default: return raw.loadUnaligned(fromByteOffset: off, as: Int64.self)
                }
            }
        }
        // Token ids are non-negative and fit in 32 bits; anything else is not a token stream (no silent wrap-around).
        if let bad = values.firstIndex(where: { $0 < 0 || $0 > Int64(Int32.max) }) {
            throw FormatError(file: file, "entry \(bad + 1) is \(values[bad]), not a token id in 0...\(Int32.max)")
        }
        return values.map { Int32($0) }
    }
}

/// Cuts fixed-length sequences out of a token stream.
public enum SequenceSampler {
    /// How sequences are taken from the stream.
    public enum Mode: String { case random, sequential }

    /// `count` sequences of `length` tokens: at seeded random offsets (calibration, as DarwinLM's reference
    /// samples windows), or consecutive non-overlapping windows from the start (evaluation).
    public static func sequences(_ tokens: [Int32], length: Int, count: Int, mode: Mode, seed: UInt64) throws -> [[Int32]] {
        guard length > 0, count > 0 else { throw TensorError("sequences: length and count must be positive") }
        // The sequences are materialised (and handed to Lua as tables of numbers): refuse what cannot fit.
        guard let total = Shape.checkedProduct([count, length]) else {
            throw TensorError("sequences: \(count) sequences of \(length) tokens are more than an address space holds")
        }
        try MemoryLimit.require(Double(total) * 24, for: "\(count) sequences of \(length) tokens")
        guard tokens.count >= length else {
            throw TensorError("sequences: the data has \(tokens.count) tokens, fewer than one sequence of \(length)")
        }
        switch mode {
        case .sequential:
            let available = tokens.count / length
            guard count <= available else {
                throw TensorError("sequences: \(count) sequential sequences of \(length) need \(count * length) tokens, the data has \(tokens.count)")
            }
            return (0..<count).map { Array(tokens[($0 * length)..<(($0 + 1) * length)]) }
        case .random:
            let g = RandomGenerator(seed: seed)
            return (0..<count).map { _ in
                let start = g.integer(0, tokens.count - length)
                return Array(tokens[start..<(start + length)])
            }
        }
    }
}
