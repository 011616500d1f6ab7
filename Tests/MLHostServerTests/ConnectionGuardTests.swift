import HTTPTypes
import NIOHTTPTypes
import Testing

@testable import MLHostServer

/// The deadlines of one connection, without I/O.
@Suite struct ConnectionDeadlineStateTests {
  typealias Action = ConnectionDeadlineState.Action
  let limits = ConnectionLimits(maxConnections: 8, headerTimeout: 1, bodyTimeout: 2, idleTimeout: 3)
  let head = HTTPRequestPart.head(HTTPRequest(method: .post, scheme: nil, authority: nil, path: "/hooks/a/b"))

  @Test func eachPhaseHasItsDeadline() {
    var s = ConnectionDeadlineState(limits: limits)
    let opened = s.opened()
    let headRead = s.read(head)
    let bodyRead = s.read(.body(.init()))
    let endRead = s.read(.end(nil))
    #expect(opened == .arm(seconds: 1))
    #expect(headRead == (true, .arm(seconds: 2)))
    #expect(bodyRead == (true, .none), "a trickle must not push the body's deadline back")
    #expect(endRead == (true, .disarm), "no deadline while the delivery is committed")
    let closes = s.answerHead(status: .ok)
    let answered = s.answerEnd()
    #expect(!closes)
    #expect(answered == .arm(seconds: 3 + 1), "idle, then the next head")
    #expect(s.phase == .awaitingHead)
  }

  @Test func anEarlyAnswerOrA413ClosesAndDiscardsTheRest() {
    var early = ConnectionDeadlineState(limits: limits)
    _ = early.opened()
    _ = early.read(head)
    let closes = early.answerHead(status: .notFound)
    let answered = early.answerEnd()
    let late = early.read(.body(.init()))
    #expect(closes, "answered before the body was read")
    #expect(answered == .arm(seconds: limits.lingerTimeout))
    #expect(late == (false, .none))
    var tooLarge = ConnectionDeadlineState(limits: limits)
    _ = tooLarge.read(head)
    _ = tooLarge.read(.end(nil))
    let closesAfter413 = tooLarge.answerHead(status: .contentTooLarge)
    #expect(closesAfter413)
  }
}
