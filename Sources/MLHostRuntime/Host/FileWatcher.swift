import Foundation
import Glibc

/// Watches a set of files with inotify (on their folders, since editors replace files by renaming) and reports
/// changes after a short quiet period, so one save that touches a file twice reloads once.
final class FileWatcher: @unchecked Sendable {
  private let fd: Int32
  private var wake: [Int32] = [0, 0]
  private let lock = NSLock()
  private var watchedFiles: Set<String> = []
  private var directories: [Int32: String] = [:]
  private let onChange: @Sendable ([URL]) -> Void
  private let quiet: Double
  private var thread: Thread?

  init(quietPeriod: Double = 0.02, onChange: @escaping @Sendable ([URL]) -> Void) throws {
    fd = inotify_init1(Int32(IN_NONBLOCK | IN_CLOEXEC))
    guard fd >= 0 else { throw POSIXError(POSIXErrorCode(rawValue: errno) ?? .EIO) }
    guard pipe(&wake) == 0 else { throw POSIXError(.EMFILE) }
    self.onChange = onChange
    quiet = quietPeriod
    let t = Thread { [unowned self] in self.loop() }
    t.name = "file-watcher"
    thread = t
    t.start()
  }

  /// Replaces the watched set.
  func watch(_ files: [URL]) {
    lock.withLock {
      watchedFiles = Set(files.map { $0.standardizedFileURL.path })
      let wanted = Set(watchedFiles.map { ($0 as NSString).deletingLastPathComponent })
      for (wd, dir) in directories where !wanted.contains(dir) {
        inotify_rm_watch(fd, wd)
        directories[wd] = nil
      }
      let have = Set(directories.values)
      let mask = UInt32(IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE | IN_DELETE | IN_ATTRIB)
      for dir in wanted where !have.contains(dir) {
        let wd = inotify_add_watch(fd, dir, mask)
        if wd >= 0 { directories[wd] = dir }
      }
    }
  }

  func stop() {
    var b: UInt8 = 1
    _ = write(wake[1], &b, 1)
  }

  private func loop() {
    var buffer = [UInt8](repeating: 0, count: 64 * 1024)
    var pending: Set<String> = []
    var deadline: Double?
    defer {
      close(fd)
      close(wake[0])
      close(wake[1])
    }
    while true {
      var fds = [
        pollfd(fd: fd, events: Int16(POLLIN), revents: 0), pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0),
      ]
      let timeout = deadline.map { Int32(max(0, ($0 - Date().timeIntervalSince1970) * 1000)) } ?? -1
      _ = poll(&fds, 2, timeout)
      if fds[1].revents != 0 { return }
      if fds[0].revents != 0 {
        let n = read(fd, &buffer, buffer.count)
        var offset = 0
        while n > 0 && offset < n {
          let (wd, length) = buffer.withUnsafeBytes { raw -> (Int32, Int) in
            let event = raw.loadUnaligned(fromByteOffset: offset, as: inotify_event.self)
            return (event.wd, Int(event.len))
          }
          let nameStart = offset + MemoryLayout<inotify_event>.size
          let nameBytes = buffer[nameStart..<nameStart + length].prefix { $0 != 0 }
          let name = String(decoding: nameBytes, as: UTF8.self)
          lock.withLock {
            if let dir = directories[wd] {
              let path = dir + "/" + name
              if watchedFiles.contains(path) { pending.insert(path) }
            }
          }
          offset = nameStart + length
        }
        if !pending.isEmpty { deadline = Date().timeIntervalSince1970 + quiet }
      }
      if let d = deadline, Date().timeIntervalSince1970 >= d {
        let changed = pending.map { URL(fileURLWithPath: $0) }
        pending = []
        deadline = nil
        onChange(changed)
      }
    }
  }
}
