import CLua
import CLuaGlue
import DarwinCore
import Foundation

/// The `darwin` global: version, BLAS library, threads, clock, random generators, and the submodules (`darwin.tensor`).
enum DarwinModule {
    static func install(into host: LuaHost) throws {
        try host.defineClass(DirectoryLock.self, name: "darwin.Lock", methods: [
            ("release", { c in try c.object(1, as: DirectoryLock.self).release(); return 0 }),
        ], metamethods: [("__tostring", { c in c.push("darwin.Lock(\(try c.object(1, as: DirectoryLock.self).directory))"); return 1 })],
        namespace: "lock")
        try host.defineClass(RandomGenerator.self, name: "darwin.Generator", methods: generatorMethods,
                             metamethods: [("__tostring", { c in c.push("darwin.Generator"); return 1 })], namespace: "generator")
        host.pushModule("darwin", functions)
        host.push(string: LuaHost.version)
        host.rawSetField(tableIndex: -2, "version")
        host.push(string: BLASLibrary.description)
        host.rawSetField(tableIndex: -2, "blas")
        host.pushGlobal("tensor")
        host.rawSetField(tableIndex: -2, "tensor")
        let table = lua_gettop(host.state)
        try ModelModule.install(into: host, darwinTableIndex: table)
        try TextModule.install(into: host, darwinTableIndex: table)
        try DatabaseModule.install(into: host, darwinTableIndex: table)
        try TrainingModule.install(into: host, darwinTableIndex: table)
        try ProgressModule.install(into: host, darwinTableIndex: table)
        MPIModule.install(into: host, darwinTableIndex: table)
        host.setGlobal("darwin")
    }

    static let functions: [(String, LuaFunction)] = [
        ("threads", { c in c.push(Parallel.threads); return 1 }),
        ("set_threads", { c in
            let n = try c.integer(1)
            guard (1...1024).contains(n) else { throw LuaError("bad argument #1 to 'darwin.set_threads' (thread count must be in 1...1024, got \(n))") }
            Parallel.threads = n; return 0
        }),
        ("clock", { c in c.push(Double(DispatchTime.now().uptimeNanoseconds) / 1e9); return 1 }),
        ("generator", { c in c.push(object: RandomGenerator(seed: UInt64(bitPattern: Int64(try c.integer(1, default: 42))))); return 1 }),
        ("default_generator", { c in c.push(object: c.host.generator); return 1 }),
        ("memory", { c in
            // Tensor memory, for the REPL and for scripts that watch their footprint.
            lua_createtable(c.L, 0, 5)
            let (resident, peak) = ProcessMemory.residentAndPeak()
            c.push(resident); c.host.rawSetField(tableIndex: -2, "resident_bytes")
            c.push(peak); c.host.rawSetField(tableIndex: -2, "peak_resident_bytes")
            c.push(LiveTensorCounter.count); c.host.rawSetField(tableIndex: -2, "tensors")
            c.push(LiveTensorCounter.liveBytes); c.host.rawSetField(tableIndex: -2, "tensor_bytes")
            c.push(c.host.tensorBytesHeldByLua); c.host.rawSetField(tableIndex: -2, "lua_tensor_bytes")
            return 1
        }),
        ("reset_peak_memory", { c in ProcessMemory.resetPeak(); return 0 }),
        ("write_file", { c in
            // Atomic: readers see the old or the new content, never a partial file (search state, logs).
            try AtomicFile.write(try c.bytes(2), to: try c.string(1)); return 0
        }),
        ("read_file", { c in
            // The whole file as a string, gunzipped when the name ends in .gz (data files, task files).
            c.host.push(bytes: [UInt8](try TokenSource.read(try c.string(1)))); return 1
        }),
        ("mkdir", { c in try FileSystem.makeDirectory(try c.string(1)); return 0 }),
        ("remove", { c in try FileSystem.remove(try c.string(1)); return 0 }),
        ("realpath", { c in
            // The absolute path with links resolved, or nil when nothing is there (to tell whether two paths are one).
            if let path = FileSystem.canonicalPath(try c.string(1)) { c.push(path) } else { c.pushNil() }
            return 1
        }),
        ("exists", { c in if let kind = FileSystem.kind(try c.string(1)) { c.push(kind) } else { c.pushNil() }; return 1 }),
        ("list", { c in
            let names = try FileSystem.list(try c.string(1))
            lua_createtable(c.L, Int32(names.count), 0)
            for (i, name) in names.enumerated() { c.push(name); lua_rawseti(c.L, -2, lua_Integer(i + 1)) }
            return 1
        }),
        ("lock", { c in c.push(object: try DirectoryLock(directory: try c.string(1))); return 1 }),
    ]

    /// Methods of `darwin.Generator`: a seedable xoshiro256** stream whose state can be saved and restored.
    static let generatorMethods: [(String, LuaFunction)] = [
        ("uniform", { c in
            let g = try c.object(1, as: RandomGenerator.self)
            let lo = try c.number(2, default: 0), hi = try c.number(3, default: 1)
            c.push(lo + (hi - lo) * g.uniform()); return 1
        }),
        ("integer", { c in
            let g = try c.object(1, as: RandomGenerator.self)
            let lo = try c.integer(2), hi = try c.integer(3)
            guard lo <= hi else { throw LuaError("integer: empty interval [\(lo), \(hi)]") }
            c.push(g.integer(lo, hi)); return 1
        }),
        ("normal", { c in
            let g = try c.object(1, as: RandomGenerator.self)
            var v: Float = 0
            withUnsafeMutablePointer(to: &v) { g.fillNormal(UnsafeMutableBufferPointer(start: $0, count: 1)) }
            let mean = try c.number(2, default: 0), std = try c.number(3, default: 1)
            c.push(mean + std * Double(v)); return 1
        }),
        ("seed", { c in try c.object(1, as: RandomGenerator.self).reseed(UInt64(bitPattern: Int64(try c.integer(2)))); return 0 }),
        ("state", { c in c.push(integers: try c.object(1, as: RandomGenerator.self).state.map { Int(Int64(bitPattern: $0)) }); return 1 }),
        ("set_state", { c in
            let g = try c.object(1, as: RandomGenerator.self)
            let words = try c.int64Array(2)
            guard words.count == 4 else { throw LuaError("set_state: expected a table of 4 integers from state(), got \(words.count)") }
            // xoshiro256** never leaves the all-zero state: every draw would be 0.
            guard words.contains(where: { $0 != 0 }) else { throw LuaError("set_state: the all-zero state is not a valid generator state") }
            g.state = words.map { UInt64(bitPattern: $0) }; return 0
        }),
    ]
}

extension LuaHost {
    /// darwinhost's version string (also `darwin.version` in Lua).
    public static let version = "0.1.0"

    /// Pushes a string.
    public func push(string: String) { lua_pushstring(state, string) }

    /// A host with darwinhost's modules installed (`tensor`, `darwin`) and `package.path` set up to find `stdlib`.
    public static func standard(stdlib: String? = StdlibLocator.locate()) throws -> LuaHost {
        let host = LuaHost()
        try TensorModule.install(into: host)
        try DarwinModule.install(into: host)
        try StdlibLocator.configurePackagePath(host, stdlib: stdlib)
        try StdlibLocator.linkDarwinFields(host)
        return host
    }
}
