#!/usr/bin/env python3
"""Calling Sluice over its Unix socket with the Python standard library (3.8+).

    python3 examples/clients/client.py [SOCKET]      (default /tmp/sluice.sock)

One keep-alive connection per Sluice object; not thread-safe (use one per thread).
"""
import http.client
import json
import socket
import sys
import time
from urllib.parse import urlencode


class SluiceError(Exception):
    """A request Sluice refused (400, 404, ...) or could not be reached."""


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, socket_path, timeout):
        super().__init__("sluice", timeout=timeout)  # the host name is not used for routing
        self.socket_path = socket_path

    def connect(self):
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.socket_path)
        self.sock = sock


class Sluice:
    def __init__(self, socket_path="/tmp/sluice.sock", timeout=0.5):
        self._conn = _UnixHTTPConnection(socket_path, timeout)

    def _request(self, method, path, body=None):
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        for attempt in (1, 2):  # Sluice closes idle connections (60 s): reconnect once
            try:
                self._conn.request(method, path, body=payload, headers=headers)
                response = self._conn.getresponse()
                data = json.loads(response.read() or b"{}")
                return response.status, dict(response.getheaders()), data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self._conn.close()
                if attempt == 2:
                    raise
            except (OSError, http.client.HTTPException):
                self._conn.close()
                raise

    def _decision(self, status, data):
        if status in (200, 429):
            return data  # {"allowed", "limit", "remaining", "reset_after_ms", "retry_after_ms", "delay_ms"}
        raise SluiceError(f"{status}: {data.get('error')}")

    def check(self, rule, key, cost=1):
        """Decide and consume. Returns the decision dict (200 allowed / 429 denied)."""
        status, _, data = self._request("POST", "/v1/check", {"rule": rule, "key": key, "cost": cost})
        return self._decision(status, data)

    def check_all(self, checks):
        """checks: [(rule, key, cost), ...]; all or nothing. Returns {"allowed", "results": [...]}."""
        body = {"checks": [{"rule": r, "key": k, "cost": c} for r, k, c in checks]}
        status, _, data = self._request("POST", "/v1/check", body)
        return self._decision(status, data)

    def status(self, rule, key, cost=1):
        """The answer check() would give, consuming nothing."""
        query = urlencode({"rule": rule, "key": key, "cost": cost})
        status, _, data = self._request("GET", "/v1/status?" + query)
        return self._decision(status, data)

    def report(self, rule, key, cost, id=None):
        """Records usage that already happened (e.g. the tokens a call really used); negative
        refunds. `id` makes a retry count once. Returns {"remaining", "debt", "duplicate", ...}."""
        body = {"rule": rule, "key": key, "cost": cost}
        if id is not None:
            body["id"] = id
        status, _, data = self._request("POST", "/v1/report", body)
        if status != 200:
            raise SluiceError(f"{status}: {data.get('error')}")
        return data

    def reset(self, rule, key):
        status, _, data = self._request("POST", "/v1/reset", {"rule": rule, "key": key})
        if status != 200:
            raise SluiceError(f"{status}: {data.get('error')}")

    def close(self):
        self._conn.close()


def allow(sluice, rule, key, cost=1, fail_open=True):
    """Typical call site: True to proceed. Waits out a leaky bucket's delay. When Sluice
    cannot be reached, fail_open decides (True: let the request through)."""
    try:
        d = sluice.check(rule, key, cost)
    except OSError:
        return fail_open
    if d["allowed"] and d["delay_ms"] > 0:
        time.sleep(d["delay_ms"] / 1000)
    return d["allowed"]


if __name__ == "__main__":
    s = Sluice(sys.argv[1] if len(sys.argv) > 1 else "/tmp/sluice.sock")
    for i in range(6):  # the default "login" rule: 5 per minute
        d = s.check("login", "alice")
        print(i + 1, "allowed" if d["allowed"] else f"denied, retry in {d['retry_after_ms']} ms", d)
    print("status:", s.status("login", "alice", cost=0))
    print("batch:", s.check_all([("default", "user-7", 1), ("login", "user-7", 2)]))
    try:
        s.check("login", "alice", cost=6)  # more than the rule can ever grant
    except SluiceError as e:
        print("error:", e)
    s.reset("login", "alice")
    print("after reset:", allow(s, "login", "alice"))
    s.close()
