@preconcurrency import CEdit
import CDarwinSupport
import DarwinLua
import Foundation

/// The terminal side of the REPL: libedit line editing and history (kept in `~/.darwinhost_history`).
enum InteractiveLoop {
    static var historyPath: String {
        (ProcessInfo.processInfo.environment["HOME"] ?? NSHomeDirectory()) + "/.darwinhost_history"
    }

    /// The session whose values Tab completes (readline's callback cannot carry a context).
    nonisolated(unsafe) static var completing: ReplSession?

    /// Tab completion: readline's list form (the common prefix first, then each match), malloc'd, or nil.
    static let complete: @convention(c) (UnsafePointer<CChar>?, Int32, Int32) -> UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = { text, _, _ in
        rl_attempted_completion_over = 1  // no file-name completion when nothing matches
        guard let text, let session = InteractiveLoop.completing else { return nil }
        let matches = session.completions(for: String(cString: text))
        guard let first = matches.first else { return nil }
        var common = first
        for m in matches.dropFirst() { while !m.hasPrefix(common) { common.removeLast() } }
        guard let list = malloc((matches.count + 2) * MemoryLayout<UnsafeMutablePointer<CChar>?>.stride)?
                .bindMemory(to: UnsafeMutablePointer<CChar>?.self, capacity: matches.count + 2) else { return nil }
        list[0] = strdup(common)
        for (i, m) in matches.enumerated() { list[i + 1] = strdup(m) }
        list[matches.count + 1] = nil
        return list
    }

    /// Reads lines until end of input, evaluating each with `session`.
    static func run(_ session: ReplSession, banner: Bool) {
        if banner { print("darwinhost \(darwinVersion) (Lua 5.4) - type Lua; =expr prints a value; Ctrl-D exits") }
        completing = session
        rl_attempted_completion_function = complete
        rl_completion_append_character = 0  // "darwin.tensor" may go on with ".zeros"
        rl_completer_word_break_characters = strdup(" \t\n\"'`@$><=;|&{}()[],+-*/%^#~")
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
