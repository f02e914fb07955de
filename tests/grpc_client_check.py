#!/usr/bin/env python3
"""An independent client for Sluice's gRPC socket: Python grpcio (C-core) for the calls, and the
pure-Python h2 library for the protocol edges grpcio cannot produce (a non-gRPC content-type, a
compressed flag without an encoding, an expired grpc-timeout, SETTINGS, PING, GOAWAY).

    python3 tests/grpc_client_check.py SOCKET [--pid PID]

SOCKET must serve the rules of Tests/RateLimitGRPCTests/GRPCFixture.swift (grpcRulesYAML) on a
fresh memory store. With --pid, the last check sends SIGTERM to PID mid-call and expects GOAWAY
with the call still answered. Prints "N passed, 0 failed" and exits 0, or names each failure.
"""
import os
import signal
import socket
import struct
import sys
import time

import grpc
import h2.config
import h2.connection
import h2.events
import h2.settings
from envoy.service.ratelimit.v3 import rls_pb2
from google.protobuf import descriptor_pb2, descriptor_pool, message_factory

CHECK = "/sluice.v1.RateLimiter/CheckLimit"
BATCH = "/sluice.v1.RateLimiter/CheckBatch"
STATUS = "/sluice.v1.RateLimiter/GetStatus"
RLS = "/envoy.service.ratelimit.v3.RateLimitService/ShouldRateLimit"


def sluice_messages():
    """sluice.v1's messages (Protos/sluice/v1/ratelimit.proto), described by hand: no protoc."""
    f = descriptor_pb2.FileDescriptorProto(name="sluice/v1/ratelimit.proto", package="sluice.v1", syntax="proto3")
    T = descriptor_pb2.FieldDescriptorProto
    def message(name, *fields):
        m = f.message_type.add(name=name)
        for number, (fname, ftype, extra) in enumerate(fields, start=1):
            field = m.field.add(name=fname, number=number, type=ftype, label=T.LABEL_OPTIONAL, json_name=fname)
            if extra.get("repeated"):
                field.label = T.LABEL_REPEATED
            if "type_name" in extra:
                field.type_name = extra["type_name"]
            if extra.get("optional"):
                m.oneof_decl.add(name="_" + fname)
                field.oneof_index = len(m.oneof_decl) - 1
                field.proto3_optional = True
    message("CheckLimitRequest", ("rule", T.TYPE_STRING, {}), ("key", T.TYPE_STRING, {}),
            ("cost", T.TYPE_INT64, {"optional": True}))
    message("Decision", ("allowed", T.TYPE_BOOL, {}), ("limit", T.TYPE_INT64, {}), ("period_ns", T.TYPE_INT64, {}),
            ("remaining", T.TYPE_INT64, {}), ("reset_after_ns", T.TYPE_INT64, {}), ("retry_after_ns", T.TYPE_INT64, {}),
            ("delay_ns", T.TYPE_INT64, {}), ("shadow_denied", T.TYPE_BOOL, {}))
    message("CheckLimitResponse", ("decision", T.TYPE_MESSAGE, {"type_name": ".sluice.v1.Decision"}))
    message("CheckBatchRequest", ("checks", T.TYPE_MESSAGE, {"type_name": ".sluice.v1.CheckLimitRequest", "repeated": True}))
    message("CheckBatchResponse", ("allowed", T.TYPE_BOOL, {}),
            ("decisions", T.TYPE_MESSAGE, {"type_name": ".sluice.v1.Decision", "repeated": True}))
    message("GetStatusRequest", ("rule", T.TYPE_STRING, {}), ("key", T.TYPE_STRING, {}))
    message("GetStatusResponse", ("decision", T.TYPE_MESSAGE, {"type_name": ".sluice.v1.Decision"}))
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return {m.name: message_factory.GetMessageClass(pool.FindMessageTypeByName("sluice.v1." + m.name)) for m in f.message_type}


M = sluice_messages()
results = {"passed": 0, "failed": 0}


def check(name, condition, detail=""):
    if condition:
        results["passed"] += 1
    else:
        results["failed"] += 1
        print(f"FAIL {name} {detail}")


def call(channel, path, request, response_type, **kwargs):
    stub = channel.unary_unary(path, request_serializer=lambda m: m.SerializeToString(),
                               response_deserializer=response_type.FromString)
    return stub(request, timeout=kwargs.pop("timeout", 5), **kwargs)


def status_of(fn):
    """The status code and details of a call expected to fail."""
    try:
        fn()
    except grpc.RpcError as error:
        return error.code(), error.details()
    return grpc.StatusCode.OK, ""


