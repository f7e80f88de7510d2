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
        guard code == 0 else { throw LuaError("darwin.mpi.\(what): MPI failed (error \(code)); another rank may have ended") }
    }

    static let functions: [(String, LuaFunction)] = [
        ("compiled", { c in c.push(darwin_mpi_compiled() != 0); return 1 }),
        ("active", { c in c.push(darwin_mpi_active() != 0); return 1 }),
        ("rank", { c in c.push(Int(darwin_mpi_rank())); return 1 }),
        ("size", { c in c.push(Int(darwin_mpi_size())); return 1 }),
        ("barrier", { c in try check(darwin_mpi_barrier(), "barrier"); return 0 }),
        ("broadcast", { c in
            // broadcast(bytes or nil, root = 0): root's string on every rank.
            let root = try c.integer(2, default: 0)
            guard root >= 0 && root < Int(darwin_mpi_size()) else { throw LuaError("darwin.mpi.broadcast: root must be in 0..\(darwin_mpi_size() - 1), got \(root)") }
            let isRoot = root == Int(darwin_mpi_rank())
            // One byte past the message: the buffer is never empty, so it always has an address.
            var buffer = (isRoot ? [UInt8](try c.bytes(1)) : []) + [0]
            var length = Int64(buffer.count - 1)
            let received: [UInt8] = try buffer.withUnsafeMutableBytes { raw in
                var data: UnsafeMutablePointer<CChar>? = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
                try check(darwin_mpi_broadcast(&data, &length, Int32(root)), "broadcast")
                if isRoot { return Array(raw.prefix(Int(length))) }
                defer { free(data) }
                return [UInt8](UnsafeRawBufferPointer(start: data, count: Int(length)))
            }
            c.host.push(bytes: received)
            return 1
        }),
        ("allgather", { c in
            // allgather(bytes): a list of every rank's string, in rank order, on every rank.
            let mine = [UInt8](try c.bytes(1)) + [0]  // never empty, so it always has an address
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
                c.host.push(bytes: [UInt8](UnsafeRawBufferPointer(start: all.map { UnsafeRawPointer($0) + at }, count: Int(n))))
                lua_rawseti(L, -2, lua_Integer(r + 1))
                at += Int(n)
            }
            return 1
        }),
        ("allreduce", { c in
            // allreduce(tensor): the element-wise sum over the ranks, in place (a contiguous tensor); returns it.
            let t = try c.object(1, as: Tensor.self)
            guard t.isContiguous else { throw LuaError("darwin.mpi.allreduce: the tensor must be contiguous (t:contiguous())") }
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
