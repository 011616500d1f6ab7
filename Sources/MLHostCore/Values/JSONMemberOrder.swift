import Foundation

/// The member names of a JSON object in the order they came, and the same for the objects nested in it (directly,
/// or as the elements of an array). Foundation's parser keeps no order, but an API that applies fields as it reads
/// them (Sage 300 puts them to its views in that order) must be checked against the bytes.
public struct JSONMemberOrder: Sendable, Equatable {
  /// The object's member names, first to last (a name given twice, as often as it came).
  public var names: [String] = []
  /// Per member whose value is an object or an array: the order of that object, or of each object in the array.
  public var nested: [String: [JSONMemberOrder]] = [:]

  public init(names: [String] = [], nested: [String: [JSONMemberOrder]] = [:]) {
    self.names = names
    self.nested = nested
  }

  /// The order of the top-level object of `bytes`, or nil when they are not one valid JSON object.
  public static func of(_ bytes: UnsafeRawBufferPointer) -> JSONMemberOrder? {
    var s = JSONScan.Scanner(bytes: bytes)
    s.space()
    guard s.c == UInt8(ascii: "{"), let order = s.memberOrder(depth: 0) else { return nil }
    s.space()
    return s.i == bytes.count ? order : nil
  }

  public static func of(_ bytes: [UInt8]) -> JSONMemberOrder? { bytes.withUnsafeBytes { of($0) } }
}

extension JSONScan.Scanner {
  /// Reads the object at the cursor, noting its members' names and, within them, those of nested objects.
  mutating func memberOrder(depth: Int) -> JSONMemberOrder? {
    guard depth < 512 else { return nil }
    var order = JSONMemberOrder()
    i += 1
    space()
    if c == UInt8(ascii: "}") {
      i += 1
      return order
    }
    while true {
      space()
      guard c == UInt8(ascii: "\""), let range = string(), let name = Self.text(bytes, range) else { return nil }
      space()
      guard c == UInt8(ascii: ":") else { return nil }
      i += 1
      space()
      order.names.append(name)
      switch c {
      case UInt8(ascii: "{"):
        guard let inner = memberOrder(depth: depth + 1) else { return nil }
        order.nested[name, default: []].append(inner)
      case UInt8(ascii: "["):
        guard let elements = arrayOrders(depth: depth + 1) else { return nil }
        order.nested[name, default: []].append(contentsOf: elements)
      default:
        guard value(depth: depth + 1) else { return nil }
      }
      space()
      if c == UInt8(ascii: ",") {
        i += 1
        continue
      }
      guard c == UInt8(ascii: "}") else { return nil }
      i += 1
      return order
    }
  }

  /// Reads the array at the cursor; answers the orders of the objects among its elements.
  private mutating func arrayOrders(depth: Int) -> [JSONMemberOrder]? {
    guard depth < 512 else { return nil }
    var out: [JSONMemberOrder] = []
    i += 1
    space()
    if c == UInt8(ascii: "]") {
      i += 1
      return out
    }
    while true {
      space()
      if c == UInt8(ascii: "{") {
        guard let inner = memberOrder(depth: depth + 1) else { return nil }
        out.append(inner)
      } else {
        guard value(depth: depth + 1) else { return nil }
      }
      space()
      if c == UInt8(ascii: ",") {
        i += 1
        continue
      }
      guard c == UInt8(ascii: "]") else { return nil }
      i += 1
      return out
    }
  }

  /// A string's contents as text: as they are when there is no escape, else decoded as JSON decodes them.
  private static func text(_ bytes: UnsafeRawBufferPointer, _ range: Range<Int>) -> String? {
    let raw = UnsafeRawBufferPointer(rebasing: bytes[range])
    guard raw.contains(UInt8(ascii: "\\")) else { return String(decoding: raw, as: UTF8.self) }
    let quoted = Data([UInt8(ascii: "\"")] + Array(raw) + [UInt8(ascii: "\"")])
    return (try? JSONSerialization.jsonObject(with: quoted, options: .fragmentsAllowed)) as? String
  }
}
