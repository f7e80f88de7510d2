import Foundation

/// Progress of one long phase on standard error. On a terminal it is one line rewritten in place: the fraction
/// done, the rate and the time left (`database  3.2/24 blocks  13%  0.41 blocks/s  ETA 0:51`). Elsewhere (a log
/// file, a pipe) it prints a plain line at most every `logInterval` seconds, and always when the phase finishes,
/// so logs stay short but say how far a run got and how fast.
public final class ProgressLine {
    public let label: String, unit: String
    public private(set) var total: Double
    public private(set) var done: Double = 0
    /// Rewrite one line in place (a terminal) or print plain lines.
    public let interactive: Bool
    /// Units already done before this process started on the phase (a resumed build): not counted in the rate.
    public var baseline: Double = 0
    /// Seconds between plain lines when not on a terminal.
    public var logInterval: Double = 10
    private let start = Date()
    private var lastShown = Date.distantPast
    private var live = false
    private let write: (String) -> Void

    /// False in the processes whose progress nobody should see (ranks other than 0 of an MPI job): their lines
    /// written to standard error are dropped.
    nonisolated(unsafe) public static var shown = true

    /// `interactive` defaults to whether standard error is a terminal (and `TERM` is not `dumb`).
    public init(_ label: String, total: Double, unit: String, interactive: Bool? = nil, write: ((String) -> Void)? = nil) {
        self.label = label; self.total = max(total, 0); self.unit = unit
        self.interactive = interactive ?? ProgressLine.standardErrorIsTerminal
        self.write = write ?? { if ProgressLine.shown { FileHandle.standardError.write(Data($0.utf8)) } }
    }

    /// True when standard error is a terminal that understands carriage return and erase-line.
    public static var standardErrorIsTerminal: Bool {
        isatty(2) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
    }

    /// Records `done` units (of `total`) with an optional note, and shows it when due.
    public func update(_ done: Double, note: String? = nil) {
        self.done = min(max(done, 0), max(total, done))
        let now = Date()
        let due = interactive ? now.timeIntervalSince(lastShown) >= 0.1 : now.timeIntervalSince(lastShown) >= logInterval
        guard due else { return }
        lastShown = now
        show(ProgressLine.describe(label: label, done: self.done, total: total, unit: unit, seconds: now.timeIntervalSince(start),
                                   baseline: baseline, note: note))
    }

    /// Prints `line` as a line of its own (above the live line on a terminal).
    public func message(_ line: String) {
        clear()
        write(line + "\n")
        if interactive { lastShown = .distantPast }
    }

    /// Erases the live line (on a terminal), for output that should take its place.
    public func clear() {
        if live { write("\r\u{1B}[K"); live = false }
    }

    /// Ends the phase with its total time; the line stays on screen.
    public func finish(note: String? = nil) {
        let seconds = Date().timeIntervalSince(start)
        var line = "\(label)  \(ProgressLine.number(done))/\(ProgressLine.number(total)) \(unit)  in \(ProgressLine.duration(seconds))"
        if let note { line += "  " + note }
        clear()
        write(line + "\n")
    }

    private func show(_ text: String) {
        if interactive { write("\r\u{1B}[K" + text); live = true } else { write(text + "\n") }
    }

    /// The progress text: label, done/total unit, percentage, rate and estimated time left.
    public static func describe(label: String, done: Double, total: Double, unit: String, seconds: Double, baseline: Double = 0,
                                note: String?) -> String {
        var parts = ["\(label)  \(number(done))/\(number(total)) \(unit)"]
        if total > 0 { parts.append(String(format: "%3.0f%%", 100 * min(done / total, 1))) }
        if done > baseline && seconds > 0 {
            let rate = (done - baseline) / seconds
            parts.append(rate >= 1 ? String(format: "%.1f %@/s", rate, unit) : String(format: "%.1f s/%@", 1 / rate, singular(unit)))
            if total > done { parts.append("ETA " + duration((total - done) / rate)) }
        }
        if let note { parts.append(note) }
        return parts.joined(separator: "  ")
    }

    /// Whole numbers without a fraction, others with one decimal; beyond 10^15 (where a double has no fraction left
    /// and an `Int` may not hold it) in exponent form.
    static func number(_ x: Double) -> String {
        guard Swift.abs(x) < 1e15 else { return String(format: "%.3g", x) }
        return x == x.rounded() ? String(Int(x)) : String(format: "%.1f", x)
    }

    /// `unit` without a plural `s` ("blocks" → "block").
    static func singular(_ unit: String) -> String { unit.hasSuffix("s") && unit.count > 1 ? String(unit.dropLast()) : unit }

    /// `m:ss`, or `h:mm:ss` from an hour, or seconds with a decimal under a minute.
    static func duration(_ seconds: Double) -> String {
        guard seconds.isFinite else { return "?" }
        if seconds < 60 { return String(format: "%.1f s", seconds) }
        let s = Int(seconds.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }
}
