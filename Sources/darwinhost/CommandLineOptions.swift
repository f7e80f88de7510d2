/// Parsed command line of `darwinhost`, modelled on the `lua` executable.
struct CommandLineOptions {
    /// Chunks given with `-e`, in order, and their positions in the arguments (their bytes are taken from there).
    var chunks: [String] = []
    var chunkPositions: [Int] = []
    /// Position of the script in the arguments.
    var scriptPosition: Int?
    /// Modules given with `-l`, required before the script.
    var modules: [String] = []
    /// Script path (`-` for standard input), or nil.
    var script: String?
    /// Arguments after the script.
    var scriptArguments: [String] = []
    /// Options before the script (for `arg`'s negative indices).
    var interpreterArguments: [String] = []
    /// `-i`: enter the REPL after running.
    var interactive = false
    var showVersion = false
    var showHelp = false
    /// `--threads N`.
    var threads: Int?

    static let usage = """
    usage: darwinhost [options] [script [args...]]
      -e CODE         run the Lua chunk CODE
      -l MODULE       require MODULE before running the script
      -i              enter the interactive REPL after running the script or chunks
      -t, --threads N threads for BLAS and parallel loops (default: number of cores)
      -v, --version   print the version and exit
      -h, --help      print this help and exit
      -               run the script read from standard input
    With no script and no -e, darwinhost starts the REPL (or runs standard input when it is not a terminal).
    Scripts see their arguments in the global table `arg` (arg[0] is the script) and as `...`.
    Environment: DARWIN_PATH overrides the location of the bundled Lua modules (stdlib).
    """

    /// Parses `arguments` (without the program name).
    init(_ arguments: [String]) throws {
        var i = 0
        func value(for option: String) throws -> String {
            i += 1
            guard i < arguments.count else { throw UsageError("option \(option) needs a value") }
            return arguments[i]
        }
        while i < arguments.count {
            let a = arguments[i]
            if script != nil { scriptArguments.append(a); i += 1; continue }
            switch a {
            case "-e": chunks.append(try value(for: a)); chunkPositions.append(i)
            case "-l": modules.append(try value(for: a))
            case "-i": interactive = true
            case "-v", "--version": showVersion = true
            case "-h", "--help": showHelp = true
            case "-t", "--threads":
                let v = try value(for: a)
                guard let n = Int(v), n >= 1 else { throw UsageError("--threads expects a positive integer, got '\(v)'") }
                threads = n
            case "--": i += 1; if i < arguments.count { script = arguments[i]; scriptPosition = i }
            default:
                if a.hasPrefix("--threads=") {
                    let v = String(a.dropFirst("--threads=".count))
                    guard let n = Int(v), n >= 1 else { throw UsageError("--threads expects a positive integer, got '\(v)'") }
                    threads = n
                } else if a.hasPrefix("-") && a != "-" {
                    throw UsageError("unrecognized option '\(a)'")
                } else {
                    script = a
                    scriptPosition = i
                }
            }
            if script == nil { interpreterArguments.append(a) }
            i += 1
        }
    }
}

/// A command-line mistake; printed with the usage text.
struct UsageError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
