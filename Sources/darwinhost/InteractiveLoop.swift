@preconcurrency import CEdit
import CDarwinSupport
import DarwinLua
import Foundation

/// The terminal side of the REPL: libedit line editing and history (kept in `~/.darwinhost_history`).
enum InteractiveLoop {
    static var historyPath: String {
        (ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()) + "/.darwinhost_history"
    }

    /// Reads lines until end of input, evaluating each with `session`.
    static func run(_ session: ReplSession, banner: Bool) {
        if banner { print("darwinhost \(darwinVersion) (Lua 5.4) - type Lua; =expr prints a value; Ctrl-D exits") }
        using_history()
        _ = read_history(historyPath)
        while true {
            // Ctrl-C at the prompt cancels the line (and a pending multi-line chunk), as in Python; Ctrl-D exits.
            darwin_interrupt_clear()
            darwin_prompt_interrupt_begin()
            let input = readline(session.isContinuing ? ">> " : "> ")
            darwin_prompt_interrupt_end()
            if darwin_interrupt_pending() != 0 {
                darwin_interrupt_clear()
                if let input { free(input) }
                session.reset()
                print("^C")
                continue
            }
            guard let raw = input else { print(); break }
            let line = String(cString: raw)
            free(raw)
            if !line.trimmingCharacters(in: .whitespaces).isEmpty { _ = add_history(line) }
            switch session.submit(line) {
            case .needsMore: continue
            case .values(let values): if !values.isEmpty { print(values.joined(separator: "\t")) }
            case .error(let message): FileHandle.standardError.write(Data((message + "\n").utf8))
            }
            fflush(stdout)
        }
        _ = write_history(historyPath)
    }
}
