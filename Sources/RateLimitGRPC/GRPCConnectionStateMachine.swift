public import NIOCore
public import NIOHPACK
public import NIOHTTP2

/// The unary calls on one HTTP/2 connection, as a value: frames in, what to do out. It checks
/// each call's headers, gathers its one length-prefixed message (refusing compressed, oversized,
/// extra or missing ones) and gives back inbound flow-control credit, which NIOHTTP2 leaves to
/// its user when no stream multiplexer sits above it. It also decides when the connection ends
/// (idle, or GOAWAY on quiesce), with the time as an input.
public struct GRPCConnectionStateMachine {
    public struct Configuration: Sendable {
        /// The largest request message accepted (gRPC's default: 4 MiB).
        public var maxMessageBytes = 4 * 1024 * 1024
        /// The inbound window of the connection and of each stream; credit goes back once half
        /// of it is used.
        public var windowSize = 65_535

        public init() {}
    }

    enum StreamState {
        /// Headers accepted; the message is arriving.
        case receiving(GRPCRequestHead, ByteBuffer?)
        /// Dispatched, refused or reset: nothing more to read; waiting for HTTP/2 to close it.
        case done
    }

    public enum Action: Equatable {
        case none
        /// A complete request (the message without its prefix): answer it.
        case dispatch(HTTP2StreamID, GRPCRequestHead, ByteBuffer)
        /// Refuse the call; when the client is still sending, also reset its stream with
        /// NO_ERROR, so it stops (RFC 9113 §8.1).
        case refuse(HTTP2StreamID, GRPCRequestHead.Rejection, resetStream: Bool)
    }

    /// What the connection as a whole is to do.
    enum ConnectionAction: Equatable {
        case none
        /// Check for idleness again after this long.
        case checkIdleAgain(in: TimeAmount)
        /// Send GOAWAY naming the last stream opened, then close (no call is open).
        case goAwayAndClose(lastStreamID: HTTP2StreamID)
        /// Send GOAWAY, then close after `closeAfter` unless the open calls end first.
        case goAway(lastStreamID: HTTP2StreamID, closeAfter: TimeAmount)
        /// Close: the last open call of a quiescing connection ended.
        case close
    }

    public let configuration: Configuration
    /// A connection without open streams for this long is closed; nil: never.
    let idleTimeout: TimeAmount?
    /// After GOAWAY, how long open calls may take before the connection is closed.
    let shutdownGrace: TimeAmount
    private(set) var streams: [HTTP2StreamID: StreamState] = [:]
    /// GOAWAY was sent: no new calls; close once the open ones end.
    private(set) var quiescing = false
    /// The highest stream the client opened: GOAWAY's last stream.
    private(set) var lastStreamID = HTTP2StreamID.rootStream
    /// When the last read burst ended.
    private var lastActive = NIODeadline.uptimeNanoseconds(0)
    /// Calls answered later, until their answer (or deadline) is written or the stream closes.
    private var pending: Set<HTTP2StreamID> = []

    public init(
        configuration: Configuration = Configuration(), idleTimeout: TimeAmount? = nil, shutdownGrace: TimeAmount = .seconds(10)
    ) {
        self.configuration = configuration
        self.idleTimeout = idleTimeout
        self.shutdownGrace = shutdownGrace
    }

    /// How many streams are open (for tests and the idle logic).
    public var openStreams: Int { streams.count }

    public mutating func receiveHeaders(
        _ streamID: HTTP2StreamID, _ headers: HPACKHeaders, endStream: Bool, now: NIODeadline
    ) -> Action {
        if streamID > lastStreamID { lastStreamID = streamID }
        if let state = streams[streamID] {
            // Trailers from the client: a unary request may end with them.
            guard case .receiving = state else { return .none }
            guard endStream else { return refuse(streamID, .internalError, "unexpected headers in the request", reset: true) }
            return receiveData(streamID, ByteBuffer(), endStream: true)
        }
        switch GRPCRequestHead.parse(headers, now: now) {
        case .failure(let rejection):
            streams[streamID] = .done
            return .refuse(streamID, rejection, resetStream: !endStream)
        case .success(let head):
            guard !endStream else { return refuse(streamID, .internalError, "the request has no message", reset: false) }
            streams[streamID] = .receiving(head, nil)
            return .none
        }
    }

    public mutating func receiveData(_ streamID: HTTP2StreamID, _ bytes: ByteBuffer, endStream: Bool) -> Action {
        guard case .receiving(let head, var buffer) = streams[streamID] else { return .none }
        streams[streamID] = .done  // while `buffer` is changed below: keeps it uniquely referenced
        if buffer == nil {
            buffer = bytes
        } else {
            var more = bytes
            buffer?.writeBuffer(&more)
        }
        if let refusal = checkPrefix(streamID, buffer, endStream: endStream) { return refusal }
        guard endStream else {
            streams[streamID] = .receiving(head, buffer)
            return .none
        }
        guard let buffer, let length = Self.messageLength(buffer), buffer.readableBytes == 5 + length,
              let message = buffer.getSlice(at: buffer.readerIndex + 5, length: length) else {
            let why = buffer == nil ? "the request has no message" : "the request ended inside its message"
            return refuse(streamID, .internalError, why, reset: false)
        }
        return .dispatch(streamID, head, message)
    }

