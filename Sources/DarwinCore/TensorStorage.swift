import Synchronization

/// A reference-counted, 64-byte aligned float32 buffer shared by a tensor and all of its views.
public final class TensorStorage {
    /// Start of the buffer.
    public let pointer: UnsafeMutablePointer<Float>
    /// Number of float32 elements in the buffer.
    public let count: Int

    /// Allocates `count` uninitialised floats.
    public init(count: Int) {
        self.count = count
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * MemoryLayout<Float>.stride, alignment: 64)
        pointer = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        LiveTensorCounter.storages.add(1, ordering: .relaxed)
    }

    /// Allocates `count` floats all set to `value`.
    public convenience init(count: Int, repeating value: Float) {
        self.init(count: count)
        pointer.initialize(repeating: value, count: count)
    }

    deinit {
        UnsafeMutableRawPointer(pointer).deallocate()
        LiveTensorCounter.storages.add(-1, ordering: .relaxed)
    }
}

/// Counts live tensor storages; tests use it to check that Lua's garbage collector frees tensors.
public enum LiveTensorCounter {
    static let storages = Atomic<Int>(0)
    /// Number of storages currently allocated.
    public static var count: Int { storages.load(ordering: .relaxed) }
}
