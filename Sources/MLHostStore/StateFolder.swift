import Foundation
import MLHostCore

/// The host's state folder (store, vault, keys, admin token): readable by its owner alone, whatever the umask, and
/// used by one host at a time.
public enum StateFolder {
  /// The lock file a running host holds (with its PID in it).
  public static let lockName = "host.lock"

  /// Creates `directory` (mode 0700) if needed, and narrows the modes of what is already there: the folder to 0700,
  /// every file in it to 0600 (a store written by an older version was world-readable).
  public static func prepare(_ directory: URL) throws {
    try FileManager.default.createDirectory(
      at: directory, withIntermediateDirectories: true, attributes: [.posixPermissions: 0o700])
    guard chmod(directory.path, 0o700) == 0 else {
      throw HostError(
        .setup, "cannot make \(directory.path) private (chmod 0700): \(String(cString: strerror(errno)))")
    }
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] {
      let path = directory.appendingPathComponent(name).path
      var info = stat()
      guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG, info.st_mode & 0o077 != 0 else { continue }
      _ = chmod(path, 0o600)
    }
  }

  /// Writes `data` to `url` readable by the owner alone from the first byte (never widened by the umask, never
  /// briefly world-readable), replacing what was there.
  public static func writePrivate(_ data: Data, to url: URL) throws {
    let fd = open(url.path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o600)
    guard fd >= 0 else { throw HostError(.setup, "cannot write \(url.path): \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    fchmod(fd, 0o600)
    let written = data.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    guard written == data.count else {
      throw HostError(.setup, "cannot write \(url.path): \(String(cString: strerror(errno)))")
    }
  }

  /// Removes everything in the folder but the lock (a sandbox run starts afresh while it holds the folder).
  public static func clear(_ directory: URL) throws {
    for name in (try? FileManager.default.contentsOfDirectory(atPath: directory.path)) ?? [] where name != lockName {
      try FileManager.default.removeItem(at: directory.appendingPathComponent(name))
    }
  }

  /// An exclusive lock on the folder for this process's lifetime: one host per state folder. A second one is
  /// refused at once, naming the PID that holds it. The lock goes with the process (even after kill -9).
  public final class Lock: Sendable {
    private let fd: Int32
    public let path: String

    public init(_ directory: URL) throws {
      try StateFolder.prepare(directory)
      path = directory.appendingPathComponent(StateFolder.lockName).path
      fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
      guard fd >= 0 else { throw HostError(.setup, "cannot open \(path): \(String(cString: strerror(errno)))") }
      guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
        let busy = errno == EWOULDBLOCK
        var buffer = [UInt8](repeating: 0, count: 32)
        let n = pread(fd, &buffer, buffer.count, 0)
        close(fd)
        let holder =
          n > 0 ? String(decoding: buffer[..<n], as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines) : "?"
        guard busy else { throw HostError(.setup, "cannot lock \(path): \(String(cString: strerror(errno)))") }
        throw HostError(
          .setup,
          "another mlhost (pid \(holder)) is using the state folder \(directory.path); "
            + "stop it first, or give this one its own folder with --state")
      }
      let pid = Array("\(getpid())\n".utf8)
      ftruncate(fd, 0)
      _ = pwrite(fd, pid, pid.count, 0)
    }

    deinit { close(fd) }
  }
}
