/// Conversions of numbers that come from Lua or from files, checked before Swift's trapping conversions see them.
extension Double {
    /// The value as an `Int` when it is integral and small enough to be exact in a double (|v| < 9e15);
    /// nil for fractions, NaN, infinities and huge values.
    public var exactInteger: Int? { self == rounded() && Swift.abs(self) < 9.0e15 ? Int(self) : nil }
}

extension Shape {
    /// The product of `sizes` when every size is non-negative and the product does not overflow, else nil.
    public static func checkedProduct(_ sizes: [Int]) -> Int? {
        var product = 1
        for d in sizes {
            guard d >= 0 else { return nil }
            let (next, overflow) = product.multipliedReportingOverflow(by: d)
            guard !overflow else { return nil }
            product = next
        }
        return product
    }
}
