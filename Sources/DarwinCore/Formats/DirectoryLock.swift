import Foundation
import Glibc

/// An exclusive lock on a directory that a run writes to (`DIR/.lock`, holding the owner's pid): a second run on
/// the same directory gets an error naming the holder instead of corrupting the first one's files. The lock is
/// an `flock`, so the kernel releases it when the process ends, however it ends.
public final class DirectoryLock {
    /// The locked directory.
    public let directory: String
    private var descriptor: Int32

    /// Creates `directory` if needed and locks it; throws when another process holds the lock. `name` is the lock
    /// file's: one directory can hold a run's lock (`.lock`) and a database build's (`.database.lock`).
    public init(directory: String, name: String = ".lock") throws {
        self.directory = directory
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let path = directory + "/" + name
        descriptor = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard descriptor >= 0 else { throw FormatError(file: path, "cannot open the lock file (errno \(errno))") }
        guard flock(descriptor, LOCK_EX | LOCK_NB) == 0 else {
            var buffer = [UInt8](repeating: 0, count: 32)
            let n = pread(descriptor, &buffer, 31, 0)
            let holder = n > 0 ? String(decoding: buffer[0..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
            close(descriptor)
            descriptor = -1
            throw FormatError(file: directory, "is in use by another darwinhost run (pid \(holder)); wait for it to finish or choose another directory")
        }
        let pid = "\(getpid())\n"
        _ = ftruncate(descriptor, 0)
        _ = pid.withCString { pwrite(descriptor, $0, strlen($0), 0) }
    }

    /// Releases the lock (also done when the object is freed or the process ends).
    public func release() {
        guard descriptor >= 0 else { return }
        flock(descriptor, LOCK_UN)
        close(descriptor)
        descriptor = -1
    }

    deinit { release() }
}

/// File-system operations for scripts, without a shell (paths may hold any character).
public enum FileSystem {
    /// Creates `path` and its missing parents; an existing directory is fine.
    public static func makeDirectory(_ path: String) throws {
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw FormatError(file: path, "cannot create the directory (\(error.localizedDescription))")
        }
    }

    /// The absolute path of `path` with links and `.`/`..` resolved (`realpath`), or nil when it does not exist.
    public static func canonicalPath(_ path: String) -> String? {
        guard let resolved = realpath(path, nil) else { return nil }
        defer { free(resolved) }
        return String(cString: resolved)
    }

    /// Removes a file or a directory with its contents; a missing path is fine.
    public static func remove(_ path: String) throws {
        guard kind(path) != nil else { return }
        do { try FileManager.default.removeItem(atPath: path) } catch {
            throw FormatError(file: path, "cannot remove (\(error.localizedDescription))")
        }
    }

    /// "file", "directory", or nil when nothing is there.
    public static func kind(_ path: String) -> String? {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else { return nil }
        return isDirectory.boolValue ? "directory" : "file"
    }

    /// The names in a directory, sorted.
    public static func list(_ path: String) throws -> [String] {
        do { return try FileManager.default.contentsOfDirectory(atPath: path).sorted() } catch {
            throw FormatError(file: path, "cannot list the directory (\(error.localizedDescription))")
        }
    }
}
