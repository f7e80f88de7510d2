/// How one block of a pruned model is laid out for llama.cpp, whose attention gives query head `h` the KV head
/// `h / (heads / kvHeads)`: groups of equal size, in order. A pruned block's groups can be uneven (KV head 0 keeping
/// three queries, KV head 1 one), so the block is written either with the groups padded by zero query heads or with a
/// copy of the KV head for every query head, whichever adds fewer parameters. Both compute exactly the same output:
/// a zero query head with a zero column block in `o_proj` contributes nothing.
struct GGUFBlockLayout {
    /// For each written query head, the block's head it copies (nil: a zero head).
    var queries: [Int?]
    /// For each written KV head, the block's KV head it copies (nil: a zero head).
    var keyValues: [Int?]
    /// Written MLP width; neurons past the block's own width are zero.
    var mlpWidth: Int
    /// What was added for llama.cpp, in words (empty when the block is written as it is).
    var additions: [String] = []

    /// The layout of `block`; `needsAttention` asks for at least one head (llama.cpp reads the head size from
    /// block 0). A block with attention always gets at least one neuron (llama.cpp's `deci` graph drops a block's
    /// attention output when its MLP has width 0).
    init(_ block: TransformerBlock, needsAttention: Bool) {
        queries = []; keyValues = []
        if let a = block.attention, a.queryHeads > 0 {
            var groups: [Int: [Int]] = [:]
            for (query, kv) in a.kvOfQuery.enumerated() { groups[kv, default: []].append(query) }
            let kvs = groups.keys.sorted(), largest = groups.values.map(\.count).max()!
            let padding = largest * kvs.count - a.queryHeads, copies = a.queryHeads - kvs.count
            if padding <= copies {
                for kv in kvs {
                    let members = groups[kv]!
                    queries += members.map { Optional($0) } + Array(repeating: nil, count: largest - members.count)
                    keyValues.append(kv)
                }
                if padding > 0 { additions.append("\(padding) zero query head(s) to even out its KV groups") }
            } else {
                for kv in kvs { for q in groups[kv]! { queries.append(q); keyValues.append(kv) } }
                additions.append("\(copies) copied KV head(s), one per query head, for its uneven KV groups")
            }
        } else if needsAttention {
            queries = [nil]; keyValues = [nil]
            additions.append("one zero attention head (llama.cpp reads the head size from the first block)")
        }
        mlpWidth = block.mlp?.width ?? 0
        if mlpWidth == 0 && !queries.isEmpty {
            mlpWidth = 1
            additions.append("one zero MLP neuron (llama.cpp skips a block's attention when its MLP is empty)")
        }
    }

    /// True when the block is written exactly as it is, with llama.cpp's regular grouping.
    var isExact: Bool { additions.isEmpty }
    /// Written query heads and KV heads.
    var heads: Int { queries.count }
    var kvHeads: Int { keyValues.count }
}
