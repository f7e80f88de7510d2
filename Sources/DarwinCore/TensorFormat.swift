/// PyTorch-style printing: values with aligned columns, large tensors truncated with `...`.
extension Tensor: CustomStringConvertible {
    /// Tensors with more elements than this print only `edgeItems` at each end of every dimension.
    public static let summarizeThreshold = 1000
    /// Items shown at each end of a truncated dimension.
    public static let edgeItems = 3

    public var description: String {
        let summarize = count > Tensor.summarizeThreshold
        let shown = collectShown(summarize: summarize)
        let useSci = shown.contains { $0 != 0 && $0.isFinite && (Swift.abs($0) >= 1e5 || Swift.abs($0) < 1e-4) }
        let allIntegral = shown.allSatisfy { !$0.isFinite || $0 == $0.rounded() }
        func fmt(_ v: Float) -> String {
            if v.isNaN { return "nan" }
            if v.isInfinite { return v > 0 ? "inf" : "-inf" }
            if useSci { return formatScientific(v) }
            if allIntegral { return String(Int(v)) + "." }
            return formatFixed(v, digits: 4)
        }
        let width = shown.map { fmt($0).count }.max() ?? 1
        let body = rank == 0 ? fmt(data[0]) : render(dim: 0, offset: 0, indent: 8, width: width, summarize: summarize, fmt: fmt)
        let shapeText = "[" + shape.map(String.init).joined(separator: ", ") + "]"
        return "tensor(\(body), shape=\(shapeText), dtype=float32)"
    }

    private func collectShown(summarize: Bool) -> [Float] {
        var values: [Float] = []
        func walk(_ d: Int, _ off: Int) {
            if d == rank { values.append(data[off]); return }
            for i in visibleIndices(d, summarize) { walk(d + 1, off + i * strides[d]) }
        }
        walk(0, 0)
        return values
    }

    private func visibleIndices(_ d: Int, _ summarize: Bool) -> [Int] {
        let n = shape[d], e = Tensor.edgeItems
        return summarize && n > 2 * e ? Array(0..<e) + Array((n - e)..<n) : Array(0..<n)
    }

    private func render(dim d: Int, offset: Int, indent: Int, width: Int, summarize: Bool, fmt: (Float) -> String) -> String {
        let idx = visibleIndices(d, summarize)
        let cut = summarize && shape[d] > 2 * Tensor.edgeItems ? Tensor.edgeItems : -1
        var parts: [String] = []
        for (j, i) in idx.enumerated() {
            if j == cut { parts.append("...") }
            if d == rank - 1 {
                let s = fmt(data[offset + i * strides[d]])
                parts.append(String(repeating: " ", count: width - s.count) + s)
            } else {
                parts.append(render(dim: d + 1, offset: offset + i * strides[d], indent: indent + 1, width: width, summarize: summarize, fmt: fmt))
            }
        }
        let sep = d == rank - 1 ? ", " : "," + String(repeating: "\n", count: rank - 1 - d) + String(repeating: " ", count: indent)
        return "[" + parts.joined(separator: sep) + "]"
    }
}

/// `v` with `digits` decimals, without Foundation formatting.
func formatFixed(_ v: Float, digits: Int) -> String {
    let scale = Double(Int(1) * Int(pow10(digits)))
    let r = (Double(v) * scale).rounded() / scale
    let negative = r < 0 || (r == 0 && v.sign == .minus && v != 0)
    let a = Swift.abs(r)
    let whole = Int(a)
    var frac = String(Int(((a - Double(whole)) * scale).rounded()))
    frac = String(repeating: "0", count: Swift.max(0, digits - frac.count)) + frac
    return (negative ? "-" : "") + String(whole) + "." + frac
}

/// `v` as `d.dddde±XX` (zero as `0.0000e+00`; callers print NaN and infinities themselves).
func formatScientific(_ v: Float) -> String {
    var e = 0
    var m = Double(Swift.abs(v))
    guard m > 0, m.isFinite else { return (v.sign == .minus ? "-" : "") + "0.0000e+00" }
    while m >= 10 { m /= 10; e += 1 }
    while m < 1 { m *= 10; e -= 1 }
    if (m * 10000).rounded() >= 100000 { m /= 10; e += 1 }
    let mant = formatFixed(Float(v < 0 ? -m : m), digits: 4)
    let exp = String(Swift.abs(e))
    return mant + "e" + (e < 0 ? "-" : "+") + (exp.count < 2 ? "0" + exp : exp)
}

private func pow10(_ n: Int) -> Int { (0..<n).reduce(1) { acc, _ in acc * 10 } }
