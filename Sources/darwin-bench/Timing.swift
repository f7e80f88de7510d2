import CDarwinSupport
import COpenBLAS
import DarwinCore
import Dispatch
import Glibc

/// The machine's sgemm ceiling: GFLOP/s of a direct `cblas_sgemm` on n×n matrices with OpenBLAS's own
/// threading at `Parallel.threads` threads (darwinhost otherwise keeps OpenBLAS single-threaded and splits
/// products itself).
func sgemmCeiling(size n: Int, repeats: Int) throws -> Double {
    let a = try Tensor.randn([n, n]), b = try Tensor.randn([n, n]), c = try Tensor.zeros([n, n])
    _ = try a.matmul(b)  // darwinhost's first product sets OpenBLAS to one thread; undo that for the ceiling
    openblas_set_num_threads(Int32(Parallel.threads))
    defer { openblas_set_num_threads(1) }
    let seconds = medianSeconds(repeats: repeats) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(n), Int32(n), Int32(n), 1,
                    a.data, Int32(n), b.data, Int32(n), 0, c.data, Int32(n))
    }
    return 2.0 * Double(n * n * n) / seconds / 1e9
}

/// The sgemm ceiling at this moment: the faster of OpenBLAS's own threads and darwinhost's split of a product over
/// its workers (`Tensor.matmul`), each the median GFLOP/s of 15 products of 1024³ (about half a second in all).
/// OpenBLAS's threads go first: they spin for a while after their last product, and the split's medians absorb
/// that better than the timed work that follows.
func sgemmCeilingNow() throws -> Double {
    let a = try Tensor.randn([1024, 1024]), b = try Tensor.randn([1024, 1024])
    let threaded = try sgemmCeiling(size: 1024, repeats: 15)
    return max(threaded, 2.0 * Double(1 << 30) / (try medianSeconds(repeats: 15) { _ = try a.matmul(b) }) / 1e9)
}

/// The seconds of one call of `body` and the mean sgemm ceiling (`sgemmCeilingNow`) measured right before and right
/// after it. This machine's speed drifts by tens of percent within minutes, so a ceiling measured once, at another
/// moment, is not the one the work met.
func secondsAgainstCeiling(_ body: () throws -> Void) throws -> (seconds: Double, ceiling: Double) {
    let before = try sgemmCeilingNow()
    let time = try seconds(body)
    return (time, (before + (try sgemmCeilingNow())) / 2)
}

/// The cores' arithmetic peak: GFLOP/s of chains of fused multiply-adds of the widest vectors the CPU has (AVX-512,
/// else AVX2) on `Parallel.threads` threads at once (nil without AVX2). The sgemm ceiling is a fraction of it; with
/// both cores busy, a smaller one (shared caches and memory). The best of three rounds: right after a product on
/// OpenBLAS's own threads, its idle threads still spin for a while (one round then read 0.72 of the peak).
func fmaPeak() -> Double? {
    guard darwin_has_avx2_fma() != 0 else { return nil }
    let wide = darwin_has_avx512f() != 0
    let round: (Int) -> Double = wide ? darwin_fma_peak_avx512 : darwin_fma_peak_avx2
    let flopsPerRound = wide ? 384.0 : 192.0
    let iterations = 50_000_000, threads = Parallel.threads
    _ = round(1_000_000)
    let time = (0..<3).map { _ in seconds { DispatchQueue.concurrentPerform(iterations: threads) { _ in _ = round(iterations) } } }.min()!
    return flopsPerRound * Double(iterations * threads) / time / 1e9
}

/// Wall time of one call of `body`, in seconds.
func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
}

/// `body`'s result with the minor page faults and system CPU seconds it took (the kernel's share of its work:
/// faulting in and clearing memory the process had returned).
func withKernelUsage<T>(_ body: () throws -> T) rethrows -> (result: T, faults: Int, system: Double) {
    func usage() -> (Int, Double) {
        var u = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
        return (u.ru_minflt, Double(u.ru_stime.tv_sec) + Double(u.ru_stime.tv_usec) / 1e6)
    }
    let before = usage()
    let result = try body()
    let after = usage()
    return (result, after.0 - before.0, after.1 - before.1)
}

/// Median wall time of `body` over `repeats` runs after one warm-up run, in seconds.
func medianSeconds(repeats: Int, _ body: () throws -> Void) rethrows -> Double {
    try body()
    var times: [Double] = []
    for _ in 0..<repeats { times.append(try seconds(body)) }
    times.sort()
    return times[times.count / 2]
}

/// One printed benchmark row: what was measured, its rate, and the ratio to the row's baseline.
struct BenchRow {
    let name: String
    let value: Double
    let unit: String
    let baseline: Double

    var line: String {
        let pad = String(repeating: " ", count: max(1, 44 - name.count))
        return "\(name)\(pad)\(fixed(value, 2)) \(unit)\(String(repeating: " ", count: max(1, 10 - unit.count)))ratio \(fixed(value / baseline, value / baseline < 0.01 ? 5 : 3))"
    }
}

/// `v` with `digits` decimals.
func fixed(_ v: Double, _ digits: Int) -> String {
    let scale = (0..<digits).reduce(1.0) { a, _ in a * 10 }
    let r = (v * scale).rounded() / scale
    var s = String(r)
    if let dot = s.firstIndex(of: ".") {
        let decimals = s.distance(from: dot, to: s.endIndex) - 1
        s += String(repeating: "0", count: max(0, digits - decimals))
    }
    return s
}
