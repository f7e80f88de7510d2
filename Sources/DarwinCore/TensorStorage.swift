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
    /// Its size in bytes.
    private let blockBytes: Int

    /// Allocates `count` uninitialised floats.
    public init(count: Int) {
        self.count = count
        // malloc + manual alignment rather than memalign: glibc's memalign trims the block it returns, so a freed
        // buffer is too small for the next request of the same size and the heap grows instead of reusing it.
        let bytes = TensorStorage.blockBytes(count: count)
        guard let raw = TensorStorage.allocateBlock(bytes: bytes) else {
            fatalError("darwinhost: out of memory allocating a tensor of \(count) floats")
        }
        block = raw
        blockBytes = bytes
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

    /// Bytes of the heap block behind a buffer of `count` floats (its alignment slack included).
    static func blockBytes(count: Int) -> Int { max(count, 1) * MemoryLayout<Float>.stride + 64 }

    /// Buffers this large ask for transparent huge pages. A training step that follows a trim of the heap faults
    /// its activations and gradients back in: at 0.36B that was 660,000 page faults and 8% of the step's CPU time in
    /// the kernel, and is 95,000 and 5% with huge pages.
    static let hugePageBytes = 4 << 20

    /// Applies the allocator settings once, before the first tensor buffer is allocated.
    private static let mallocTuned: Void = darwin_tune_malloc()

    /// A heap block of `bytes` for float32 data: a kept block of that size when there is one, else a new one (asking
    /// for huge pages when large); nil when memory runs out. Give it back with `releaseBlock`.
    static func allocateBlock(bytes: Int) -> UnsafeMutableRawPointer? {
        _ = TensorStorage.mallocTuned
        if let reused = LargeBlockCache.take(bytes: bytes) { return reused }  // advised when it was first allocated
        guard let raw = malloc(bytes) else { return nil }
        if bytes >= TensorStorage.hugePageBytes { darwin_advise_huge_pages(raw, bytes) }
        return raw
    }

    /// Keeps a block from `allocateBlock` for reuse when it is large and there is room, else frees it.
    static func releaseBlock(_ block: UnsafeMutableRawPointer, bytes: Int) {
        if !LargeBlockCache.keep(block, bytes: bytes) { free(block) }
    }

    deinit {
        TensorStorage.releaseBlock(block, bytes: blockBytes)
        LiveTensorCounter.storages.add(-1, ordering: .relaxed)
        LiveTensorCounter.bytes.add(-count * 4, ordering: .relaxed)
    }
}

/// Recently freed blocks of 32 MB and more (up to 512 MB in all), handed to the next request of the same size.
/// glibc serves blocks that large with fresh `mmap`s, whose page faults and zeroing were 2–3% of a training step
/// (the `[tokens, vocabulary]` logits and their gradient are allocated every step). Sizes under a
/// `BlockReservation` are kept apart, as it says.
enum LargeBlockCache {
    static let minimumBytes = 32 << 20, capacityBytes = 512 << 20
    /// (size, address) of each kept block, most recent last.
    private static let blocks = Mutex<[(Int, Int)]>([])

    /// A kept block of exactly `bytes`, if there is one. On a miss every kept block is freed first, so that kept
    /// blocks never add to the memory a new allocation needs (the peak stays what the live tensors need).
    static func take(bytes: Int) -> UnsafeMutableRawPointer? {
        guard bytes >= minimumBytes else { return nil }
        if let block = reserved.withLock({ $0[bytes]?.blocks.popLast() }) { return UnsafeMutableRawPointer(bitPattern: block) }
        let (address, evicted) = blocks.withLock { list -> (Int?, [(Int, Int)]) in
            if let i = list.lastIndex(where: { $0.0 == bytes }) { return (list.remove(at: i).1, []) }
            defer { list.removeAll() }
            return (nil, list)
        }
        for (_, block) in evicted { free(UnsafeMutableRawPointer(bitPattern: block)) }
        return address.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
    }

