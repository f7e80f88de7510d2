import CDarwinSupport
import Glibc
import Synchronization

/// A reference-counted, 64-byte aligned float32 buffer shared by a tensor and all of its views.
public final class TensorStorage {
    /// Start of the buffer.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of float32 elements in the buffer.
    public let count: Int
    /// The block returned by malloc (`pointer` is this rounded up to 64 bytes).
    private let block: UnsafeMutableRawPointer

    /// Allocates `count` uninitialised floats.
    public init(count: Int) {
        _ = TensorStorage.mallocTuned
        self.count = count
        // malloc + manual alignment rather than memalign: glibc's memalign trims the block it returns, so a freed
        // buffer is too small for the next request of the same size and the heap grows instead of reusing it.
        guard let raw = malloc(max(count, 1) * MemoryLayout<Float>.stride + 64) else {
            fatalError("darwinhost: out of memory allocating a tensor of \(count) floats")
        }
        block = raw
        let aligned = (Int(bitPattern: raw) + 63) & ~63
        pointer = UnsafeMutableRawPointer(bitPattern: aligned)!.bindMemory(to: Float.self, capacity: max(count, 1))
        LiveTensorCounter.storages.add(1, ordering: .relaxed)
        LiveTensorCounter.bytes.add(count * 4, ordering: .relaxed)
    }

    /// Allocates `count` floats all set to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(count: count)
        pointer.initialize(repeating: value, count: count)
    }

    /// Applies the allocator settings once, before the first tensor buffer is allocated.
    private static let mallocTuned: Void = darwin_tune_malloc()

    deinit {
        free(block)
        LiveTensorCounter.storages.add(-1, ordering: .relaxed)
        LiveTensorCounter.bytes.add(-count * 4, ordering: .relaxed)
    }
}

/// Counts live tensor storages and their bytes: the Lua host paces its garbage collector with it,
/// and tests use it to check that tensors are freed.
public enum LiveTensorCounter {
    static let storages = Atomic<Int>(0)
    static let bytes = Atomic<Int>(0)
    /// Number of storages currently allocated.
    public static var count: Int { storages.load(ordering: .relaxed) }
    /// Bytes held by all live storages.
    public static var liveBytes: Int { bytes.load(ordering: .relaxed) }
}
