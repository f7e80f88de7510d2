// swift-tools-version:6.0
import PackageDescription

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
        // C glue: macro wrappers, the error-raising trampoline, protected calls with tracebacks.
        .target(name: "CLuaGlue", dependencies: ["CLua", "CDarwinSupport"]),
        // Data and compute: tensors, BLAS, random numbers. Knows nothing about Lua.
        // Always optimized: its AVX2 kernels are intrinsics, which at -O0 run several times slower than portable code.
        .target(name: "CDarwinSupport", cSettings: [.unsafeFlags(["-O2"])]),
        // Always optimized, also in debug builds: tests of numeric code then run at realistic speed.
        .target(name: "DarwinCore", dependencies: ["COpenBLAS", "CDarwinSupport", "CZlib"],
                swiftSettings: [.unsafeFlags(["-O"])]),
        // The Lua host: state, binding layer, bound modules, REPL logic.
        .target(name: "DarwinLua", dependencies: ["CLua", "CLuaGlue", "DarwinCore"]),
        .executableTarget(name: "darwinhost", dependencies: ["DarwinLua", "CEdit", "CDarwinSupport"]),
        .executableTarget(name: "darwin-bench", dependencies: ["DarwinLua", "DarwinCore", "COpenBLAS"]),
        .testTarget(name: "DarwinCoreTests", dependencies: ["DarwinCore"]),
        .testTarget(name: "DarwinLuaTests", dependencies: ["DarwinLua", "DarwinCore", "CLua", "CLuaGlue"]),
    ],
    swiftLanguageModes: [.v5]
)
