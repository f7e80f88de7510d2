import Foundation

/// Typed access to a JSON object's fields, with errors naming the file and the field.
public struct JSONFields {
    /// The file the object came from (for messages).
    public let file: String
    /// The object's contents.
    public let object: [String: Any]
    /// The path of this object within the file (`rope_scaling.` for a nested object).
    let prefix: String

    /// Wraps an already parsed object.
    public init(file: String, object: [String: Any], prefix: String = "") {
        self.file = file; self.object = object; self.prefix = prefix
    }

    /// Reads and parses a JSON object file.
    public init(contentsOf path: String) throws {
        guard let data = FileManager.default.contents(atPath: path) else { throw FormatError(file: path, "file not found or not readable") }
        let parsed: Any
        do { parsed = try JSONSerialization.jsonObject(with: data) } catch {
            throw FormatError(file: path, "not valid JSON (\(error.localizedDescription))")
        }
        guard let object = parsed as? [String: Any] else { throw FormatError(file: path, "expected a JSON object at the top level") }
        self.init(file: path, object: object)
    }

    /// True if `key` is present and not null.
    public func has(_ key: String) -> Bool { object[key] != nil && !(object[key] is NSNull) }

    /// True for JSON `true`/`false` (on Linux every NSNumber casts to Bool, so look at the class).
    static func isBoolean(_ v: Any?) -> Bool {
        guard let v else { return false }
        return type(of: v) == Swift.Bool.self || String(describing: type(of: v)).contains("Boolean")
    }

    private func fail(_ key: String, _ expectation: String) -> FormatError {
        FormatError(file: file, "field '\(prefix)\(key)' \(expectation)")
    }

    /// An integer field (required unless `fallback` is given).
    public func int(_ key: String, _ fallback: Int? = nil) throws -> Int {
        guard has(key) else { if let fallback { return fallback }; throw fail(key, "is missing (an integer is required)") }
        guard let n = object[key] as? NSNumber, !JSONFields.isBoolean(object[key]), let value = n.doubleValue.exactInteger else {
            throw fail(key, "must be an integer, found \(object[key]!)")
        }
        return value
    }

    /// A number field.
    public func double(_ key: String, _ fallback: Double? = nil) throws -> Double {
        guard has(key) else { if let fallback { return fallback }; throw fail(key, "is missing (a number is required)") }
        guard let n = object[key] as? NSNumber, !JSONFields.isBoolean(object[key]), n.doubleValue.isFinite else {
            throw fail(key, "must be a finite number, found \(object[key]!)")
        }
        return n.doubleValue
    }

    /// A boolean field.
    public func bool(_ key: String, _ fallback: Bool) throws -> Bool {
        guard has(key) else { return fallback }
        guard JSONFields.isBoolean(object[key]), let b = object[key] as? Bool else { throw fail(key, "must be true or false, found \(object[key]!)") }
        return b
    }

    /// A string field.
    public func string(_ key: String, _ fallback: String? = nil) throws -> String {
        guard has(key) else { if let fallback { return fallback }; throw fail(key, "is missing (a string is required)") }
        guard let s = object[key] as? String else { throw fail(key, "must be a string, found \(object[key]!)") }
        return s
    }

    /// A nested object field, or nil when absent.
    public func nested(_ key: String) throws -> JSONFields? {
        guard has(key) else { return nil }
        guard let o = object[key] as? [String: Any] else { throw fail(key, "must be an object") }
        return JSONFields(file: file, object: o, prefix: prefix + key + ".")
    }

    /// An array field, or nil when absent.
    public func array(_ key: String) throws -> [Any]? {
        guard has(key) else { return nil }
        guard let a = object[key] as? [Any] else { throw fail(key, "must be an array") }
        return a
    }
}
