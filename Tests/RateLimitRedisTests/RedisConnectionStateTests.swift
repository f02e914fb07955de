import NIOCore
@testable import RateLimitRedis
import Testing

/// Every transition of a Redis connection's life, without a socket: time and jitter are inputs.
@Suite struct RedisConnectionStateTests {
    final class Link: Sendable {
        let id: Int
        init(_ id: Int) { self.id = id }
    }
    typealias State = RedisConnectionState<Link, Int>

    let t0 = NIODeadline.uptimeNanoseconds(1_000_000_000)
    let active: (Link) -> Bool = { _ in true }

    /// The action's shape, comparable.
    enum Shape: Equatable {
        case write(link: Int, flush: Bool), wait(Int), connect, fail(RedisConnectionError)
    }

    func shape(_ action: State.SendAction) -> Shape {
        switch action {
        case .write(let link, let flush): .write(link: link.id, flush: flush)
        case .wait(let attempt): .wait(attempt)
        case .connect: .connect
        case .fail(let error): .fail(error)
        }
    }

    @Test func theFirstCommandConnectsAndLaterOnesWaitForTheAttempt() {
        var state = State()
        #expect(shape(state.send(now: t0, isActive: active)) == .connect)
        state.connecting(7)
        #expect(shape(state.send(now: t0, isActive: active)) == .wait(7))
        #expect(state.connected(Link(1)) == nil)
        #expect(shape(state.send(now: t0, isActive: active)) == .write(link: 1, flush: true))
    }

    @Test func writesOfOneTickShareOneFlush() {
        var state = connected(Link(1))
        #expect(shape(state.send(now: t0, isActive: active)) == .write(link: 1, flush: true))
        #expect(shape(state.send(now: t0, isActive: active)) == .write(link: 1, flush: false))
        #expect(state.flushed()?.id == 1)
        #expect(shape(state.send(now: t0, isActive: active)) == .write(link: 1, flush: true))
    }

    @Test func aFailedAttemptBacksOffAndFailsFastUntilTheRetryTime() {
        var state = State()
        _ = state.send(now: t0, isActive: active)
        state.connecting(1)
        state.connectFailed(.tls("bad certificate"), now: t0, jitter: 0)
        let first = State.backoff(failures: 1, jitter: 0)  // 25 ms: half of 50 ms
        #expect(first == .milliseconds(25))
        // While backing off, the last error is the answer (a TLS failure stays one).
        #expect(shape(state.send(now: t0 + first - .nanoseconds(1), isActive: active)) == .fail(.tls("bad certificate")))
        #expect(shape(state.send(now: t0 + first, isActive: active)) == .connect)
        state.connecting(2)
        state.connectFailed(nil, now: t0 + first, jitter: 0)
        let second = State.backoff(failures: 2, jitter: 0)  // 50 ms: the backoff doubles
        #expect(second == .milliseconds(50))
        #expect(shape(state.send(now: t0 + first + second - .nanoseconds(1), isActive: active)) == .fail(.unavailable("reconnecting (attempt 3 soon)")))
        #expect(shape(state.send(now: t0 + first + second, isActive: active)) == .connect)
    }

    @Test func backoffIsCappedAtFiveSeconds() {
        #expect(State.backoff(failures: 40, jitter: .max) <= .seconds(5))
        #expect(State.backoff(failures: 40, jitter: 0) == .milliseconds(2_500))
    }

    @Test func aClosedChannelReconnectsAtOnceWithTheFailuresForgotten() {
        let link = Link(1)
        var state = connected(link)
        state.closed(now: t0) { $0 === link }
        #expect(shape(state.send(now: t0, isActive: active)) == .connect)
    }

    @Test func anOlderChannelsCloseChangesNothing() {
        var state = connected(Link(2))
        let old = Link(1)
        state.closed(now: t0) { $0 === old }
        #expect(shape(state.send(now: t0, isActive: active)) == .write(link: 2, flush: true))
    }

    @Test func aChannelThatWentInactiveBeforeItsCloseWasReportedIsReplaced() {
        var state = connected(Link(1))
        #expect(shape(state.send(now: t0, isActive: { _ in false })) == .connect)
    }

    @Test func afterCloseEveryCommandFailsAtOnce() {
        var state = connected(Link(1))
        #expect(state.close()?.id == 1)
        #expect(shape(state.send(now: t0, isActive: active)) == .fail(.closed))
        #expect(state.flushed() == nil)
        #expect(state.linkToDrop == nil)
    }

    @Test func anAttemptThatConnectsAfterCloseIsClosedAndFailuresKeepItClosed() {
        var state = State()
        _ = state.send(now: t0, isActive: active)
        state.connecting(1)
        #expect(state.close() == nil)
        let late = Link(9)
        #expect(state.connected(late) === late, "the caller closes it")
        state.connectFailed(nil, now: t0, jitter: 0)
        #expect(shape(state.send(now: t0 + .seconds(60), isActive: active)) == .fail(.closed))
    }

    @Test func dropNamesTheConnectedChannelOnly() {
        var state = State()
        #expect(state.linkToDrop == nil)
        state = connected(Link(3))
        #expect(state.linkToDrop?.id == 3)
    }

    private func connected(_ link: Link) -> State {
        var state = State()
        _ = state.send(now: t0, isActive: active)
        state.connecting(0)
        _ = state.connected(link)
        return state
    }
}
