/// A regular-expression engine for tokenizer split patterns whose time per search is linear in the text: a Pike VM
/// (a Thompson NFA run with ordered threads) that finds the same leftmost-first matches as a backtracking engine
/// (Oniguruma, used by `tokenizers`) on patterns without backreferences, whatever their nesting: `(a*)*b` on a long
/// run of `a` takes as long as `a*b`. Supported: literals and escapes (`\n \t \xHH \x{H..} \uHHHH`), `.`, classes
/// with ranges and negation, `\s \S \d \D \w \W \p{..} \P{..}` (general categories), groups (`(..)`, `(?:..)`,
/// `(?i:..)`, `(?i)`), alternation, quantifiers `* + ? {n} {n,} {n,m}` and their lazy forms, a lookahead of one
/// character (`(?!X)`, `(?=X)`, as in GPT-2's `\s+(?!\S)`), and the anchors `^ $` (of a line, as in Oniguruma's
/// Ruby syntax), `\A \z \Z` (of the text) and `\b \B` (word boundaries). Anything else (backreferences, longer
/// lookarounds, possessive quantifiers) is an `unsupported` error: those need backtracking, whose time has no bound.
struct LinearRegex {
    /// What a pattern uses that this engine does not implement (`RegexSplitter` refuses such patterns).
    struct Unsupported: Error { let what: String }

    /// A test of one scalar.
    struct ScalarTest {
        enum Item {
            case scalar(Unicode.Scalar)
            case range(UInt32, UInt32)
            case named(NamedClass, negated: Bool)
        }
        var items: [Item]
        var negated = false
        var caseInsensitive = false

        func contains(_ s: Unicode.Scalar) -> Bool {
            func test(_ s: Unicode.Scalar) -> Bool {
                items.contains { item in
                    switch item {
                    case .scalar(let c): return c == s
                    case .range(let lo, let hi): return s.value >= lo && s.value <= hi
                    case .named(let named, let negated): return named.contains(s) != negated
                    }
                }
            }
            var hit = test(s)
            // The text's case variants: classes ignoring case, and non-ASCII text against literals (whose own
            // variants are listed in `items`; U+212A KELVIN SIGN is a variant of k only from its side).
            if !hit && caseInsensitive && (!s.isASCII || items.contains(where: { if case .scalar = $0 { return false } else { return true } })) {
                hit = LinearRegex.caseVariants(s).contains { $0 != s && test($0) }
            }
            return hit != negated
        }
    }

    /// Named classes: `\s`, `\d`, `\w`, and Unicode general categories (`\p{L}`, `\p{Lu}`, ...).
    enum NamedClass {
        case space, digit, word
        case categories(Set<Unicode.GeneralCategory>)

        func contains(_ s: Unicode.Scalar) -> Bool {
            switch self {
            case .space: return ScalarClass.isSpace(s)
            case .digit: return s.properties.generalCategory == .decimalNumber
            case .word:  // UTS #18's word characters, as Oniguruma and Swift define \w
                if s.properties.isAlphabetic || s.value == 0x200C || s.value == 0x200D { return true }
                switch s.properties.generalCategory {
                case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
                default: return false
                }
            case .categories(let set): return set.contains(s.properties.generalCategory)
            }
        }

        /// The class of a `\p{NAME}` property name.
        static func property(_ name: String) -> NamedClass? {
            let groups: [String: [Unicode.GeneralCategory]] = [
                "L": [.uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter],
                "Lu": [.uppercaseLetter], "Ll": [.lowercaseLetter], "Lt": [.titlecaseLetter], "Lm": [.modifierLetter], "Lo": [.otherLetter],
                "M": [.nonspacingMark, .spacingMark, .enclosingMark], "Mn": [.nonspacingMark], "Mc": [.spacingMark], "Me": [.enclosingMark],
                "N": [.decimalNumber, .letterNumber, .otherNumber], "Nd": [.decimalNumber], "Nl": [.letterNumber], "No": [.otherNumber],
                "P": [.connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
                      .finalPunctuation, .otherPunctuation],
                "Pc": [.connectorPunctuation], "Pd": [.dashPunctuation], "Ps": [.openPunctuation], "Pe": [.closePunctuation],
                "Pi": [.initialPunctuation], "Pf": [.finalPunctuation], "Po": [.otherPunctuation],
                "S": [.mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol],
                "Sm": [.mathSymbol], "Sc": [.currencySymbol], "Sk": [.modifierSymbol], "So": [.otherSymbol],
                "Z": [.spaceSeparator, .lineSeparator, .paragraphSeparator],
                "Zs": [.spaceSeparator], "Zl": [.lineSeparator], "Zp": [.paragraphSeparator],
                "C": [.control, .format, .surrogate, .privateUse, .unassigned],
                "Cc": [.control], "Cf": [.format], "Co": [.privateUse], "Cn": [.unassigned],
            ]
            let aliases = ["Letter": "L", "Mark": "M", "Number": "N", "Punctuation": "P", "Symbol": "S", "Separator": "Z", "Other": "C"]
            return groups[aliases[name] ?? name].map { .categories(Set($0)) }
        }
    }

