import CDarwinMPI
import CLua
import DarwinCore
import Foundation

/// `darwin.mpi`: the process's place in an MPI job (`mpirun -np N darwinhost script.lua`) and the collectives the
/// stdlib distributes work with. Without mpirun, or in a build without MPI, a single process: rank 0 of 1, and every
/// collective returns what a one-rank job would.
enum MPIModule {
    static func install(into host: LuaHost, darwinTableIndex t: Int32) {
        host.pushModule("mpi", functions)
        host.rawSetField(tableIndex: t, "mpi")
    }

    /// Raises a Lua error for a failed collective (a rank that ended, a network failure).
    static func check(_ code: Int32, _ what: String) throws {
        guard code == 0 else { throw LuaError("MPI failed in \(what) (error \(code)); another rank may have ended") }
    }

    /// Root's `count` bytes at `bytes` to every rank (one collective): what a rank other than the root received, nil
    /// on the root.
    static func broadcast(root: Int32, bytes: UnsafeMutableRawPointer, count: Int) throws -> [UInt8]? {
        var data: UnsafeMutablePointer<CChar>? = bytes.assumingMemoryBound(to: CChar.self)
        var length = Int64(count)
        try check(darwin_mpi_broadcast(&data, &length, root), "broadcast")
        guard root != darwin_mpi_rank() else { return nil }
        defer { free(data) }
        return [UInt8](UnsafeRawBufferPointer(start: data, count: Int(length)))
    }

    /// Root's values into `t` on every rank; the element counts must agree.
    static func broadcast(_ t: Tensor, root: Int32) throws {
        guard t.isContiguous else { throw LuaError("the tensor must be contiguous (t:contiguous())") }
        guard let received = try broadcast(root: root, bytes: UnsafeMutableRawPointer(t.data), count: t.count * 4) else { return }
        guard received.count == t.count * 4 else {
            throw LuaError("rank \(root)'s tensor has \(received.count / 4) elements, this rank's \(t.count)")
        }
        received.withUnsafeBytes { _ = memcpy(t.data, $0.baseAddress!, received.count) }
    }

    /// A tensor as bytes: its rank, its dimensions and its float32 values (little-endian, as in memory).
    static func encode(_ t: Tensor) -> [UInt8] {
        var out = [UInt8]()
        for v in [Int64(t.shape.count)] + t.shape.map(Int64.init) { withUnsafeBytes(of: v) { out += $0 } }
        t.toArray().withUnsafeBytes { out += $0 }
        return out
    }

    /// The tensor `encode` wrote; an error for bytes of another kind (a rank that passed a string where this one
    /// passed a tensor), checked before anything is read past their end or allocated.
    static func decode(_ bytes: [UInt8], from rank: Int) throws -> Tensor {
        func int(at i: Int) -> Int? {
            guard bytes.count >= (i + 1) * 8 else { return nil }
            return bytes.withUnsafeBytes { Int($0.loadUnaligned(fromByteOffset: i * 8, as: Int64.self)) }
        }
        let notATensor = LuaError("rank \(rank) did not pass a tensor to allgather (\(bytes.count) bytes)")
        guard let dimensions = int(at: 0), (0...64).contains(dimensions) else { throw notATensor }
        var shape: [Int] = []
        for i in 0..<dimensions {
            guard let size = int(at: i + 1) else { throw notATensor }
            shape.append(size)
        }
        let payload = bytes.count - 8 * (dimensions + 1)  // not negative: every size above was read
        guard let count = Shape.checkedProduct(shape), payload % 4 == 0, count == payload / 4 else { throw notATensor }
        let t = Tensor(uninitializedShape: shape)
        _ = bytes.withUnsafeBytes { memcpy(t.data, $0.baseAddress! + 8 * (dimensions + 1), t.count * 4) }
        return t
    }

    static let functions: [(String, LuaFunction)] = [
        ("compiled", { c in c.push(darwin_mpi_compiled() != 0); return 1 }),
        ("active", { c in c.push(darwin_mpi_active() != 0); return 1 }),
        ("rank", { c in c.push(Int(darwin_mpi_rank())); return 1 }),
        ("size", { c in c.push(Int(darwin_mpi_size())); return 1 }),
        ("barrier", { c in try check(darwin_mpi_barrier(), "barrier"); return 0 }),
        ("broadcast", { c in
            // broadcast(bytes or nil, root = 0): root's string on every rank. broadcast(tensor, root = 0): root's values
            // copied into every rank's tensor of the same shape (contiguous), which is returned.
            let root = try c.integer(2, default: 0)
            guard root >= 0 && root < Int(darwin_mpi_size()) else { throw LuaError("root must be in 0..\(darwin_mpi_size() - 1), got \(root)") }
            let isRoot = root == Int(darwin_mpi_rank())
            if let t = c.optionalObject(1, as: Tensor.self) {
                try broadcast(t, root: Int32(root))
                lua_pushvalue(c.host.state, 1)
                return 1
            }
            // One byte past the message: the buffer is never empty, so it always has an address.
            var buffer = (isRoot ? [UInt8](try c.bytes(1)) : []) + [0]
            let length = buffer.count - 1
            let received = try buffer.withUnsafeMutableBytes { raw in
                try broadcast(root: Int32(root), bytes: raw.baseAddress!, count: length) ?? Array(raw.prefix(length))
            }
            c.host.push(bytes: received)
            return 1
        }),
        ("allgather", { c in
            // allgather(bytes): a list of every rank's string, in rank order, on every rank. allgather(tensor): a list
            // of every rank's tensor (shapes may differ).
            let tensor = c.optionalObject(1, as: Tensor.self)
            let mine = (try tensor.map(encode) ?? [UInt8](try c.bytes(1))) + [0]  // never empty, so it always has an address
            let size = Int(darwin_mpi_size())
            var lengths = [Int64](repeating: 0, count: size)
            var all: UnsafeMutablePointer<CChar>? = nil
            try check(mine.withUnsafeBytes { raw in
                darwin_mpi_allgather(raw.baseAddress!.assumingMemoryBound(to: CChar.self), Int64(mine.count - 1), &all, &lengths)
            }, "allgather")
            defer { free(all) }
            let L = c.host.state
            lua_createtable(L, Int32(size), 0)
            var at = 0
            for (r, n) in lengths.enumerated() {
                let part = [UInt8](UnsafeRawBufferPointer(start: all.map { UnsafeRawPointer($0) + at }, count: Int(n)))
                if tensor != nil { c.push(try decode(part, from: r)) } else { c.host.push(bytes: part) }
                lua_rawseti(L, -2, lua_Integer(r + 1))
                at += Int(n)
            }
            return 1
        }),
        ("allreduce", { c in
            // allreduce(tensor): the element-wise sum over the ranks, in place (a contiguous tensor); returns it.
            let t = try c.object(1, as: Tensor.self)
            guard t.isContiguous else { throw LuaError("the tensor must be contiguous (t:contiguous())") }
            try check(darwin_mpi_allreduce_sum(t.data, Int64(t.count)), "allreduce")
            lua_pushvalue(c.host.state, 1)
            return 1
        }),
        ("abort", { c in
            // abort([code = 1]): ends every rank of the job.
            let code = try c.integer(1, default: 1)
            darwin_mpi_abort(Int32(clamping: code))
            return 0
        }),
    ]
}
