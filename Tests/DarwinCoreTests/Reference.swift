import Foundation
@testable import DarwinCore

/// Independent float64 reference helpers: they index element by element and share no code with the kernels.
enum Reference {
    /// All multi-indices of `shape` in row-major order.
    static func indices(_ shape: [Int]) -> [[Int]] {
        var out: [[Int]] = [[]]
        for n in shape { out = out.flatMap { prefix in (0..<n).map { prefix + [$0] } } }
        return out
    }

    /// Element of `t` at `index` read through its strides, as Double.
    static func at(_ t: Tensor, _ index: [Int]) -> Double {
        var off = t.offset
        for d in 0..<index.count { off += index[d] * t.strides[d] }
        return Double(t.storage.pointer[off])
    }

    /// Element of `t` at `index` of a broadcast shape (size-1 dims repeat).
    static func broadcastAt(_ t: Tensor, _ index: [Int]) -> Double {
        let shift = index.count - t.rank
        return at(t, (0..<t.rank).map { t.shape[$0] == 1 ? 0 : index[$0 + shift] })
    }

    /// A random shape of `rank` with sizes in 1...maxSize.
    static func shape(_ g: RandomGenerator, rank: Int, maxSize: Int = 5) -> [Int] {
        (0..<rank).map { _ in g.integer(1, maxSize) }
    }

    /// Max |a - b| / (1 + |b|) over paired values.
    static func maxError(_ a: [Double], _ b: [Double]) -> Double {
        zip(a, b).map { Swift.abs($0 - $1) / (1 + Swift.abs($1)) }.max() ?? 0
    }
}

extension Tensor {
    /// Values as Double in row-major order, read through strides.
    var doubles: [Double] { Reference.indices(shape).map { Reference.at(self, $0) } }
}

/// Scratch folders for tests that write files.
enum TestFiles {
    /// A new empty folder under the system temporary directory (the caller removes it).
    static func tempDir() throws -> URL {
        let d = FileManager.default.temporaryDirectory.appendingPathComponent("darwin-test-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: d, withIntermediateDirectories: true)
        return d
    }
}
