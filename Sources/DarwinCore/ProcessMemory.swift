import Foundation
import Glibc

/// Fields of Linux /proc files that report memory as `Name:   123 kB` (`/proc/meminfo`; `/proc/self/status`
/// puts a tab after the colon).
enum ProcFields {
    /// The named fields of `path` in bytes (absent ones are left out).
    static func bytes(_ names: [String], in path: String) -> [String: Double] {
        guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return [:] }
        var out: [String: Double] = [:]
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"), names.contains(String(line[..<colon])) else { continue }
            if let kb = line[line.index(after: colon)...].split(whereSeparator: { $0 == " " || $0 == "\t" }).first.flatMap({ Double($0) }) { out[String(line[..<colon])] = kb * 1024 }
        }
        return out
    }
}

/// The machine's memory, for checks of requests that could never be satisfied.
public enum MemoryLimit {
    /// Physical memory in bytes.
    public static let physicalBytes: Int = {
        let pages = sysconf(Int32(_SC_PHYS_PAGES)), size = sysconf(Int32(_SC_PAGESIZE))
        return pages > 0 && size > 0 ? pages * size : Int.max
    }()

    /// What a request of `bytes` can get: for requests of 256 MiB and more, the memory the kernel reports available
    /// (with free swap), capped by the address-space limit (`ulimit -v`) less what the process has mapped; smaller
    /// requests are only checked against physical memory (reading /proc costs more than they do).
    public static func availableBytes(for bytes: Double) -> Double {
        guard bytes >= Double(256 << 20) else { return Double(physicalBytes) }
        var available = Double(physicalBytes)
        let memory = ProcFields.bytes(["MemAvailable", "SwapFree"], in: "/proc/meminfo")
        if let free = memory["MemAvailable"] { available = free + (memory["SwapFree"] ?? 0) }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_AS.rawValue), &limit) == 0, limit.rlim_cur != rlim_t.max,
           let mapped = ProcFields.bytes(["VmSize"], in: "/proc/self/status")["VmSize"] {
            available = min(available, Double(limit.rlim_cur) - mapped)
        }
        return max(0, available)
    }

    /// Throws a clear error when work that needs about `bytes` more memory cannot get it (what `what` describes),
    /// instead of the process dying in an allocation deep inside it.
    public static func require(_ bytes: Double, for what: String) throws {
        let available = availableBytes(for: bytes)
        if bytes > available {
            throw TensorError("not enough memory for \(what): about \(gib(bytes)) GiB needed, \(gib(available)) GiB available")
        }
    }

    /// `bytes` in GiB with one decimal.
    static func gib(_ bytes: Double) -> String { String(Double(Int(bytes / Double(1 << 30) * 10)) / 10) }
}

/// This process's resident memory, from /proc (Linux).
public enum ProcessMemory {
    /// (VmRSS, VmHWM) in bytes: resident now and the peak since start or the last `resetPeak()`.
    public static func residentAndPeak() -> (Int, Int) {
        let fields = ProcFields.bytes(["VmRSS", "VmHWM"], in: "/proc/self/status")
        return (Int(fields["VmRSS"] ?? 0), Int(fields["VmHWM"] ?? 0))
    }

    /// Resets the peak to the current resident size (writes 5 to /proc/self/clear_refs).
    public static func resetPeak() { try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8) }
}
