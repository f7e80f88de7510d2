import Foundation
@testable import DarwinLua

/// Paths and helpers shared by the Lua-side tests.
enum TestSupport {
    /// The repository root (three levels above this file).
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    /// The bundled stdlib folder of this checkout.
    static var stdlib: String { repoRoot.appendingPathComponent("stdlib").path }

    /// A standard host using this checkout's stdlib.
    static func host() throws -> LuaHost { try LuaHost.standard(stdlib: stdlib) }

    /// Runs `code` and returns the error message it raised (nil if none).
    static func errorMessage(_ host: LuaHost, _ code: String) -> String? {
        do { try host.run(code); return nil } catch { return "\(error)" }
    }

    /// The built `darwinhost` executable next to the test bundle.
    static var executable: URL { builtProduct("darwinhost") }

    /// An executable of this package, from the build folder the tests run from.
    static func builtProduct(_ name: String) -> URL {
        let exe = URL(fileURLWithPath: (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/exe")) ?? CommandLine.arguments[0])
        return exe.deletingLastPathComponent().appendingPathComponent(name)
    }

    /// Runs `/bin/sh -c script` with `$0` the darwinhost executable and `$1...` the `arguments` (for what Process
    /// cannot pass: resource limits, non-UTF-8 bytes); returns (exited normally with status 0, stdout, stderr).
    /// Reads a child's standard output and error to their ends at once (error on another thread): reading one to its
    /// end first deadlocks when the child fills the other pipe's buffer (64 KiB) meanwhile.
    static func readToEnd(_ out: Pipe, _ err: Pipe) -> (Data, Data) {
        final class Box: @unchecked Sendable { var data = Data() }
        let errors = Box(), done = DispatchSemaphore(value: 0)
        let handle = err.fileHandleForReading
        Thread.detachNewThread { errors.data = handle.readDataToEndOfFile(); done.signal() }
        let output = out.fileHandleForReading.readDataToEndOfFile()
        done.wait()
        return (output, errors.data)
    }

    static func runShell(_ script: String, arguments: [String], directory: URL? = nil) throws -> (ok: Bool, out: String, err: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        if let directory { process.currentDirectoryURL = directory }
        process.arguments = ["-c", script, executable.path] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let (o, e) = readToEnd(out, err)
        process.waitUntilExit()
        return (process.terminationReason == .exit && process.terminationStatus == 0, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }

    /// Runs the executable with `arguments` and optional standard input; returns (status, stdout, stderr).
    static func runExecutable(_ arguments: [String], stdin: String? = nil, environment: [String: String] = [:],
                              directory: URL? = nil, interruptAfter: Double? = nil, product: String = "darwinhost") throws -> (Int32, String, String) {
        let process = Process()
        if let directory { process.currentDirectoryURL = directory }
        process.executableURL = builtProduct(product)
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let out = Pipe(), err = Pipe(), input = Pipe()
        process.standardOutput = out
        process.standardError = err
        process.standardInput = input
        try process.run()
        if let stdin { input.fileHandleForWriting.write(Data(stdin.utf8)) }
        if let interruptAfter {
            Thread.sleep(forTimeInterval: interruptAfter)
            process.interrupt()
            // An interrupt that does not work must fail the test, not hang the suite.
            let deadline = Date().addingTimeInterval(10)
            while process.isRunning && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        try input.fileHandleForWriting.close()
        let (o, e) = readToEnd(out, err)
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: o, as: UTF8.self), String(decoding: e, as: UTF8.self))
    }
}