    /// The parsed pattern.
    indirect enum Node {
        case empty
        case test(ScalarTest)
        case concat([Node])
        case alternation([Node])
        case repeated(Node, min: Int, max: Int?, greedy: Bool)
        case lookahead(ScalarTest, negated: Bool)
        case anchor(Anchor)
    }

    /// Zero-width assertions about the position between two scalars.
    enum Anchor {
        case lineStart, lineEnd, textStart, textEnd, textEndOrFinalNewline, wordBoundary, notWordBoundary

        /// Whether the assertion holds before scalar `i` of `s`.
        func holds(at i: Int, in s: [Unicode.Scalar]) -> Bool {
            switch self {
            case .lineStart: return i == 0 || s[i - 1] == "\n"
            case .lineEnd: return i == s.count || s[i] == "\n"
            case .textStart: return i == 0
            case .textEnd: return i == s.count
            case .textEndOrFinalNewline: return i == s.count || (i == s.count - 1 && s[i] == "\n")
            case .wordBoundary, .notWordBoundary:
                let before = i > 0 && NamedClass.word.contains(s[i - 1]), after = i < s.count && NamedClass.word.contains(s[i])
                return (before != after) == (self == .wordBoundary)
            }
        }
    }

    /// One instruction of the compiled program.
    enum Instruction {
        case consume(ScalarTest)
        case split(Int, Int)    // both, the first preferred
        case jump(Int)
        case assertNext(ScalarTest, negated: Bool)
        case assert(Anchor)
        case accept
    }

    let program: [Instruction]
    /// Program size limit: counted repetitions are expanded, `x{1000}{1000}` would not fit.
    static let maximumInstructions = 200_000

    init(pattern: String) throws {
        var parser = Parser(scalars: Array(pattern.unicodeScalars))
        let node = try parser.parse()
        var program: [Instruction] = []
        try LinearRegex.compile(node, into: &program)
        program.append(.accept)
        self.program = program
    }

    /// The scalars that `s` equals ignoring case (simple case mappings).
    static func caseVariants(_ s: Unicode.Scalar) -> [Unicode.Scalar] {
        let p = s.properties
        return [p.lowercaseMapping, p.uppercaseMapping, p.titlecaseMapping].compactMap { mapped in
            let scalars = mapped.unicodeScalars
            return scalars.count == 1 ? scalars.first : nil
        }
    }

    static func compile(_ node: Node, into p: inout [Instruction]) throws {
        guard p.count < maximumInstructions else { throw Unsupported(what: "a pattern longer than \(maximumInstructions) instructions once its counted repetitions are expanded") }
        switch node {
        case .empty: break
        case .test(let t): p.append(.consume(t))
        case .lookahead(let t, let negated): p.append(.assertNext(t, negated: negated))
        case .anchor(let a): p.append(.assert(a))
        case .concat(let nodes): for n in nodes { try compile(n, into: &p) }
        case .alternation(let branches):
            var jumps: [Int] = []
            for (k, branch) in branches.enumerated() {
                if k < branches.count - 1 {
                    let split = p.count
                    p.append(.split(split + 1, -1))
                    try compile(branch, into: &p)
                    jumps.append(p.count); p.append(.jump(-1))
                    p[split] = .split(split + 1, p.count)
                } else {
                    try compile(branch, into: &p)
                }
            }
            for j in jumps { p[j] = .jump(p.count) }
        case .repeated(let body, let min, let max, let greedy):
            for _ in 0..<min { try compile(body, into: &p) }
            func choice(_ at: Int, body: Int, exit: Int) -> Instruction { greedy ? .split(body, exit) : .split(exit, body) }
            if let max {
                var splits: [Int] = []
                for _ in min..<max {
                    splits.append(p.count); p.append(.split(-1, -1))
                    try compile(body, into: &p)
                }
                for s in splits { p[s] = choice(s, body: s + 1, exit: p.count) }
            } else {
                let loop = p.count
                p.append(.split(-1, -1))
                try compile(body, into: &p)
                p.append(.jump(loop))
                p[loop] = choice(loop, body: loop + 1, exit: p.count)
            }
        }
    }