def grpcio_checks(path):
    with grpc.insecure_channel("unix:" + path) as channel:
        req = M["CheckLimitRequest"](rule="per-ip", key="py-1")
        first = call(channel, CHECK, req, M["CheckLimitResponse"]).decision
        check("first check", first.allowed and first.remaining == 1 and first.limit == 2 and first.period_ns == 60_000_000_000, first)
        call(channel, CHECK, req, M["CheckLimitResponse"])
        third = call(channel, CHECK, req, M["CheckLimitResponse"]).decision
        check("third check denied", not third.allowed and 29_000_000_000 < third.retry_after_ns <= 30_000_000_000, third)
        status = call(channel, STATUS, M["GetStatusRequest"](rule="per-ip", key="py-1"), M["GetStatusResponse"]).decision
        check("status (cost 0)", status.allowed and status.remaining == 0, status)
        peek = call(channel, CHECK, M["CheckLimitRequest"](rule="per-ip", key="py-2", cost=0), M["CheckLimitResponse"]).decision
        check("cost 0 peeks", peek.allowed and peek.remaining == 2, peek)
        batch = M["CheckBatchRequest"](checks=[M["CheckLimitRequest"](rule="per-ip", key="py-3"),
                                              M["CheckLimitRequest"](rule="login", key="py-3")])
        answer = call(channel, BATCH, batch, M["CheckBatchResponse"])
        check("batch", answer.allowed and len(answer.decisions) == 2 and answer.decisions[1].remaining == 0, answer)

        code, details = status_of(lambda: call(channel, CHECK, M["CheckLimitRequest"](rule="nö", key="k"), M["CheckLimitResponse"]))
        check("unknown rule", code == grpc.StatusCode.NOT_FOUND and "nö" in details, (code, details))
        code, _ = status_of(lambda: call(channel, CHECK, M["CheckLimitRequest"](rule="per-ip", key=""), M["CheckLimitResponse"]))
        check("empty key", code == grpc.StatusCode.INVALID_ARGUMENT, code)

        rls = rls_pb2.RateLimitRequest(domain="edge")
        d = rls.descriptors.add()
        d.entries.add(key="remote_address", value="203.0.113.5")
        rls.descriptors.add().entries.add(key="x", value="y")
        answers = [call(channel, RLS, rls, rls_pb2.RateLimitResponse) for _ in range(3)]
        codes = [a.overall_code for a in answers]
        R = rls_pb2.RateLimitResponse
        check("rls codes", codes == [R.OK, R.OK, R.OVER_LIMIT], codes)
        s = answers[0].statuses[0]
        check("rls status", s.current_limit.name == "per-ip" and s.current_limit.unit == 2 and s.limit_remaining == 1
              and s.duration_until_reset.seconds == 30, s)  # unit 2: MINUTE
        check("rls unmatched", answers[0].statuses[1].code == R.OK and not answers[0].statuses[1].HasField("current_limit"))
        code, details = status_of(lambda: call(channel, RLS, rls_pb2.RateLimitRequest(), R))
        check("rls empty domain", code == grpc.StatusCode.INVALID_ARGUMENT and "domain" in details, (code, details))

        code, _ = status_of(lambda: call(channel, "/sluice.v1.RateLimiter/Nope", req, M["CheckLimitResponse"]))
        check("unknown method", code == grpc.StatusCode.UNIMPLEMENTED, code)
        code, _ = status_of(lambda: call(channel, "/no.Such/Service", req, M["CheckLimitResponse"]))
        check("unknown service", code == grpc.StatusCode.UNIMPLEMENTED, code)
        code, details = status_of(lambda: call(channel, CHECK, req, M["CheckLimitResponse"], compression=grpc.Compression.Gzip))
        check("gzip", code == grpc.StatusCode.UNIMPLEMENTED and "gzip" in details, (code, details))
        big = M["CheckLimitRequest"](rule="per-ip", key="k" * (4 * 1024 * 1024 + 1))
        code, _ = status_of(lambda: call(channel, CHECK, big, M["CheckLimitResponse"]))
        check("oversized", code == grpc.StatusCode.RESOURCE_EXHAUSTED, code)
        # The connection still serves after all of that.
        check("still serving", call(channel, STATUS, M["GetStatusRequest"](rule="per-ip", key="py-9"), M["GetStatusResponse"]).decision.allowed)


class RawConnection:
    """One HTTP/2 connection driven by hand, for what a gRPC library will not send."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(5)
        self.sock.connect(path)
        self.conn = h2.connection.H2Connection(h2.config.H2Configuration(client_side=True, header_encoding="utf-8"))
        self.conn.initiate_connection()
        self.flush()
        self.events = []
        self.remote_settings = {}

    def flush(self):
        data = self.conn.data_to_send()
        if data:
            self.sock.sendall(data)

    def read(self, until, timeout=5):
        end = time.time() + timeout
        while time.time() < end:
            found = [e for e in self.events if until(e)]
            if found:
                return found[0]
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                break
            if not data:
                self.events.append("closed")
                continue
            for event in self.conn.receive_data(data):
                if isinstance(event, h2.events.RemoteSettingsChanged):
                    self.remote_settings.update({k: v.new_value for k, v in event.changed_settings.items()})
                self.events.append(event)
            self.flush()
        return None

    def start(self, path=CHECK, content_type="application/grpc", extra=()):
        stream = self.conn.get_next_available_stream_id()
        headers = [(":method", "POST"), (":scheme", "http"), (":path", path), (":authority", "localhost"),
                   ("content-type", content_type), ("te", "trailers"), *extra]
        self.conn.send_headers(stream, headers)
        self.flush()
        return stream

    def send(self, stream, message, flag=0):
        self.conn.send_data(stream, struct.pack(">BI", flag, len(message)) + message, end_stream=True)
        self.flush()

    def ended(self, stream):
        """The headers of the response's end (trailers or trailers-only) as a dict."""
        end = self.read(lambda e: isinstance(e, h2.events.StreamEnded) and e.stream_id == stream)
        if end is None:
            return {}
        out = {}
        for e in self.events:
            if isinstance(e, (h2.events.ResponseReceived, h2.events.TrailersReceived)) and e.stream_id == stream:
                out.update(dict(e.headers))
        return out


