import MLHostCore
import MLHostLua

/// A native written against the typed API: it reads its arguments from `L`, reaches the host through `vm`, and
/// returns how many results it pushed (or `.suspended`). What it throws is mapped here, once:
/// - a `HostError` of kind `script` (a wrong argument, an unknown option) is raised, blamed on the calling line;
/// - any other `HostError` (the world or the host failed, not the script) answers
///   `nil, token, {message=, retryable=}`;
/// - anything else is raised as its description.
public typealias NativeBody = @Sendable (LuaState, isolated LuaVM) throws -> NativeResult

/// A native body kept alive for the VMs it is pushed into; Lua holds it as a light userdata upvalue.
package final class TypedNative: Sendable {
  /// The body with its isolated parameter taken as a plain one, which changes the function's type and not how it
  /// is called (as in `assumeIsolated`). Lua calls a native only while code isolated to the VM runs the state,
  /// which nothing else can reach, so the call is isolated by construction; debug builds check it. Per call, the
  /// runtime's check (`assumeIsolated`) cost 160 ns and a thread check in release builds 7 ns, 20 % of the call
  /// (measured).
  let body: @Sendable (LuaState, LuaVM) throws -> NativeResult

  package init(_ body: @escaping NativeBody) {
    self.body = unsafeBitCast(body, to: (@Sendable (LuaState, LuaVM) throws -> NativeResult).self)
  }
}

extension LuaVM {
  /// Pushes a typed native as a Lua function. The VM keeps `native` alive as long as its state.
  package func push(native: TypedNative) {
    natives[ObjectIdentifier(native)] = native
    L.push(dispatch: typedTrampoline, native: Unmanaged.passUnretained(native).toOpaque())
  }

  package func push(native body: @escaping NativeBody) { push(native: TypedNative(body)) }
}

extension LuaState {
  /// Raises a script's misuse blamed on the calling script line, structured when its token says more than
  /// `script`.
  func raise(_ misuse: HostError) -> Int32 {
    guard misuse.token != HostError.Kind.script.rawValue else { return raise(misuse.description) }
    return raise(kind: misuse.token, misuse.description, retryable: misuse.retryable)
  }
}

/// The one C-callable entry of every typed native: the C trampoline hands it the native and the VM; it maps what
/// the native throws.
private let typedTrampoline: LuaTypedDispatch = { raw, native, owner in
  let L = LuaState(raw!)
  do {
    // The state holds the native and the VM alive for the call: no retain and release (two atomic operations
    // each) on the hottest path of every script.
    return try Unmanaged<TypedNative>.fromOpaque(native!)._withUnsafeGuaranteedRef { native in
      try Unmanaged<LuaVM>.fromOpaque(owner!)._withUnsafeGuaranteedRef { vm in
        assert(vm.executor.isCurrent, "a native ran off its VM's thread")
        return try native.body(L, vm).code
      }
    }
  } catch let failure as HostError {
    if failure.kind == .script { return L.raise(failure) }
    L.pushNil()
    L.push(failure.token)
    L.push(["message": .text(failure.description), "retryable": .boolean(failure.retryable)] as LuaValue)
    return 3
  } catch {
    return L.raise("\(error)")
  }
}