    /// Frees every kept block: for work that is about to need memory in blocks of other sizes, which would not
    /// reuse them (the backward pass after the forward pass's full-width MLP products and the head's logits).
    static func releaseAll() {
        let kept = blocks.withLock { list -> [(Int, Int)] in defer { list.removeAll() }; return list }
        for (_, block) in kept { free(UnsafeMutableRawPointer(bitPattern: block)) }
    }

    /// Keeps `block` for reuse when it is large and there is room; false when the caller should free it.
    static func keep(_ block: UnsafeMutableRawPointer, bytes: Int) -> Bool {
        guard bytes >= minimumBytes else { return false }
        let kept = reserved.withLock { table -> Bool in
            guard let room = table[bytes], room.blocks.count < room.limit else { return false }
            table[bytes]!.blocks.append(Int(bitPattern: block))
            return true
        }
        if kept { return true }
        return blocks.withLock { list in
            guard list.reduce(0, { $0 + $1.0 }) + bytes <= capacityBytes else { return false }
            list.append((bytes, Int(bitPattern: block)))
            return true
        }
    }
}

extension LargeBlockCache {
    /// The blocks set aside for a size: at most `limit` of them kept, addresses most recent last.
    struct Reserved { var limit = 0; var blocks: [Int] = [] }
    /// Reserved blocks by their size in bytes (`BlockReservation`).
    fileprivate static let reserved = Mutex<[Int: Reserved]>([:])

    /// Raises the number of blocks of `bytes` kept apart from the cache by `count` (lowers it for a negative count,
    /// freeing the blocks beyond the new limit).
    static func reserve(bytes: Int, count: Int) {
        guard bytes >= minimumBytes else { return }
        let excess = reserved.withLock { table -> [Int] in
            var room = table[bytes] ?? Reserved()
            room.limit = max(0, room.limit + count)
            let excess = Array(room.blocks.dropFirst(room.limit))
            room.blocks.removeLast(excess.count)
            table[bytes] = room.limit > 0 ? room : nil
            return excess
        }
        for block in excess { free(UnsafeMutableRawPointer(bitPattern: block)) }
    }

    /// Blocks of `bytes` currently kept apart for a reservation (tests).
    static func reservedBlocks(bytes: Int) -> Int { reserved.withLock { $0[bytes]?.blocks.count ?? 0 } }
}

/// Blocks of one size that repeating work frees and allocates again every round: a training step's head (and untied
/// embedding) weight gradients, `[vocabulary, hidden]` each, which at a 150k vocabulary are larger than the whole
/// block cache. While a reservation lives, up to `count` freed blocks of its size are kept for the next request of
/// that size, apart from the cache: not counted in its capacity and not freed when it misses. So they add nothing to
/// a peak that has them all live at once (a step's backward pass has every worker's head gradient), and the next
/// step reuses their pages instead of having the kernel fault them in and clear them again.
final class BlockReservation {
    let bytes: Int, count: Int

    /// Sets aside up to `count` blocks of the heap block size behind a tensor of `elements` floats.
    init(tensorsOf elements: Int, count: Int) {
        bytes = TensorStorage.blockBytes(count: elements)
        self.count = count
        LargeBlockCache.reserve(bytes: bytes, count: count)
    }

    deinit { LargeBlockCache.reserve(bytes: bytes, count: -count) }
}

/// Counts live tensor storages and their bytes in the process (`darwin.memory()` reports them; tests use them
/// to check that tensors are freed).
public enum LiveTensorCounter {
    static let storages = Atomic<Int>(0)
    static let bytes = Atomic<Int>(0)
    /// Number of storages currently allocated.
    public static var count: Int { storages.load(ordering: .relaxed) }
    /// Bytes held by all live storages.
    public static var liveBytes: Int { bytes.load(ordering: .relaxed) }
}
