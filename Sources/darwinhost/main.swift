import DarwinCore
import DarwinLua
import Foundation

/// darwinhost's version (shared with `darwin.version`).
let darwinVersion = LuaHost.version

/// Prints to standard error.
func printError(_ message: String) {
    fflush(stdout)
    FileHandle.standardError.write(Data((message + "\n").utf8))
}

func main() -> Int32 {
    let options: CommandLineOptions
    do { options = try CommandLineOptions(Array(CommandLine.arguments.dropFirst())) } catch {
        printError("darwinhost: \(error)\n\(CommandLineOptions.usage)")
        return 2
    }
    if options.showHelp { print(CommandLineOptions.usage); return 0 }
    if options.showVersion { print("darwinhost \(darwinVersion) (Lua 5.4, OpenBLAS)"); return 0 }
    if let n = options.threads { Parallel.threads = n } else { Parallel.threads = Parallel.threads }

    let host: LuaHost
    do { host = try LuaHost.standard() } catch { printError("darwinhost: could not start: \(error)"); return 1 }
    ScriptRunner.setArguments(host, interpreter: [CommandLine.arguments[0]] + options.interpreterArguments,
                              script: options.script, arguments: options.scriptArguments)
    do {
        for module in options.modules {
            try ScriptRunner.runChunk(host, code: "local name = ...\n_G[name] = require(name)", chunkName: "=(-l)", arguments: [module])
        }
        for (i, chunk) in options.chunks.enumerated() {
            try ScriptRunner.runChunk(host, code: chunk, chunkName: options.chunks.count > 1 ? "=(command line \(i + 1))" : "=(command line)")
        }
        if let script = options.script {
            if script == "-" {
                let code = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
                try ScriptRunner.runChunk(host, code: code, chunkName: "=stdin", arguments: options.scriptArguments)
            } else {
                try ScriptRunner.runFile(host, path: script, arguments: options.scriptArguments)
            }
        }
    } catch {
        printError("darwinhost: \(error)")
        return 1
    }
    let nothingToRun = options.script == nil && options.chunks.isEmpty
    if options.interactive || (nothingToRun && isatty(0) != 0) {
        InteractiveLoop.run(ReplSession(host: host), banner: nothingToRun)
    } else if nothingToRun {
        let code = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
        do { try ScriptRunner.runChunk(host, code: code, chunkName: "=stdin") } catch { printError("darwinhost: \(error)"); return 1 }
    }
    return 0
}

exit(main())
