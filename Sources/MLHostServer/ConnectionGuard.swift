import HTTPTypes
import NIOCore
import NIOHTTPTypes

/// What one listener allows a peer: how many connections at once and how long each phase of a request may take.
/// A slow or silent peer loses its connection; beyond the cap new connections wait in the kernel's queue (no
/// descriptor is spent on them) until a slot frees.
public struct ConnectionLimits: Sendable, Equatable {
  /// Connections served at once.
  public var maxConnections = 1024
  /// Seconds from accepting a connection to a complete request head (slow headers).
  public var headerTimeout: Double = 10
  /// Seconds from the request head to the end of its body, however steadily it trickles.
  public var bodyTimeout: Double = 30
  /// Seconds a kept-alive connection may wait for its next request.
  public var idleTimeout: Double = 60
  /// Seconds a closing connection keeps discarding what the peer still sends after its answer (so the answer is
  /// read before the close, instead of being lost to a reset).
  public var lingerTimeout: Double = 1

  public init(
    maxConnections: Int = 1024, headerTimeout: Double = 10, bodyTimeout: Double = 30, idleTimeout: Double = 60
  ) {
    self.maxConnections = maxConnections
    self.headerTimeout = headerTimeout
    self.bodyTimeout = bodyTimeout
    self.idleTimeout = idleTimeout
  }
}

/// The deadlines of one HTTP/1 connection, as a state machine apart from I/O: what to arm after each event.
struct ConnectionDeadlineState: Equatable {
  enum Phase: Equatable {
    /// Waiting for a request head (the first, or the next on a kept-alive connection).
    case awaitingHead
    /// The head arrived; the body has until its deadline.
    case readingBody
    /// The request is complete and the host is answering: no deadline (it answers after a durable commit).
    case answering
    /// The answer went out with `Connection: close`; what still arrives is discarded until the close.
    case lingering
  }

  enum Action: Equatable {
    case arm(seconds: Double)
    case disarm
    case none
  }

  let limits: ConnectionLimits
  private(set) var phase = Phase.awaitingHead
  private(set) var closeAfterAnswer = false

  init(limits: ConnectionLimits) { self.limits = limits }

  mutating func opened() -> Action { .arm(seconds: limits.headerTimeout) }

  /// Whether the part is passed on (false while lingering), and what to arm.
  mutating func read(_ part: HTTPRequestPart) -> (forward: Bool, action: Action) {
    if phase == .lingering { return (false, .none) }
    switch part {
    case .head:
      phase = .readingBody
      return (true, .arm(seconds: limits.bodyTimeout))
    case .body:
      return (true, .none)
    case .end:
      phase = .answering
      return (true, .disarm)
    }
  }

  /// An answer's head: one sent before its request was read to the end (a 413, a 404 on a large body), or any
  /// 413, closes the connection after it instead of reading the rest.
  mutating func answerHead(status: HTTPResponse.Status) -> Bool {
    closeAfterAnswer = phase == .readingBody || status == .contentTooLarge
    return closeAfterAnswer
  }

  /// The answer is complete: linger and close, or wait for the next request.
  mutating func answerEnd() -> Action {
    if closeAfterAnswer {
      phase = .lingering
      return .arm(seconds: limits.lingerTimeout)
    }
    phase = .awaitingHead
    return .arm(seconds: limits.idleTimeout + limits.headerTimeout)
  }
}

/// Applies `ConnectionDeadlineState` to a channel: closes it when a deadline passes, marks early answers
/// `Connection: close`, and half-closes after them so the peer reads the answer before the connection goes.
final class ConnectionGuard: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = HTTPRequestPart
  typealias InboundOut = HTTPRequestPart
  typealias OutboundIn = HTTPResponsePart
  typealias OutboundOut = HTTPResponsePart

  private var state: ConnectionDeadlineState
  private var deadline: Scheduled<Void>?

  init(limits: ConnectionLimits) { state = ConnectionDeadlineState(limits: limits) }

  func handlerAdded(context: ChannelHandlerContext) {
    if context.channel.isActive { apply(state.opened(), context) }
  }

  func handlerRemoved(context: ChannelHandlerContext) { apply(.disarm, context) }

  func channelActive(context: ChannelHandlerContext) {
    if deadline == nil { apply(state.opened(), context) }
    context.fireChannelActive()
  }

  func channelInactive(context: ChannelHandlerContext) {
    apply(.disarm, context)
    context.fireChannelInactive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let (forward, action) = state.read(unwrapInboundIn(data))
    apply(action, context)
    if forward { context.fireChannelRead(data) }
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    switch unwrapOutboundIn(data) {
    case .head(var head):
      if state.answerHead(status: head.status) {
        head.headerFields[.connection] = "close"
        context.write(wrapOutboundOut(.head(head)), promise: promise)
      } else {
        context.write(data, promise: promise)
      }
    case .body:
      context.write(data, promise: promise)
    case .end:
      let action = state.answerEnd()
      context.write(data, promise: promise)
      if state.phase == .lingering {
        context.flush()
        // FIN after the answer, once it is written; the peer stops sending and closes, or the linger ends it.
        let halfClosed = context.eventLoop.makePromise(of: Void.self)
        halfClosed.futureResult.assumeIsolated().whenFailure { _ in context.close(promise: nil) }
        context.close(mode: .output, promise: halfClosed)
      }
      apply(action, context)
    }
  }

  private func apply(_ action: ConnectionDeadlineState.Action, _ context: ChannelHandlerContext) {
    switch action {
    case .none: return
    case .disarm:
      deadline?.cancel()
      deadline = nil
    case .arm(let seconds):
      deadline?.cancel()
      deadline = context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(Int64(seconds * 1000))) {
        context.close(promise: nil)
      }
    }
  }
}