    /// Every non-empty leftmost-first match, searching on after each match's end (after an empty match, one scalar
    /// further), as `tokenizers` finds the pieces of a Split pre-tokenizer.
    func matches(in s: [Unicode.Scalar]) -> [Range<Int>] {
        var current = ThreadList(capacity: program.count), next = ThreadList(capacity: program.count)
        var out: [Range<Int>] = []
        var from = 0
        while from <= s.count, let m = firstMatch(in: s, from: from, &current, &next) {
            if m.isEmpty { from = m.lowerBound + 1 } else { out.append(m); from = m.upperBound }
        }
        return out
    }

    /// The leftmost-first match starting at or after `from`, or nil. Each scalar is read once per live thread.
    func firstMatch(in s: [Unicode.Scalar], from: Int, _ current: inout ThreadList, _ next: inout ThreadList) -> Range<Int>? {
        current.clear()
        var matched: Range<Int>? = nil
        var i = from
        while i <= s.count {
            if matched == nil { addThread(&current, pc: 0, start: i, at: i, in: s) }
            if current.threads.isEmpty { break }
            next.clear()
            for (pc, start) in current.threads {
                if case .accept = program[pc] { matched = start..<i; break }  // lower-priority threads are cut
                if case .consume(let test) = program[pc], i < s.count, test.contains(s[i]) {
                    addThread(&next, pc: pc + 1, start: start, at: i + 1, in: s)
                }
            }
            swap(&current, &next)
            i += 1
        }
        return matched
    }

    /// Adds the thread at `pc` and everything reachable from it without consuming a scalar, in priority order.
    private func addThread(_ list: inout ThreadList, pc: Int, start: Int, at i: Int, in s: [Unicode.Scalar]) {
        var stack = [pc]
        while let pc = stack.popLast() {
            guard list.mark(pc) else { continue }
            switch program[pc] {
            case .jump(let target): stack.append(target)
            case .split(let first, let second): stack.append(second); stack.append(first)
            case .assertNext(let test, let negated):
                let holds = i < s.count && test.contains(s[i])
                if holds != negated { stack.append(pc + 1) }
            case .assert(let anchor): if anchor.holds(at: i, in: s) { stack.append(pc + 1) }
            case .consume, .accept: list.threads.append((pc, start))
            }
        }
    }

    /// Threads of one step in priority order, with a visited mark per instruction.
    struct ThreadList {
        var threads: [(pc: Int, start: Int)] = []
        private var stamp: [UInt32]
        private var generation: UInt32 = 1

        init(capacity: Int) { stamp = [UInt32](repeating: 0, count: capacity) }
        /// True the first time `pc` is added in this step.
        mutating func mark(_ pc: Int) -> Bool {
            if stamp[pc] == generation { return false }
            stamp[pc] = generation
            return true
        }
        mutating func clear() {
            threads.removeAll(keepingCapacity: true)
            generation &+= 1
            if generation == 0 { stamp = [UInt32](repeating: 0, count: stamp.count); generation = 1 }
        }
    }
}

extension LinearRegex {
    /// Recursive-descent parser of the supported syntax (Oniguruma's, as tokenizer patterns use it).
    struct Parser {
        let scalars: [Unicode.Scalar]
        var i = 0
        var caseInsensitive = false
        /// Open groups; deeper nesting than real patterns have is left to the other engine, not to the call stack.
        var depth = 0
        static let maximumDepth = 100

        init(scalars: [Unicode.Scalar]) { self.scalars = scalars }

        mutating func parse() throws -> Node {
            let node = try alternation()
            if i < scalars.count { throw Unsupported(what: "an unbalanced ')' at position \(i + 1)") }
            return node
        }

        private var peek: Unicode.Scalar? { i < scalars.count ? scalars[i] : nil }
        private func unsupported(_ what: String) -> Unsupported { Unsupported(what: "\(what) (position \(i + 1))") }

        private mutating func alternation() throws -> Node {
            var branches = [try concatenation()]
            while peek == "|" { i += 1; branches.append(try concatenation()) }
            return branches.count == 1 ? branches[0] : .alternation(branches)
        }

