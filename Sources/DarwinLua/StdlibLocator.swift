import Foundation

/// Finds the Lua modules shipped with darwinhost (`stdlib/`) and puts them first on `package.path`.
public enum StdlibLocator {
    /// Environment variable naming the stdlib directory (or directories, separated by `:`).
    public static let environmentVariable = "DARWIN_PATH"
    /// A module every stdlib folder contains; its presence identifies the folder.
    static let markerModule = "pretty.lua"

    /// The source checkout this binary was compiled from (known at compile time), whose `stdlib` is the last
    /// resort: a binary built with `swift build --scratch-path DIR` lives outside the checkout.
    static let sourceStdlib = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("stdlib").path

    /// The stdlib directory: `$DARWIN_PATH`, else a `stdlib` folder next to the executable or in one of its
    /// parents (a source checkout running `.build/debug/darwinhost`), else `<prefix>/share/darwinhost/stdlib` (an
    /// installed binary in `<prefix>/bin`), else the `stdlib` of the checkout it was compiled from.
    public static func locate(executable: String = CommandLine.arguments.first ?? "") -> String? {
        if let env = ProcessInfo.processInfo.environment[environmentVariable], !env.isEmpty { return env }
        let fm = FileManager.default
        let exe = URL(fileURLWithPath: executable).resolvingSymlinksInPath()
        let resolved = (try? fm.destinationOfSymbolicLink(atPath: "/proc/self/exe")).map { URL(fileURLWithPath: $0) } ?? exe
        for start in [resolved, exe] {
            var dir = start.deletingLastPathComponent()
            for _ in 0..<6 {
                for candidate in [dir.appendingPathComponent("stdlib"), dir.appendingPathComponent("share/darwinhost/stdlib")] {
                    if fm.fileExists(atPath: candidate.appendingPathComponent(markerModule).path) { return candidate.path }
                }
                dir = dir.deletingLastPathComponent()
            }
        }
        return fm.fileExists(atPath: sourceStdlib + "/" + markerModule) ? sourceStdlib : nil
    }

    /// Prepends the stdlib directories to `package.path` and records them as `darwin.stdlib`.
    static func configurePackagePath(_ host: LuaHost, stdlib: String?) throws {
        let dirs = (stdlib ?? "").split(separator: ":").map(String.init)
        let prefix = dirs.map { "\($0)/?.lua;\($0)/?/init.lua;" }.joined()
        try host.load("local prefix, dirs = ...\npackage.path = prefix .. package.path\ndarwin.stdlib = dirs", chunkName: "=(stdlib)")
        host.push(string: prefix)
        host.push(string: dirs.first ?? "")
        try host.call(nargs: 2, nresults: 0)
    }

    /// Stdlib modules that are also fields of `darwin`, required on first use: `darwin.eval` is `require("eval")`.
    static let darwinFields = ["eval"]

    /// Makes the `darwinFields` reachable through `darwin`.
    static func linkDarwinFields(_ host: LuaHost) throws {
        try host.load("""
            local fields = {}
            for _, name in ipairs({...}) do fields[name] = true end
            setmetatable(darwin, {__index = function(t, k)
              if fields[k] then local m = require(k); rawset(t, k, m); return m end
            end})
            """, chunkName: "=(stdlib)")
        for name in darwinFields { host.push(string: name) }
        try host.call(nargs: Int32(darwinFields.count), nresults: 0)
    }
}
