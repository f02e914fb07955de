public import NIOCore
public import NIOHPACK
public import NIOHTTP2

/// The unary calls on one HTTP/2 connection, as a value: frames in, what to do out. It checks
/// each call's headers, gathers its one length-prefixed message (refusing compressed, oversized,
/// extra or missing ones) and gives back inbound flow-control credit, which NIOHTTP2 leaves to
/// its user when no stream multiplexer sits above it.
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

    public let configuration: Configuration
    private(set) var streams: [HTTP2StreamID: StreamState] = [:]

    public init(configuration: Configuration = Configuration()) {
        self.configuration = configuration
    }

    /// How many streams are open (for tests and the idle logic).
    public var openStreams: Int { streams.count }

    public mutating func receiveHeaders(
        _ streamID: HTTP2StreamID, _ headers: HPACKHeaders, endStream: Bool, now: NIODeadline
    ) -> Action {
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
    public func windowUpdated(_ streamID: HTTP2StreamID, inboundWindow: Int) -> Int? {
        guard streamID == .rootStream || isReceiving(streamID), inboundWindow <= configuration.windowSize / 2 else { return nil }
        return configuration.windowSize - inboundWindow
    }

    private func isReceiving(_ streamID: HTTP2StreamID) -> Bool {
        if case .receiving = streams[streamID] { return true }
        return false
    }

    /// The stream closed (answered, reset by either side, or the connection went away).
    public mutating func streamClosed(_ streamID: HTTP2StreamID) {
        streams.removeValue(forKey: streamID)
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