    /// NIOHTTP2 says how much inbound window is left on the connection (`.rootStream`) or a
    /// stream; returns the credit to give back (WINDOW_UPDATE), once half the window is used.
    /// The connection's counts the DATA of streams already refused or reset too, which never
    /// reach this handler: counting only delivered frames would starve the connection.
    /// `mutating` though it changes nothing: called on the handler's stored machine, a
    /// non-mutating call copied the whole machine, four times per call.
    public mutating func windowUpdated(_ streamID: HTTP2StreamID, inboundWindow: Int) -> Int? {
        guard streamID == .rootStream || isReceiving(streamID), inboundWindow <= configuration.windowSize / 2 else { return nil }
        return configuration.windowSize - inboundWindow
    }

    private func isReceiving(_ streamID: HTTP2StreamID) -> Bool {
        if case .receiving = streams[streamID] { return true }
        return false
    }

    /// The stream closed (answered, reset by either side, or the connection went away); a
    /// quiescing connection closes with its last call.
    @discardableResult
    mutating func streamClosed(_ streamID: HTTP2StreamID) -> ConnectionAction {
        streams.removeValue(forKey: streamID)
        if !pending.isEmpty { pending.remove(streamID) }
        return quiescing && streams.isEmpty ? .close : .none
    }

    // MARK: the connection

    /// The channel became active at `now`: the delay of the first idle check, if any.
    mutating func channelActive(now: NIODeadline) -> TimeAmount? {
        lastActive = now
        return idleTimeout
    }

    /// A read burst ended at `now`.
    mutating func readComplete(now: NIODeadline) {
        lastActive = now
    }

    /// The idle timer fired at `now`: a connection with no open call that read nothing for
    /// `idleTimeout` quiesces; otherwise check again when it could be idle.
    mutating func idleCheck(now: NIODeadline) -> ConnectionAction {
        guard let idleTimeout, !quiescing else { return .none }
        let quiet = now - lastActive
        if quiet >= idleTimeout, streams.isEmpty { return quiesce() }
        return .checkIdleAgain(in: max(idleTimeout - quiet, .milliseconds(1)))
    }

    /// Shutdown began (or the connection is idle): GOAWAY, no new calls.
    mutating func quiesce() -> ConnectionAction {
        guard !quiescing else { return .none }
        quiescing = true
        guard streams.isEmpty else { return .goAway(lastStreamID: lastStreamID, closeAfter: shutdownGrace) }
        return .goAwayAndClose(lastStreamID: lastStreamID)
    }

    /// The call on `streamID` is answered later.
    mutating func answerLater(_ streamID: HTTP2StreamID) {
        pending.insert(streamID)
    }

    /// A later answer (or its deadline) came: true when it is still to be written (once, and
    /// not after its stream closed).
    mutating func finish(_ streamID: HTTP2StreamID) -> Bool {
        pending.remove(streamID) != nil
    }

    /// The refusal the message prefix calls for, if any.
    private mutating func checkPrefix(_ streamID: HTTP2StreamID, _ buffer: ByteBuffer?, endStream: Bool) -> Action? {
        guard let buffer, let flag = buffer.getInteger(at: buffer.readerIndex, as: UInt8.self),
              let length = Self.messageLength(buffer) else { return nil }
        switch flag {
        case 0: break
        case 1: return refuse(streamID, .internalError, "compressed message without a grpc-encoding", reset: !endStream)
        default: return refuse(streamID, .internalError, "invalid message flag \(flag)", reset: !endStream)
        }
        if length > configuration.maxMessageBytes {
            let message = "message larger than the maximum (\(length) vs. \(configuration.maxMessageBytes) bytes)"
            return refuse(streamID, .resourceExhausted, message, reset: !endStream)
        }
        if buffer.readableBytes > 5 + length {
            return refuse(streamID, .internalError, "a unary call takes exactly one message", reset: !endStream)
        }
        return nil
    }

    private mutating func refuse(_ streamID: HTTP2StreamID, _ code: GRPCStatusCode, _ message: String, reset: Bool) -> Action {
        streams[streamID] = .done
        return .refuse(streamID, .status(GRPCStatus(code, message)), resetStream: reset)
    }

    /// The length in a complete 5-byte prefix.
    static func messageLength(_ buffer: ByteBuffer) -> Int? {
        buffer.getInteger(at: buffer.readerIndex + 1, as: UInt32.self).map { Int($0) }
    }
}
