/// An error reading or writing a file format: names the file, the item (tensor, field) and what was expected.
public struct FormatError: Error, CustomStringConvertible {
    /// The file concerned.
    public let file: String
    /// What went wrong, naming the tensor or field.
    public let message: String
    /// Creates an error about `file`.
    public init(file: String, _ message: String) { self.file = file; self.message = message }
    public var description: String { "\(file): \(message)" }
}
