// swift-tools-version:6.0
import Foundation
import PackageDescription

/// Open MPI's compiler and linker flags from pkg-config (`ompi`; Debian: libopenmpi-dev), when it is installed and
/// DARWIN_NO_MPI is not set. Without it darwinhost builds as a single process (`darwin.mpi` reports size 1).
func openMPIFlags() -> (compile: [String], link: [String])? {
    guard ProcessInfo.processInfo.environment["DARWIN_NO_MPI"] == nil else { return nil }
    func pkgConfig(_ arguments: [String]) -> [String]? {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["pkg-config"] + arguments + ["ompi"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return nil }
        let output = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { return nil }
        return String(decoding: output, as: UTF8.self).split(whereSeparator: { $0 == " " || $0 == "\n" }).map(String.init)
    }
    guard let compile = pkgConfig(["--cflags"]), let link = pkgConfig(["--libs"]) else { return nil }
    return (compile, link)
}
let mpi = openMPIFlags()

let package = Package(
    name: "darwinhost",
    products: [
        .executable(name: "darwinhost", targets: ["darwinhost"]),
        .executable(name: "darwin-bench", targets: ["darwin-bench"]),
        .library(name: "DarwinCore", targets: ["DarwinCore"]),
        .library(name: "DarwinLua", targets: ["DarwinLua"]),
    ],
    targets: [
        // System libraries (Debian: liblua5.4-dev, libopenblas-dev, libedit-dev, zlib1g-dev, found through pkg-config).
        .systemLibrary(name: "CLua", pkgConfig: "lua5.4", providers: [.apt(["liblua5.4-dev"])]),
        .systemLibrary(name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "CEdit", pkgConfig: "libedit", providers: [.apt(["libedit-dev"])]),
        .systemLibrary(name: "CZlib", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // MPI collectives for `darwin.mpi`: real with Open MPI found at build time, a single process otherwise.
        .target(name: "CDarwinMPI",
                cSettings: mpi.map { [.define("DARWIN_MPI"), .unsafeFlags($0.compile)] } ?? [],
                linkerSettings: mpi.map { [.unsafeFlags($0.link)] } ?? []),
        // C glue: macro wrappers, the error-raising trampoline, protected calls with tracebacks.
        .target(name: "CLuaGlue", dependencies: ["CLua", "CDarwinSupport"]),
        // Data and compute: tensors, BLAS, random numbers. Knows nothing about Lua.
        // Always optimized: its AVX2 kernels are intrinsics, which at -O0 run several times slower than portable code.
        .target(name: "CDarwinSupport", cSettings: [.unsafeFlags(["-O2"])]),
        // Always optimized, also in debug builds: tests of numeric code then run at realistic speed.
        .target(name: "DarwinCore", dependencies: ["COpenBLAS", "CDarwinSupport", "CZlib"],
                swiftSettings: [.unsafeFlags(["-O"])]),
        // The Lua host: state, binding layer, bound modules, REPL logic.
        .target(name: "DarwinLua", dependencies: ["CLua", "CLuaGlue", "DarwinCore", "CDarwinMPI"]),
        .executableTarget(name: "darwinhost", dependencies: ["DarwinLua", "CEdit", "CDarwinSupport", "CDarwinMPI"]),
        .executableTarget(name: "darwin-bench", dependencies: ["DarwinLua", "DarwinCore", "COpenBLAS", "CDarwinSupport"]),
        .testTarget(name: "DarwinCoreTests", dependencies: ["DarwinCore"]),
        .testTarget(name: "DarwinLuaTests", dependencies: ["DarwinLua", "DarwinCore", "CLua", "CLuaGlue"]),
    ],
    swiftLanguageModes: [.v5]
)
