import Dispatch
import Synchronization
import CDarwinSupport
import COpenBLAS

/// Thread settings shared by OpenBLAS and darwinhost's own loops.
public enum Parallel {
    nonisolated(unsafe) private static var configuredThreads = 0

    /// Number of threads used by parallel loops and by large matrix products (defaults to the number of cores).
    /// OpenBLAS itself always runs single-threaded: `sgemm` splits large products across these threads, so
    /// OpenBLAS's own pool never spins against darwinhost's loops.
    public static var threads: Int {
        get { configuredThreads > 0 ? configuredThreads : Int(openblas_get_num_procs()) }
        set { configuredThreads = max(1, newValue) }
    }

    /// True on a thread while it runs the body of a parallel loop: loops and BLAS calls made there stay on that thread.
    public static var insideParallelLoop: Bool { darwin_in_parallel_worker() != 0 }

    /// Runs `body` as a worker of a parallel loop on the calling thread (see `insideParallelLoop`).
    private static func asWorker(_ body: () -> Void) {
        let outer = darwin_set_parallel_worker(1)
        defer { _ = darwin_set_parallel_worker(outer) }
        body()
    }

    /// Below this many elements a loop runs on the calling thread (threading costs more than it saves).
    public static let grainElements = 1 << 16

    /// Splits `0..<count` into contiguous chunks and runs `body` on each, in parallel when `enabled` (and not already
    /// inside a parallel loop).
    public static func forEachChunk(count: Int, minimumChunk: Int = 1, enabled: Bool = true,
                                    _ body: (Range<Int>) -> Void) {
        let workers = min(threads, count / max(minimumChunk, 1))
        if !enabled || workers <= 1 || insideParallelLoop { body(0..<count); return }
        let chunk = (count + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let start = w * chunk
            let end = min(count, start + chunk)
            if start < end { asWorker { body(start..<end) } }
        }
    }

    /// Into how many equal parts a batch of `batch` sequences splits, one per thread, for work whose parts each run
    /// on one worker (`mapParts`); nil where it does not split: one thread, a batch that does not divide among the
    /// threads, or a caller already inside a parallel loop.
    public static func sequenceParts(batch: Int) -> Int? {
        let parts = min(threads, batch)
        return parts > 1 && batch % parts == 0 && !insideParallelLoop ? parts : nil
    }

    /// `body(part)` for every part of `0..<count`, the parts handed to the workers as `forEachChunk` hands out
    /// indices; their results in order. An error thrown by a part is rethrown once every part has finished.
    public static func mapParts<T>(_ count: Int, _ body: (Int) throws -> T) throws -> [T] {
        var outcomes = [Result<T, Error>?](repeating: nil, count: count)
        outcomes.withUnsafeMutableBufferPointer { outcome in
            forEachChunk(count: count) { range in
                for part in range { outcome[part] = Result { try body(part) } }
            }
        }
        return try outcomes.map { try $0!.get() }
    }

    /// Runs `body` on chunks of `chunk` consecutive indices of `0..<count`, each handed to whichever worker is free
    /// next: for loops of many equal pieces on a machine whose threads do not all run at the same speed (a shared
    /// virtual machine), where a fixed split leaves one thread waiting for the other.
    public static func forEachDynamicChunk(count: Int, chunk: Int, _ body: (Range<Int>) -> Void) {
        let size = max(chunk, 1), chunks = (count + size - 1) / size
        let workers = min(threads, chunks)
        if workers <= 1 || insideParallelLoop { if count > 0 { body(0..<count) }; return }
        let next = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: workers) { _ in
            asWorker {
                while true {
                    let c = next.add(1, ordering: .relaxed).oldValue
                    guard c < chunks else { return }
                    body((c * size)..<min(count, (c + 1) * size))
                }
            }
        }
    }
}
