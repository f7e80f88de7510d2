import CDarwinSupport

/// Ctrl-C during long work in Swift (a database build, training steps, forward passes): the host's SIGINT handler
/// sets a flag, and the loops of that work call `check()` at points where stopping leaves every file consistent
/// (between blocks, between OBS removals), so an interrupt takes effect within about a second.
public enum Interrupt {
    /// Throws "interrupted" (and clears the request) when Ctrl-C was pressed since the last check.
    public static func check() throws {
        guard darwin_interrupt_pending() != 0 else { return }
        darwin_interrupt_clear()
        throw TensorError("interrupted")
    }
}
