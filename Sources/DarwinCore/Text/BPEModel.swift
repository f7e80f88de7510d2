import Synchronization

/// A byte-pair-encoding model as in Hugging Face `tokenizers`: vocabulary, ranked merges, optional
/// byte fallback (`<0xXX>` tokens for characters outside the vocabulary) and unknown-token handling.
/// Safe to share between threads: the word cache is behind a lock (`copyWithEmptyCache` gives a thread its own
/// cache, so that parallel tokenizing does not contend for it).
final class BPEModel {
    /// Token to id, keys compared scalar by scalar.
    let vocab: [Literal: Int32]
    /// Rank and result id of each mergeable pair of ids.
    private let merges: [PairKey: (rank: Int32, id: Int32)]
    let unknownId: Int32?
    let byteFallback: Bool
    let fuseUnknown: Bool
    /// Whole words found in the vocabulary skip merging (`ignore_merges`, used by Llama 3).
    let ignoreMerges: Bool
    private let byteTokenIds: [Int32?]
    private let cache = Mutex<[Literal: [Int32]]>([:])

    struct PairKey: Hashable { let a: Int32, b: Int32 }

    init(vocab: [Literal: Int32], merges: [(String, String)], unknown: String?, byteFallback: Bool, fuseUnknown: Bool,
         ignoreMerges: Bool, file: String) throws {
        self.vocab = vocab
        var table: [PairKey: (Int32, Int32)] = [:]
        for (rank, (a, b)) in merges.enumerated() {
            guard let ia = vocab[Literal(a)], let ib = vocab[Literal(b)], let merged = vocab[Literal(a + b)] else {
                throw FormatError(file: file, "merge \(rank + 1) ('\(a)' '\(b)') uses tokens missing from the vocabulary")
            }
            if table[PairKey(a: ia, b: ib)] == nil { table[PairKey(a: ia, b: ib)] = (Int32(rank), merged) }
        }
        self.merges = table
        if let unknown {
            guard let id = vocab[Literal(unknown)] else { throw FormatError(file: file, "unk_token '\(unknown)' is not in the vocabulary") }
            unknownId = id
        } else { unknownId = nil }
        self.byteFallback = byteFallback
        self.fuseUnknown = fuseUnknown
        self.ignoreMerges = ignoreMerges
        byteTokenIds = (0..<256).map { vocab[Literal("<0x" + hex2($0) + ">")] }
    }

    private init(copying m: BPEModel) {
        vocab = m.vocab; merges = m.merges; unknownId = m.unknownId; byteFallback = m.byteFallback
        fuseUnknown = m.fuseUnknown; ignoreMerges = m.ignoreMerges; byteTokenIds = m.byteTokenIds
    }

    /// The mergeable pairs of ids, by rank (highest priority first).
    var rankedMerges: [(Int32, Int32)] { merges.sorted { $0.value.rank < $1.value.rank }.map { ($0.key.a, $0.key.b) } }

    /// The rank of the first merge that makes each token, for tokens a merge makes.
    var mergeRankOfToken: [Int32: Int32] {
        var ranks: [Int32: Int32] = [:]
        for (_, merge) in merges { ranks[merge.id] = min(ranks[merge.id] ?? .max, merge.rank) }
        return ranks
    }

    /// The ids of the byte fallback tokens `<0x00>`...`<0xFF>` the vocabulary has.
    var byteFallbackIds: Set<Int32> { Set(byteTokenIds.compactMap { $0 }) }

    /// The same model with a separate (empty) word cache, safe to use from another thread.
    func copyWithEmptyCache() -> BPEModel { BPEModel(copying: self) }

    /// Token ids of one pre-tokenized word.
    func encode(_ word: String) -> [Int32] {
        let key = Literal(word)
        if let hit = cache.withLock({ $0[key] }) { return hit }
        let ids = encodeUncached(word)
        cache.withLock { if $0.count < 100_000 { $0[key] = ids } }
        return ids
    }

    private func encodeUncached(_ word: String) -> [Int32] {
        if ignoreMerges, let id = vocab[Literal(word)] { return [id] }
        // Initial symbols: one per character, or byte tokens / unknown for characters outside the vocabulary.
        var symbols: [Int32] = []
        var lastWasUnknown = false
        for scalar in word.unicodeScalars {
            if let id = vocab[Literal(String(scalar))] { symbols.append(id); lastWasUnknown = false; continue }
            if byteFallback, String(scalar).utf8.allSatisfy({ byteTokenIds[Int($0)] != nil }) {
                symbols.append(contentsOf: String(scalar).utf8.map { byteTokenIds[Int($0)]! })
                lastWasUnknown = false
            } else if let unk = unknownId {
                if !(fuseUnknown && lastWasUnknown) { symbols.append(unk) }
                lastWasUnknown = true
            }
        }
        return mergeSymbols(symbols)
    }

    /// Applies merges lowest rank first (leftmost on ties), with a doubly linked list and a binary heap.
    private func mergeSymbols(_ initial: [Int32]) -> [Int32] {
        if initial.count < 2 { return initial }
        var ids = initial
        var prev = Array(-1..<(ids.count - 1)), next = Array(1...ids.count)
        next[ids.count - 1] = -1
        var alive = [Bool](repeating: true, count: ids.count)
        var heap = MergeHeap()
        func consider(_ i: Int) {
            let j = next[i]
            guard j >= 0, let m = merges[PairKey(a: ids[i], b: ids[j])] else { return }
            heap.push(MergeCandidate(rank: m.rank, position: i, left: ids[i], right: ids[j]))
        }
        for i in 0..<(ids.count - 1) { consider(i) }
        while let c = heap.pop() {
            let i = c.position
            guard alive[i], ids[i] == c.left, next[i] >= 0, ids[next[i]] == c.right,
                  let m = merges[PairKey(a: c.left, b: c.right)], m.rank == c.rank else { continue }
            let j = next[i]
            ids[i] = m.id
            alive[j] = false
            next[i] = next[j]
            if next[j] >= 0 { prev[next[j]] = i }
            if prev[i] >= 0 { consider(prev[i]) }
            consider(i)
        }
        var out: [Int32] = []
        var k = 0
        while k >= 0 { out.append(ids[k]); k = next[k] }
        return out
    }
}

/// A possible merge of the pair starting at `position`, valid while both symbols are unchanged.
struct MergeCandidate {
    let rank: Int32
    let position: Int
    let left: Int32, right: Int32
    func before(_ o: MergeCandidate) -> Bool { rank != o.rank ? rank < o.rank : position < o.position }
}

/// A binary min-heap of merge candidates.
struct MergeHeap {
    private var items: [MergeCandidate] = []
    mutating func push(_ c: MergeCandidate) {
        items.append(c)
        var i = items.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if !items[i].before(items[p]) { break }
            items.swapAt(i, p); i = p
        }
    }
    mutating func pop() -> MergeCandidate? {
        guard let top = items.first else { return nil }
        items[0] = items[items.count - 1]
        items.removeLast()
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < items.count && items[l].before(items[m]) { m = l }
            if r < items.count && items[r].before(items[m]) { m = r }
            if m == i { break }
            items.swapAt(i, m); i = m
        }
        return top
    }
}

/// Two uppercase hex digits.
func hex2(_ v: Int) -> String {
    let digits = Array("0123456789ABCDEF")
    return String([digits[(v >> 4) & 15], digits[v & 15]])
}
