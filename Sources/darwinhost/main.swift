import CDarwinMPI
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
    if options.showVersion {
        print("darwinhost \(darwinVersion) (Lua 5.4, \(BLASLibrary.description))")
        print("stdlib: \(StdlibLocator.locate() ?? "not found (set \(StdlibLocator.environmentVariable))")")
        return 0
    }
    if let n = options.threads { Parallel.threads = n } else { Parallel.threads = Parallel.threads }

    let host: LuaHost
    do { host = try LuaHost.standard() } catch { printError("darwinhost: could not start: \(error)"); return 1 }
    // The raw bytes of every argument: Lua strings are bytes, whatever the encoding of the command line.
    let argv: [[UInt8]] = (0..<Int(CommandLine.argc)).map { i in
        CommandLine.unsafeArgv[i].map { Array(UnsafeBufferPointer(start: UnsafeRawPointer($0).assumingMemoryBound(to: UInt8.self), count: strlen($0))) } ?? []
    }
    let scriptIndex = options.scriptPosition.map { $0 + 1 } ?? 0
    let scriptArguments = scriptIndex > 0 ? Array(argv[(scriptIndex + 1)...]) : []
    ScriptRunner.setArguments(host, argv: argv, scriptIndex: scriptIndex)
    do {
        for module in options.modules {
            try ScriptRunner.runChunk(host, code: "local name = ...\n_G[name] = require(name)", chunkName: "=(-l)", arguments: [module])
        }
        for (i, position) in options.chunkPositions.enumerated() {
            let name = options.chunks.count > 1 ? "=(command line \(i + 1))" : "=(command line)"
            try ScriptRunner.runChunk(host, code: argv[position + 1], chunkName: Array(name.utf8))
        }
        if scriptIndex > 0 {
            if options.script == "-" {
                try ScriptRunner.runStandardInput(host, arguments: scriptArguments)
            } else {
                try ScriptRunner.runFile(host, path: argv[scriptIndex], arguments: scriptArguments)
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
        do { try ScriptRunner.runStandardInput(host, arguments: []) } catch { printError("darwinhost: \(error)"); return 1 }
    }
    return 0
}

// Under mpirun, MPI starts before anything else; an error on one rank ends the whole job instead of leaving the other
// ranks waiting in a collective.
if darwin_mpi_start() != 0 && darwin_mpi_rank() > 0 && ProcessInfo.processInfo.environment["DARWIN_MPI_ALL_OUTPUT"] == nil {
    // Ranks other than 0 run the same script: their output would repeat rank 0's. Errors still show.
    _ = freopen("/dev/null", "w", stdout)
    ProgressLine.shown = false
}
let status = main()
if status != 0 { darwin_mpi_abort(status) }
exit(status)
