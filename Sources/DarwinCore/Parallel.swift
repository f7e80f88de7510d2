import Dispatch
import COpenBLAS

/// Thread settings shared by OpenBLAS and darwinhost's own loops.
public enum Parallel {
    nonisolated(unsafe) private static var configuredThreads = 0

    /// Number of threads used by BLAS and by parallel loops (defaults to the number of cores).
    public static var threads: Int {
        get { configuredThreads > 0 ? configuredThreads : Int(openblas_get_num_procs()) }
        set {
            configuredThreads = max(1, newValue)
            openblas_set_num_threads(Int32(configuredThreads))
        }
    }

    /// Runs `body` with OpenBLAS limited to one thread, for BLAS calls made from inside our own parallel
    /// loops (a multi-threaded sgemm per worker oversubscribes the cores: measured 3.5x slower attention).
    public static func withSingleThreadedBLAS<T>(_ body: () throws -> T) rethrows -> T {
        let n = threads
        if n == 1 { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(Int32(n)) }
        return try body()
    }

    /// Below this many elements a loop runs on the calling thread (threading costs more than it saves).
    public static let grainElements = 1 << 16

    /// Splits `0..<count` into contiguous chunks and runs `body` on each, in parallel when `enabled`.
    public static func forEachChunk(count: Int, minimumChunk: Int = 1, enabled: Bool = true,
                                    _ body: (Range<Int>) -> Void) {
        let workers = min(threads, count / max(minimumChunk, 1))
        if !enabled || workers <= 1 { body(0..<count); return }
        let chunk = (count + workers - 1) / workers
        DispatchQueue.concurrentPerform(iterations: workers) { w in
            let start = w * chunk
            let end = min(count, start + chunk)
            if start < end { body(start..<end) }
        }
    }
}
