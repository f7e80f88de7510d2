/// An error from a tensor operation; its description is the message a Lua user sees
/// (the binding layer prefixes the function name, e.g. `tensor.matmul: ...`).
public struct TensorError: Error, CustomStringConvertible {
    /// Human-readable explanation naming the offending shapes or values.
    public let message: String
    /// Creates an error with the given message.
    public init(_ message: String) { self.message = message }
    public var description: String { message }

    /// Formats a shape the way error messages show it: `[3,4]`.
    public static func show(_ shape: [Int]) -> String { "[" + shape.map(String.init).joined(separator: ",") + "]" }
}