        private mutating func concatenation() throws -> Node {
            var items: [Node] = []
            while let c = peek, c != "|", c != ")" {
                if c == "(", scalars.count > i + 3, scalars[i + 1] == "?", scalars[i + 2] == "i", scalars[i + 3] == ")" {
                    caseInsensitive = true; i += 4; continue   // (?i): the rest of this group ignores case
                }
                items.append(try quantified(try atom()))
            }
            return items.count == 1 ? items[0] : .concat(items)
        }

        private mutating func quantified(_ node: Node) throws -> Node {
            var node = node
            while let c = peek {
                var bounds: (Int, Int?)
                switch c {
                case "*": bounds = (0, nil); i += 1
                case "+": bounds = (1, nil); i += 1
                case "?": bounds = (0, 1); i += 1
                case "{":
                    guard let counted = countedBounds() else { return node }  // not a quantifier: a literal brace
                    bounds = counted
                default: return node
                }
                switch node {
                case .lookahead, .anchor: throw unsupported("a quantified assertion")
                default: break
                }
                var greedy = true
                if peek == "?" { greedy = false; i += 1 } else if peek == "+" { throw unsupported("a possessive quantifier") }
                if let max = bounds.1, max < bounds.0 { throw unsupported("a repetition {\(bounds.0),\(max)}") }
                node = .repeated(node, min: bounds.0, max: bounds.1, greedy: greedy)
            }
            return node
        }

        /// `{n}`, `{n,}` or `{n,m}` at `i` (consumed), or nil if the brace does not start one.
        private mutating func countedBounds() -> (Int, Int?)? {
            var j = i + 1
            func number() -> Int? {
                var value = 0, digits = 0
                while j < scalars.count, let d = Int(String(scalars[j])), scalars[j].isASCII, digits < 7 { value = value * 10 + d; j += 1; digits += 1 }
                return digits > 0 ? value : nil
            }
            guard let low = number() else { return nil }
            var high: Int? = low
            if j < scalars.count && scalars[j] == "," { j += 1; high = number() }
            guard j < scalars.count && scalars[j] == "}" else { return nil }
            i = j + 1
            return (low, high)
        }

        private mutating func atom() throws -> Node {
            let c = scalars[i]
            switch c {
            case "(": return try group()
            case "[": return .test(try characterClass())
            case ".": i += 1; return .test(ScalarTest(items: [.scalar("\n")], negated: true))
            case "^": i += 1; return .anchor(.lineStart)
            case "$": i += 1; return .anchor(.lineEnd)
            case "\\" where i + 1 < scalars.count && "AzZbB".unicodeScalars.contains(scalars[i + 1]):
                let kind = scalars[i + 1]
                i += 2
                switch kind {
                case "A": return .anchor(.textStart)
                case "z": return .anchor(.textEnd)
                case "Z": return .anchor(.textEndOrFinalNewline)
                case "b": return .anchor(.wordBoundary)
                default: return .anchor(.notWordBoundary)
                }
            case "\\": return .test(try escape(inClass: false))
            case "*", "+", "?": throw unsupported("a quantifier with nothing to repeat")
            default: i += 1; return .test(literal(c))
            }
        }

        /// A literal scalar; ignoring case, its case variants are listed once here rather than looked up per scalar.
        private func literal(_ c: Unicode.Scalar) -> ScalarTest {
            guard caseInsensitive else { return ScalarTest(items: [.scalar(c)]) }
            var variants = [c]
            for v in LinearRegex.caseVariants(c) where !variants.contains(v) { variants.append(v) }
            return ScalarTest(items: variants.map { .scalar($0) }, caseInsensitive: true)
        }

        private mutating func group() throws -> Node {
            i += 1  // "("
            guard depth < Parser.maximumDepth else { throw unsupported("groups nested more than \(Parser.maximumDepth) deep") }
            let savedFlag = caseInsensitive
            depth += 1
            defer { caseInsensitive = savedFlag; depth -= 1 }
            if peek == "?" {
                let next = i + 1 < scalars.count ? scalars[i + 1] : " "
                switch next {
                case ":": i += 2
                case "i" where i + 2 < scalars.count && scalars[i + 2] == ":": caseInsensitive = true; i += 3
                case "!", "=":
                    i += 2
                    let test: ScalarTest
                    switch peek {
                    case "[": test = try characterClass()
                    case "\\": test = try escape(inClass: false)
                    case let c? where c != ")" && c != "(": i += 1; test = literal(c)
                    default: throw unsupported("a lookahead of more than one character")
                    }
                    guard peek == ")" else { throw unsupported("a lookahead of more than one character") }
                    i += 1
                    return .lookahead(test, negated: next == "!")
                default: throw unsupported("the group syntax '(?\(next)'")
                }
            }
            let inner = try alternation()
            guard peek == ")" else { throw unsupported("an unclosed group") }
            i += 1
            return inner
        }