def raw_checks(path):
    req = M["CheckLimitRequest"](rule="per-ip", key="raw").SerializeToString()
    raw = RawConnection(path)
    raw.read(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
    check("max concurrent streams", raw.remote_settings.get(h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS) == 100,
          raw.remote_settings)
    raw.conn.ping(b"sluice!!")
    raw.flush()
    check("ping answered", raw.read(lambda e: isinstance(e, h2.events.PingAckReceived)) is not None)

    stream = raw.start(content_type="application/json")
    raw.send(stream, req)
    headers = raw.ended(stream)
    check("415", headers.get(":status") == "415", headers)

    stream = raw.start()
    raw.send(stream, req, flag=1)
    headers = raw.ended(stream)
    check("compressed flag", headers.get("grpc-status") == "13" and "compressed" in headers.get("grpc-message", ""), headers)

    stream = raw.start(extra=[("grpc-timeout", "1n")])
    raw.send(stream, req)
    headers = raw.ended(stream)
    check("grpc-timeout", headers.get("grpc-status") == "4", headers)

    stream = raw.start()
    raw.send(stream, M["CheckLimitRequest"](rule="n\u00f6", key="k").SerializeToString())
    headers = raw.ended(stream)
    check("percent-encoded message", headers.get("grpc-status") == "5" and "%C3%B6" in headers.get("grpc-message", ""), headers)

    stream = raw.start()
    raw.send(stream, req)
    headers = raw.ended(stream)
    check("raw call", headers.get(":status") == "200" and headers.get("grpc-status") == "0", headers)


def shutdown_check(path, pid):
    """SIGTERM mid-call: GOAWAY arrives, the call in flight is still answered, then the close.
    h2 refuses to go on after a GOAWAY, so from the signal on, frames are read and written by
    hand (NIO's GOAWAY comes with a PING, which is acknowledged)."""
    raw = RawConnection(path)
    stream = raw.start()
    raw.read(lambda e: isinstance(e, h2.events.RemoteSettingsChanged))
    # The server reads frames in order: once it acknowledges a PING sent after the call's
    # HEADERS, the call is open on its side, and the SIGTERM finds it in flight (not a race).
    raw.conn.ping(b"inflight")
    raw.flush()
    check("the call is open before the signal", raw.read(lambda e: isinstance(e, h2.events.PingAckReceived)) is not None)
    os.kill(pid, signal.SIGTERM)

    def frame(kind, flags, stream_id, payload):
        return struct.pack(">I", len(payload))[1:] + bytes([kind, flags]) + struct.pack(">I", stream_id) + payload

    data, closed, goaway, sent, headers = b"", False, False, False, {}
    end = time.time() + 10
    while not closed and time.time() < end:
        try:
            chunk = raw.sock.recv(65536)
        except socket.timeout:
            break
        closed = not chunk
        data += chunk
        while len(data) >= 9 and len(data) >= 9 + int.from_bytes(data[:3], "big"):
            length = int.from_bytes(data[:3], "big")
            kind, flags, sid = data[3], data[4], int.from_bytes(data[5:9], "big") & 0x7FFFFFFF
            payload, data = data[9:9 + length], data[9 + length:]
            if kind == 7:  # GOAWAY
                goaway = True
            elif kind == 6 and not flags & 1:  # PING
                raw.sock.sendall(frame(6, 1, 0, payload))
            elif kind == 1 and sid == stream:  # HEADERS (NIO sends neither padding nor priority)
                headers.update((k.decode(), v.decode()) for k, v in raw.conn.decoder.decode(payload, raw=True))
        if goaway and not sent:
            message = M["CheckLimitRequest"](rule="per-ip", key="last").SerializeToString()
            raw.sock.sendall(frame(0, 1, stream, struct.pack(">BI", 0, len(message)) + message))
            sent = True
    check("goaway", goaway)
    check("in-flight call finishes", headers.get("grpc-status") == "0", headers)
    check("closed after the call", closed)


def main():
    path = sys.argv[1]
    grpcio_checks(path)
    raw_checks(path)
    if "--pid" in sys.argv:
        shutdown_check(path, int(sys.argv[sys.argv.index("--pid") + 1]))
    print(f"{results['passed']} passed, {results['failed']} failed")
    sys.exit(1 if results["failed"] else 0)


if __name__ == "__main__":
    main()
