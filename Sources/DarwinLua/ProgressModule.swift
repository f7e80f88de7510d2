import DarwinCore

/// Installs `darwin.progress` (class `darwin.Progress`): the live progress line of darwinhost's own long phases, for
/// a script's phases too.
enum ProgressModule {
    static func install(into host: LuaHost, darwinTableIndex t: Int32) throws {
        try host.defineClass(ProgressLine.self, name: "darwin.Progress", methods: methods, metamethods: [("__tostring", { c in
            let p = try c.object(1, as: ProgressLine.self)
            c.push("darwin.Progress(\(p.label): \(p.done)/\(p.total) \(p.unit))")
            return 1
        })], namespace: "progress")
        host.pushFunction("darwin.progress") { c in
            // darwin.progress(label, total [, {unit = "steps"}])
            let label = try c.string(1), total = try amount(c, 2, default: .nan, "progress", method: false)
            let options = try LuaOptions(c, 3, allowed: ["unit"])
            c.push(object: ProgressLine(label, total: total, unit: try options.string("unit") ?? "steps"))
            return 1
        }
        host.rawSetField(tableIndex: t, "progress")
    }

    /// A finite, non-negative amount at argument `i` of function `name` (a method numbers its arguments after self).
    static func amount(_ c: LuaCall, _ i: Int32, default fallback: Double, _ name: String, method: Bool = true) throws -> Double {
        let v = try c.number(i, default: fallback)
        guard v.isFinite, v >= 0 else { throw LuaError("bad argument #\(method ? i - 1 : i) to '\(name)' (a finite number ≥ 0 expected, got \(v))") }
        return v
    }

    static let methods: [(String, LuaFunction)] = [
        // p:update(done [, note]): sets the units done.
        ("update", { c in
            let p = try c.object(1, as: ProgressLine.self)
            p.update(try amount(c, 2, default: p.done, "update"), note: c.isNil(3) ? nil : try c.string(3))
            return 0
        }),
        // p:step([n = 1 [, note]]): adds n units.
        ("step", { c in
            let p = try c.object(1, as: ProgressLine.self)
            p.update(p.done + (try amount(c, 2, default: 1, "step")), note: c.isNil(3) ? nil : try c.string(3))
            return 0
        }),
        // p:message(text): a line of its own, above the live line.
        ("message", { c in try c.object(1, as: ProgressLine.self).message(try c.string(2)); return 0 }),
        // p:clear(): erases the live line (on a terminal), before output that takes its place.
        ("clear", { c in try c.object(1, as: ProgressLine.self).clear(); return 0 }),
        // p:finish([note]): ends the phase with its total time.
        ("finish", { c in
            let p = try c.object(1, as: ProgressLine.self)
            p.finish(note: c.isNil(2) ? nil : try c.string(2))
            return 0
        }),
        ("done", { c in c.push(try c.object(1, as: ProgressLine.self).done); return 1 }),
    ]
}