        /// `[...]` at `i`.
        private mutating func characterClass() throws -> ScalarTest {
            i += 1
            var test = ScalarTest(items: [], caseInsensitive: caseInsensitive)
            if peek == "^" { test.negated = true; i += 1 }
            var first = true
            while let c = peek, c != "]" || first {
                first = false
                if c == "[" { throw unsupported("a nested class or POSIX bracket") }
                if c == "&", i + 1 < scalars.count, scalars[i + 1] == "&" { throw unsupported("a class intersection") }
                var low: Unicode.Scalar
                if c == "\\" {
                    let escaped = try escape(inClass: true)
                    guard escaped.items.count == 1, case .scalar(let s) = escaped.items[0], !escaped.negated else {
                        test.items += escaped.negated ? negatedItems(escaped) : escaped.items
                        continue
                    }
                    low = s
                } else { low = c; i += 1 }
                if peek == "-", i + 1 < scalars.count, scalars[i + 1] != "]" {
                    i += 1
                    var high: Unicode.Scalar
                    if peek == "\\" {
                        let escaped = try escape(inClass: true)
                        guard escaped.items.count == 1, case .scalar(let s) = escaped.items[0] else { throw unsupported("a range ending in a class") }
                        high = s
                    } else { high = scalars[i]; i += 1 }
                    guard low.value <= high.value else { throw unsupported("a range out of order") }
                    test.items.append(.range(low.value, high.value))
                } else {
                    test.items.append(.scalar(low))
                }
            }
            guard peek == "]" else { throw unsupported("an unclosed class") }
            i += 1
            return test
        }

        /// The items of a negated escape class (`\S`, `\P{L}`) inside a class.
        private func negatedItems(_ t: ScalarTest) -> [ScalarTest.Item] {
            t.items.map { item in
                if case .named(let n, let negated) = item { return .named(n, negated: !negated) }
                return item
            }
        }

        /// The escape at `i` (a backslash) as a test.
        private mutating func escape(inClass: Bool) throws -> ScalarTest {
            i += 1
            guard let c = peek else { throw unsupported("a pattern ending in a backslash") }
            i += 1
            func named(_ n: NamedClass, _ negated: Bool) -> ScalarTest {
                ScalarTest(items: [.named(n, negated: false)], negated: negated, caseInsensitive: false)
            }
            switch c {
            case "s", "S": return named(.space, c == "S")
            case "d", "D": return named(.digit, c == "D")
            case "w", "W": return named(.word, c == "W")
            case "p", "P":
                var name = ""
                if peek == "{" {
                    i += 1
                    while let d = peek, d != "}" { name.unicodeScalars.append(d); i += 1 }
                    guard peek == "}" else { throw unsupported("an unclosed \\p{") }
                    i += 1
                } else if let d = peek { name = String(d); i += 1 }
                var negated = c == "P"
                if name.hasPrefix("^") { negated.toggle(); name.removeFirst() }
                guard let n = NamedClass.property(name) else { throw unsupported("the property \\p{\(name)}") }
                return named(n, negated)
            case "n": return literal("\n")
            case "r": return literal("\r")
            case "t": return literal("\t")
            case "f": return literal("\u{0C}")
            case "v": return literal("\u{0B}")
            case "e": return literal("\u{1B}")
            case "a": return literal("\u{07}")
            case "x", "u":
                var hex = ""
                if c == "x" && peek == "{" {
                    i += 1
                    while let d = peek, d != "}" { hex.unicodeScalars.append(d); i += 1 }
                    i += 1
                } else {
                    for _ in 0..<(c == "x" ? 2 : 4) { if let d = peek { hex.unicodeScalars.append(d); i += 1 } }
                }
                guard let value = UInt32(hex, radix: 16), let s = Unicode.Scalar(value) else { throw unsupported("the escape \\\(c)\(hex)") }
                return literal(s)
            default:
                if c.properties.isAlphabetic || ("0"..."9").contains(c) { throw unsupported("the escape \\\(c)") }
                return literal(c)  // an escaped punctuation or symbol stands for itself
            }
        }
    }
}
