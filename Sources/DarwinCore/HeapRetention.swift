import CDarwinSupport
import Synchronization

/// A hold on the pages of freed heap memory, for work that repeats the same allocations: a trainer that keeps every
/// block's activations frees about as much memory after each step as the next step allocates again. Returned to the
/// system, those pages were faulted in and cleared by the kernel again every step: 110,000–124,000 page faults and
/// 3–5 s of system time per SmolLM2-360M step of 4 × 512 tokens; a few hundred faults at most with the hold. The hold adds nothing to the
/// peak (the memory was resident at the step's own peak); the pages go back when the last holder is released.
final class HeapRetention {
    private static let holders = Mutex<Int>(0)

    /// While true, freed heap pages stay with the process (`returnFreeHeapPages` does nothing, `releaseFreePages`
    /// returns only the large kept blocks). The setting is the process's: other work running meanwhile keeps its freed
    /// pages too.
    static var isHeld: Bool { holders.withLock { $0 > 0 } }

    init() {
        HeapRetention.holders.withLock { count in
            if count == 0 { darwin_keep_freed_heap(1) }
            count += 1
        }
    }

    deinit {
        HeapRetention.holders.withLock { count in
            count -= 1
            if count == 0 { darwin_keep_freed_heap(0) }
        }
    }

    /// Returns the large blocks kept for reuse and, unless a hold is in place, the free heap pages to the system:
    /// for work about to need memory in blocks of other sizes (a training step's backward pass after its forward).
    static func releaseFreePages() {
        LargeBlockCache.releaseAll()
        returnFreeHeapPages()
    }

    /// Returns the heap's free pages to the system (`malloc_trim`) unless a hold is in place: the one way darwinhost
    /// trims, so that no trim undoes a hold (one inside a held trainer's first step left every later step faulting
    /// pages in).
    static func returnFreeHeapPages() {
        if !isHeld { darwin_release_free_heap() }
    }
}
