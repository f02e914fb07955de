#!/usr/bin/env python3
"""Holds the Redis Lua scripts of Sources/RateLimitRedis/LuaScripts.swift against Algorithms.swift.

  lua_check.py [--seeds N] [--steps N] [--swift PATH]

Starts its own redis-server on a temporary Unix socket, reassembles the scripts from the Swift
file (exactly the concatenations it declares; fails if a declaration is not understood), loads
them with SCRIPT LOAD and runs seeded random traces with EVALSHA, comparing every returned number,
every stored state and every TTL with a Python port of Algorithms.swift and MemoryStore in µs
(exact integers; times that pass 2^53-1 µs are clamped to it, as the scripts document). States and
arguments are also placed on both sides of, and exactly on, the scripts' fast-path guards (where
plain Lua numbers give way to bignums), and the run fails unless every side was exercised. Also
checks that commit=0, peeks and denials write nothing, that written keys get a TTL and vanish after
it, that EVAL and EVALSHA agree, and that bad arguments are rejected.

Prints `lua_check: N steps, all equal` and exits 0, or prints the first mismatch (seed, step,
inputs, expected, got) and exits 1. Standard library only.
"""
import argparse
import hashlib
import os
import random
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from typing import NamedTuple

HERE = os.path.dirname(os.path.abspath(__file__))
SWIFT = os.path.join(HERE, "..", "..", "Sources", "RateLimitRedis", "LuaScripts.swift")
SCRIPTS = ["tokenBucket", "slidingWindow", "fixedWindow", "leakyBucket", "batch", "multi", "report"]

MAX = 2**53 - 1  # the scripts' clamp for times (the Swift clamps to Int64.max ns)
MAX_LIMIT = 10**9
MIN_PERIOD = 1000  # µs
MAX_PERIOD = 366 * 86_400 * 10**6  # µs
TOKEN, SLIDING, FIXED, LEAKY = 1, 2, 3, 4
SINGLE_SCRIPT = {TOKEN: "tokenBucket", SLIDING: "slidingWindow", FIXED: "fixedWindow", LEAKY: "leakyBucket"}


class CheckFailure(Exception):
    pass


# ---- the scripts, reassembled from LuaScripts.swift --------------------------------------------

def load_scripts(path):
    """Parses the Swift enum: raw fragments and concatenations. Anything else is an error."""
    lines = open(path, encoding="utf-8").read().split("\n")
    decl = re.compile(r"^\s*static let (\w+)(?:\s*:\s*String)?\s*=\s*(.*?)\s*$")
    fragments, concats = {}, {}
    i = 0
    while i < len(lines):
        line, stripped = lines[i], lines[i].strip()
        i += 1
        if stripped == "" or stripped.startswith("//") or stripped in ("enum LuaScripts {", "}"):
            continue
        m = decl.match(line)
        if not m:
            raise CheckFailure(f"{path}:{i}: not a declaration lua_check.py understands: {stripped}")
        name, rest = m.groups()
        if name in fragments or name in concats:
            raise CheckFailure(f"{path}:{i}: {name} declared twice")
        if rest == '#"""':
            body = []
            while i < len(lines) and not re.match(r'^\s*"""#\s*$', lines[i]):
                body.append(lines[i])
                i += 1
            if i == len(lines):
                raise CheckFailure(f"{path}: fragment {name} is not closed")
            indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
            i += 1
            for n, text in enumerate(body):
                if text and not text.startswith(indent):
                    raise CheckFailure(f"{path}: fragment {name} line {n + 1} is indented less than its closing \"\"\"#")
            text = "\n".join(t[len(indent):] for t in body)
            if "\\#" in text:
                raise CheckFailure(f"{path}: fragment {name} contains \\# (an escape in a Swift raw string)")
            if not text.endswith("\n"):
                raise CheckFailure(f"{path}: fragment {name} must end with an empty line (fragments join on newlines)")
            fragments[name] = text
            continue
        expr = rest
        while i < len(lines) and lines[i].strip().startswith("+"):
            expr += " " + lines[i].strip()
            i += 1
        if not re.fullmatch(r"\w+(\s*\+\s*\w+)*", expr):
            raise CheckFailure(f"{path}:{i}: {name} must be a concatenation of fragment names, got {expr}")
        concats[name] = [part.strip() for part in expr.split("+")]
    scripts, used = {}, set()
    for name in SCRIPTS:
        if name not in concats:
            raise CheckFailure(f"{path}: no `static let {name}: String = ...` concatenation")
        parts = []
        for part in concats[name]:
            if part not in fragments:
                raise CheckFailure(f"{path}: {name} uses {part}, which is not a raw fragment")
            used.add(part)
            parts.append(fragments[part])
        scripts[name] = "".join(parts)
    unused = set(fragments) - used
    extra = set(concats) - set(SCRIPTS)
    if unused or extra:
        raise CheckFailure(f"{path}: unused fragments {sorted(unused)} / unknown scripts {sorted(extra)}")
    return scripts


# ---- a small RESP client ---------------------------------------------------------------------------

class RedisError(Exception):
    pass


def encode(args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        b = a if isinstance(a, bytes) else str(a).encode()
        out.append(b"$%d\r\n%s\r\n" % (len(b), b))
    return b"".join(out)


class Conn:
    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(30)
        self.sock.connect(path)
        self.rf = self.sock.makefile("rb")

    def close(self):
        self.rf.close()
        self.sock.close()

    def read(self):
        line = self.rf.readline()
        if not line.endswith(b"\r\n"):
            raise ConnectionError("redis closed the connection")
        kind, body = line[:1], line[1:-2]
        if kind == b"+":
            return body.decode()
        if kind == b"-":
            return RedisError(body.decode())
        if kind == b":":
            return int(body)
        if kind == b"$":
            n = int(body)
            # latin-1: byte for byte, as the stored states are binary (the other replies are ASCII)
            return None if n < 0 else self.rf.read(n + 2)[:-2].decode("latin-1")
        if kind == b"*":
            n = int(body)
            return None if n < 0 else [self.read() for _ in range(n)]
        raise ConnectionError(f"unexpected RESP {line!r}")

    def pipeline(self, commands):
        """Replies in order; an error reply is returned as a RedisError, not raised."""
        self.sock.sendall(b"".join(encode(c) for c in commands))
        return [self.read() for _ in commands]

    def call(self, *args):
        reply = self.pipeline([args])[0]
        if isinstance(reply, RedisError):
            raise reply
        return reply

    def dirty(self):
        return int(re.search(r"rdb_changes_since_last_save:(\d+)", self.call("INFO", "persistence")).group(1))


def start_redis(tmp):
    path = os.path.join(tmp, "redis.sock")
    log = os.path.join(tmp, "redis.log")
    proc = subprocess.Popen(
        ["redis-server", "--port", "0", "--unixsocket", path, "--unixsocketperm", "700", "--save", "",
         "--appendonly", "no", "--dir", tmp, "--logfile", log],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            break
        try:
            conn = Conn(path)
            if conn.call("PING") == "PONG":
                return proc, conn
            conn.close()
        except (OSError, ConnectionError):
            time.sleep(0.02)
    stop_redis(proc)
    tail = open(log).read()[-2000:] if os.path.exists(log) else ""
    raise CheckFailure("redis-server did not answer PING on its socket\n" + tail)


def stop_redis(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---- the reference: Algorithms.swift and MemoryStore in µs, with Python's exact integers ------------

class Limits(NamedTuple):
    code: int
    limit: int
    period: int  # µs
    burst: int

    @property
    def capacity(self):
        if self.code == TOKEN:
            return self.burst
        if self.code == LEAKY:
            return max(self.burst, 1)
        return self.limit


class Decision(NamedTuple):
    allowed: int
    remaining: int
    reset_after: int
    retry_after: int = 0
    delay: int = 0


def wide_floor_div(a, b):  # Wide.floorDiv, clamped to MAX instead of Int64.max
    return 0 if a <= 0 else min(a // b, MAX)


def wide_ceil_div(a, b):  # Wide.ceilDiv, clamped to MAX instead of Int64.max
    return 0 if a <= 0 else min(-(-a // b), MAX)


def token_bucket(state, now, cost, L):
    scale, interval = L.limit, L.period
    now_scaled = now * scale
    tat = max(now_scaled if state is None else state, now_scaled)
    horizon = now_scaled + L.burst * interval
    new_tat = tat + cost * interval
    if new_tat <= horizon:
        return (Decision(1, wide_floor_div(horizon - new_tat, L.period), wide_ceil_div(new_tat - now_scaled, scale)),
                new_tat)
    return Decision(0, wide_floor_div(horizon - tat, L.period), wide_ceil_div(tat - now_scaled, scale),
                    wide_ceil_div(new_tat - horizon, scale)), tat


def leaky_bucket(state, now, cost, L):
    scale, interval = L.limit, L.period
    now_scaled = now * scale
    tat = max(now_scaled if state is None else state, now_scaled)
    wait = tat - now_scaled
    tolerance = L.burst * interval

    def room(end):
        used = end - now_scaled
        return wide_floor_div(tolerance - used, L.period) + 1 if used <= tolerance else 0

    if cost == 0:
        return Decision(1, room(tat), wide_ceil_div(wait, scale)), tat
    if wait <= tolerance:
        new_tat = tat + cost * interval
        return (Decision(1, room(new_tat), wide_ceil_div(new_tat - now_scaled, scale), 0, wide_ceil_div(wait, scale)),
                new_tat)
    return Decision(0, 0, wide_ceil_div(wait, scale), wide_ceil_div(wait - tolerance, scale)), tat


def fixed_window(state, now, cost, L):
    window = now // L.period
    count = (state[1] if state[0] == window else 0) if state is not None else 0
    window_end = (window + 1) * L.period - now
    used = count + cost
    if used <= L.limit:
        return Decision(1, L.limit - used, window_end if used > 0 else 0), (window, used)
    return Decision(0, max(L.limit - count, 0), window_end, window_end), (window, count)


def sliding_window(state, now, cost, L):
    period = L.period
    window = now // period
    elapsed = now - window * period
    current = previous = 0
    if state is not None:
        high, low = state
        if high == window:
            current, previous = low >> 32, low & 0xFFFF_FFFF
        elif high == window - 1:
            previous = low >> 32
    budget = L.limit * period
    carried = previous * (period - elapsed)

    def remaining(c):
        return wide_floor_div(budget - carried - c * period, period)

    def reset_after(c):
        if c > 0:
            return 2 * period - elapsed
        return period - elapsed if previous > 0 else 0

    used = current + cost
    if carried + used * period <= budget:
        return Decision(1, remaining(used), reset_after(used)), (window, used << 32 | previous)
    return (Decision(0, remaining(current), reset_after(current),
                     sliding_retry_after(current, previous, elapsed, cost, L)),
            (window, current << 32 | previous))


def sliding_retry_after(current, previous, elapsed, cost, L):
    period = L.period
    spare = L.limit - current - cost
    if spare >= 0 and previous > 0:
        needed = period - wide_floor_div(spare * period, previous)
        if needed < period:
            return needed - elapsed
    to_next = period - elapsed
    if current == 0:
        return to_next
    needed = period - wide_floor_div((L.limit - cost) * period, current)
    return to_next + max(needed, 0)


STEP = {TOKEN: token_bucket, SLIDING: sliding_window, FIXED: fixed_window, LEAKY: leaky_bucket}


def is_idle(state, now, L):  # Algorithms.isIdle
    if L.code in (TOKEN, LEAKY):
        return state <= now * L.limit
    if L.code == FIXED:
        return state[0] < now // L.period
    return state[0] < now // L.period - 1


def idle_after(state, now, L):
    """The smallest t >= 0 with isIdle(state, now + t): how long a written key must live."""
    if L.code in (TOKEN, LEAKY):
        t = -(-(state - now * L.limit) // L.limit)
    else:
        t = (state[0] + (1 if L.code == FIXED else 2)) * L.period - now
    t = max(t, 0)
    assert is_idle(state, now + t, L) and (t == 0 or not is_idle(state, now + t - 1, L))
    return t


STATE = struct.Struct("<BIdIddd")  # the scripts' stored value (LuaScripts.swift, "state storage")
SPLIT = 2**53  # the buckets' a = hi·2^53 + lo


def state_fields(L, state):
    """The three numbers x, y, z the scripts store for a state of the reference."""
    if L.code in (TOKEN, LEAKY):  # the TAT in units of 1/limit µs = a·limit + b
        a, b = divmod(state, L.limit)
        return a // SPLIT, a % SPLIT, b
    if L.code == FIXED:
        return state[0], state[1], 0
    return state[0], state[1] >> 32, state[1] & 0xFFFF_FFFF


def stored_value(L, state):
    """The documented storage format: struct.pack('<BI4dI4ddd', code, limit, period_us, burst, x, y, z),
    every field an exact integer below 2^53 (as latin-1 text, as Conn reads bulk strings)."""
    fields = (L.code, L.limit, L.period, L.burst) + state_fields(L, state)
    if not all(0 <= f < 2**53 for f in fields):
        raise CheckFailure(f"{L}: state {state} has a field that a double does not hold exactly: {fields}")
    return STATE.pack(*fields).decode("latin-1")


def describe_value(value):
    """A stored value for a failure message: its fields when it has the state layout."""
    if isinstance(value, str) and len(value) == STATE.size:
        return "fields " + str(tuple(int(f) for f in STATE.unpack(value.encode("latin-1"))))
    return repr(value)


class Reference:
    """MemoryStore.decide / decideBatch over {key: (limits, state)}; a state stored under other
    limits reads as a new key (as the scripts do, and as MemoryStore drops a changed rule's keys)."""

    def __init__(self):
        self.stored = {}

    @staticmethod
    def state(entry, L):
        return entry[1] if entry is not None and entry[0] == L else None

    def single(self, key, L, cost, commit, now):
        d, nxt = STEP[L.code](self.state(self.stored.get(key), L), now, cost, L)
        written = {key: (L, nxt)} if commit and d.allowed and cost > 0 else {}
        self.stored.update(written)
        return d, written

    def batch(self, items, commit, now):
        pending, decisions, all_ok = {}, [], True
        for key, L, cost, shadow in items:
            entry = pending[key] if key in pending else self.stored.get(key)
            d, nxt = STEP[L.code](self.state(entry, L), now, cost, L)
            all_ok = all_ok and (d.allowed or shadow)
            if d.allowed and cost > 0:
                pending[key] = (L, nxt)
            decisions.append(d)
        if all_ok:
            written = pending if commit else {}
            self.stored.update(written)
            return True, decisions, written
        # Denied: each item's own verdict, with remaining and reset_after of the unchanged state
        # (what cost 0 reports), retry_after 0 when allowed, and no delay (issue 15).
        own = []
        for key, L, cost, _ in items:
            state = self.state(self.stored.get(key), L)
            d = STEP[L.code](state, now, cost, L)[0]
            peek = STEP[L.code](state, now, 0, L)[0]
            own.append(d._replace(remaining=peek.remaining, reset_after=peek.reset_after,
                                  retry_after=0 if d.allowed else d.retry_after, delay=0))
        return False, own, {}


# ---- reports: Algorithms.report ------------------------------------------------------------------

def adjusted(count, cost, ceiling):
    return min(count + cost, max(count, ceiling)) if cost >= 0 else max(count + cost, 0)


def report(state, now, cost, L):
    """Algorithms.report: (remaining, reset_after, retry_after, debt) and the state to keep (None:
    a new key's). Debt is capped at one capacity."""
    if L.code in (TOKEN, LEAKY):
        reach = L.burst if L.code == TOKEN else L.burst + L.capacity
        now_scaled = now * L.limit
        tat = max(now_scaled if state is None else state, now_scaled)
        horizon = now_scaled + reach * L.period
        new = tat + cost * L.period
        new = min(new, max(tat, horizon + L.capacity * L.period)) if cost >= 0 else max(new, now_scaled)
        nxt, debt = new, wide_ceil_div(new - horizon, L.period)
    else:
        window = now // L.period
        current = previous = 0
        if state is not None and state[0] == window:
            current, previous = (state[1], 0) if L.code == FIXED else (state[1] >> 32, state[1] & 0xFFFF_FFFF)
        elif state is not None and state[0] == window - 1 and L.code == SLIDING:
            previous = state[1] >> 32
        if L.code == FIXED:
            used = adjusted(current, cost, 2 * L.limit)
            nxt, debt = (window, used), max(used - L.limit, 0)
        else:
            carried = previous - previous * (now - window * L.period) // L.period
            used = adjusted(current, cost, 2 * L.limit - carried)
            nxt, debt = (window, used << 32 | previous), max(used + carried - L.limit, 0)
    status = STEP[L.code](nxt, now, 0, L)[0]
    one = STEP[L.code](nxt, now, 1, L)[0]
    return (status.remaining, status.reset_after, 0 if one.allowed else one.retry_after, debt), \
        (None if status.reset_after == 0 else nxt)


def run_reports(conn, shas, seed, steps, cov):
    """Checks and reports (charges, refunds, debt at its cap, retried ids) on one key: every reply
    number and every stored value as the reference says."""
    rng = random.Random(seed * 7919)
    L = random_limits(rng)
    key, state, seen, last_id = f"sluice:{{report}}:{seed}", None, set(), None
    conn.call("DEL", key)
    now = rng.randint(0, 10**15)
    for step in range(steps):
        now += pick(rng, 0, 1, lambda: rng.randint(0, L.period), lambda: rng.randint(0, 2 * L.period))
        if rng.random() < 0.3:
            cost = rng.randint(0, L.capacity)
            d, nxt = STEP[L.code](state, now, cost, L)
            got = conn.call("EVALSHA", shas[SINGLE_SCRIPT[L.code]], *single_args(key, L, cost, True, str(now)))
            expect(got[:5] == list(d), f"report trace seed {seed} step {step}: check {L} cost {cost}: {got} vs {d}")
            if d.allowed and cost > 0:
                state = nxt
        else:
            cap = L.capacity
            cost = pick(rng, lambda: rng.randint(-2 * cap, 2 * cap), lambda: rng.randint(-10, 10), MAX_LIMIT, -MAX_LIMIT)
            cost = max(-MAX_LIMIT, min(cost, MAX_LIMIT))  # the script's (and the API's) bound
            ident = last_id if last_id is not None and rng.random() < 0.3 else pick(rng, None, f"id-{seed}-{step}")
            duplicate = ident is not None and ident in seen
            want, nxt = report(state, now, 0 if duplicate else cost, L)
            keys = [2, key, f"{key}:report:{ident}"] if ident is not None else [1, key]
            got = conn.call("EVALSHA", shas["report"], *keys, L.code, L.limit, L.period, L.burst, cost, str(now), 600000)
            expect(got == [int(duplicate), *want, now],
                   f"report trace seed {seed} step {step}: {L} state {state} cost {cost} id {ident}: {got} vs {want}")
            if not duplicate and cost != 0:
                state = nxt
            cov.add("report debt", want[3] > 0)
            cov.add("report duplicate", duplicate)
            cov.add("report refund", cost < 0 and not duplicate)
            if ident is not None:
                seen.add(ident)
                last_id = ident
        value = conn.call("GET", key)
        expect(value == (None if state is None else stored_value(L, state)),
               f"report trace seed {seed} step {step}: stored {describe_value(value)}, expected state {state}")
    return steps


# ---- random traces -------------------------------------------------------------------------------

def pick(rng, *choices):
    c = rng.choice(choices)
    return c() if callable(c) else c


def random_limits(rng):
    code = rng.randint(1, 4)
    limit = pick(rng, lambda: rng.randint(1, 5), lambda: rng.randint(1, 100), lambda: rng.randint(1, MAX_LIMIT),
                 MAX_LIMIT, lambda: MAX_LIMIT - rng.randint(1, 9), 1)
    period = pick(rng, MIN_PERIOD, MAX_PERIOD, lambda: 1000 * rng.randint(1, 5000), 60 * 10**6, 86_400 * 10**6,
                  lambda: 1000 * rng.randint(1, MAX_PERIOD // 1000), lambda: rng.randint(MIN_PERIOD, MAX_PERIOD),
                  lambda: rng.randint(MIN_PERIOD, 10**7), lambda: MAX_PERIOD - rng.randint(0, 10**6))
    if code == TOKEN:
        burst = pick(rng, limit, 1, lambda: rng.randint(1, 20), lambda: rng.randint(1, MAX_LIMIT), MAX_LIMIT)
    elif code == LEAKY:
        burst = pick(rng, 0, 1, lambda: rng.randint(0, 20), lambda: rng.randint(0, MAX_LIMIT), MAX_LIMIT)
    else:
        burst = limit  # Limits sets burst = limit for the windows
    return Limits(code, limit, period, burst)


def random_cost(rng, L):
    cap = L.capacity
    return pick(rng, 0, 1, 1, cap, lambda: rng.randint(0, cap), lambda: rng.randint(0, min(cap, 10)),
                lambda: max(cap - rng.randint(0, 3), 0))


def random_gap(rng, L, now):
    unit = max(L.period // L.limit, 1)  # one emission interval, roughly
    # A simple fraction a/b into a later window: exact quotients are where rounding would show.
    b = rng.randint(1, 12)
    aligned = (now // L.period + rng.randint(1, 2)) * L.period + L.period // b * rng.randint(0, b - 1) - now
    return pick(rng, 0, 0, 1, lambda: rng.randint(0, unit), lambda: rng.randint(0, 3 * unit),
                lambda: rng.randint(0, L.period), L.period, lambda: rng.randint(0, 3 * L.period),
                lambda: rng.randint(0, 10**6), lambda: -rng.randint(0, 1000), aligned, aligned)


class Coverage:
    def __init__(self):
        self.counts = {}

    def add(self, name, cond=True):
        if cond:
            self.counts[name] = self.counts.get(name, 0) + 1


TWO53 = 2**53


def guard_sides(L, state, now, cost):
    """For one decision: which side of each of the scripts' fast-path guards it lies on, as coverage
    names. The scripts compute in plain numbers only while these values are below 2^53 and take the
    exact (bignum) path otherwise; the names mirror their guards in order (LuaScripts.swift)."""
    names = []

    def side(name, value):
        names.append(f"{name} {'< 2^53' if value < TWO53 else '>= 2^53'}")
        if value in (TWO53 - 1, TWO53):
            names.append(f"{name} = 2^53{' - 1' if value < TWO53 else ''}")
        return value < TWO53

    if L.code in (TOKEN, LEAKY):
        if L.code == TOKEN:
            fast = cost <= L.burst and side("token burst·period", L.burst * L.period)
        else:
            fast = side("leaky (burst + cost)·period", (L.burst + cost) * L.period)
        if fast and state is not None:
            a = state // L.limit
            fast = side("bucket stored a", a)
            if fast and a >= now:
                fast = side("bucket w", state - now * L.limit)
        if fast:  # the new TAT's a = now + floor(e/limit) may pass 2^53 on the fast path too
            d, new_state = STEP[L.code](state, now, cost, L)
            if d.allowed and cost > 0:
                new_a = new_state // L.limit
                names.append(f"bucket new a on the fast path {'< 2^53' if new_a < TWO53 else '>= 2^53'}")
                if new_a in (TWO53 - 1, TWO53):
                    names.append(f"bucket new a on the fast path = 2^53{' - 1' if new_a < TWO53 else ''}")
    elif L.code == SLIDING:
        window, period = now // L.period, L.period
        elapsed = now - window * period
        current = previous = 0
        if state is not None and state[0] == window:
            current, previous = state[1] >> 32, state[1] & 0xFFFF_FFFF
        elif state is not None and state[0] == window - 1:
            previous = state[1] >> 32
        if previous > 0:
            side("sliding previous·elapsed", previous * elapsed)
        if not STEP[SLIDING](state, now, cost, L)[0].allowed:
            spare = L.limit - current - cost
            if spare >= 0 and previous > 0:
                side("sliding spare·period", spare * period)
            if current > 0 and L.limit > cost:
                side("sliding (limit - cost)·period", (L.limit - cost) * period)
    return names


GUARDS = [f"{name} {rel}" for name in ("token burst·period", "leaky (burst + cost)·period", "bucket stored a",
                                        "bucket w", "sliding previous·elapsed", "sliding spare·period",
                                        "sliding (limit - cost)·period", "bucket new a on the fast path")
          for rel in ("< 2^53", ">= 2^53")]
GUARD_EDGES = [f"{name} = 2^53{edge}" for name in ("token burst·period", "leaky (burst + cost)·period",
                                                     "bucket stored a", "bucket w", "bucket new a on the fast path")
               for edge in ("", " - 1")]
REQUIRED = ["denied", "clamped", "no-ttl write", "ttl write", "repeated key in batch", "batch denied",
            "shadow denial in allowed batch", "leaky delay", "sliding retry in window", "peek", "redis TIME",
            "limits changed on a key", "status (commit=0)", "report debt", "report duplicate",
            "report refund"] + GUARDS + GUARD_EDGES


class Harness:
    """Runs steps against Redis and the reference, and compares everything."""

    def __init__(self, conn, shas, cov, seed):
        self.conn, self.shas, self.cov, self.seed = conn, shas, cov, seed
        self.ref = Reference()
        self.steps = 0

    def command(self, items, commit, now_arg, batch):
        flag = "1" if commit else "0"
        if not batch:
            (key, L, cost, _), = items
            return ["EVALSHA", self.shas[SINGLE_SCRIPT[L.code]], 1, key, L.limit, L.period, L.burst, cost, flag,
                    now_arg]
        cmd = ["EVALSHA", self.shas["batch"], len(items)] + [k for k, *_ in items] + [flag, now_arg]
        for _, L, cost, shadow in items:
            cmd += [L.code, L.limit, L.period, L.burst, cost, "1" if shadow else "0"]
        return cmd

    def step(self, items, commit, now, batch):
        """items: [(key, limits, cost, shadow)]; now None means Redis TIME. Returns (now, decisions)."""
        step, seed, cov = self.steps, self.seed, self.cov
        self.steps += 1
        cmd = self.command(items, commit, "" if now is None else str(now), batch)
        fixed_now = now is not None  # a caller-set now: the scripts write no TTL
        involved = sorted({k for k, *_ in items})
        # One transaction: the dirty counter around the script, then each involved key's value and
        # expiry, then PERSIST, so that keys written at simulated times never expire in real time.
        # TIME before and after bound the real ms clock at which the script ran its SET ... PX.
        pipe = [("TIME",), ("MULTI",), ("INFO", "persistence"), cmd, ("INFO", "persistence")]
        for k in involved:
            pipe += [("GET", k), ("PEXPIRETIME", k), ("PERSIST", k)]
        pipe += [("EXEC",), ("TIME",)]
        replies = self.conn.pipeline(pipe)
        errors = [r for r in replies[:-2] if isinstance(r, RedisError)]
        exec_reply = replies[-2]
        if errors or not isinstance(exec_reply, list):
            raise CheckFailure(f"seed {seed} step {step}: redis error {errors or exec_reply}\n  command: {cmd}")
        ms_before, ms_after = (int(replies[i][0]) * 1000 + int(replies[i][1]) // 1000 for i in (0, -1))
        got = exec_reply[1]
        if isinstance(got, RedisError) or not isinstance(got, list):
            raise CheckFailure(f"seed {seed} step {step}: script error {got}\n  command: {cmd}")
        dirty = int(re.search(r"rdb_changes_since_last_save:(\d+)", exec_reply[2]).group(1)) - \
            int(re.search(r"rdb_changes_since_last_save:(\d+)", exec_reply[0]).group(1))
        if now is None:
            now = got[1] if batch else got[5]
            if abs(now - time.time() * 1e6) > 5e6:
                raise CheckFailure(f"seed {seed} step {step}: Redis TIME gave now_us {now}, far from the real clock")
            cov.add("redis TIME")

        if not batch:
            (key, L, cost, _), = items
            for name in guard_sides(L, self.ref.state(self.ref.stored.get(key), L), now, cost):
                cov.add(name)
        if batch:
            all_ok, decisions, written = self.ref.batch(items, commit, now)
            expected = [int(all_ok), now] + [x for d in decisions for x in d]
            cov.add("repeated key in batch", len(involved) < len(items))
            cov.add("batch denied", not all_ok)
            cov.add("shadow denial in allowed batch", all_ok and any(not d.allowed for d in decisions))
        else:
            (key, L, cost, _), = items
            d, written = self.ref.single(key, L, cost, commit, now)
            decisions = [d]
            expected = list(d) + [now]
        for (k, L, cost, _), d in zip(items, decisions):
            cov.add("denied", not d.allowed)
            cov.add("peek", cost == 0)
            cov.add("clamped", MAX in (d.reset_after, d.retry_after, d.delay))
            cov.add("leaky delay", L.code == LEAKY and d.delay > 0)
            cov.add("sliding retry in window", L.code == SLIDING and 0 < d.retry_after < L.period - now % L.period)
        cov.add("status (commit=0)", not commit)

        def fail(what, exp, actual):
            raise CheckFailure(
                f"seed {seed} step {step}: {what} differs\n  inputs: now_us={now} commit={int(commit)} items="
                + "; ".join(f"{k} {L} cost={c} shadow={int(s)}" for k, L, c, s in items)
                + f"\n  expected: {exp}\n  got:      {actual}")

        if got != expected:
            fail("the reply", expected, got)
        if dirty != len(written):
            fail("the number of writes", len(written), dirty)
        for j, k in enumerate(involved):
            value, expires = exec_reply[3 + 3 * j], exec_reply[4 + 3 * j]
            entry = self.ref.stored.get(k)
            want = stored_value(*entry) if entry else None
            if value != want:
                fail(f"the stored state of {k}", describe_value(want), describe_value(value))
            if k in written:
                L, state = written[k]
                t = idle_after(state, now, L)
                if fixed_now:
                    # Either reason alone means no TTL; a clamped key still counts as the clamp case.
                    cov.add("no-ttl write" if t >= MAX else "no-ttl write (fixed now)")
                    if expires != -1:
                        fail(f"the expiry of {k} (written with a fixed now: none)", -1, expires)
                elif t >= MAX:
                    cov.add("no-ttl write")
                    if expires != -1:
                        fail(f"the expiry of {k} (idle after {t} µs: none)", -1, expires)
                else:
                    cov.add("ttl write")
                    ttl = max(-(-t // 1000) + 1, MIN_TTL_MS)  # PX: idle after t µs, rounded up to ms, plus 1 ms; at least 1 s
                    if not expires - ms_after <= ttl <= expires - ms_before:
                        fail(f"the TTL of {k} (idle after {t} µs; PX = PEXPIRETIME - the ms clock, "
                             f"which was {ms_before}..{ms_after})", ttl, f"{expires - ms_after}..{expires - ms_before}")
            elif expires != (-1 if entry else -2):
                fail(f"the PEXPIRETIME of {k} (not written by this step)", -1 if entry else -2, expires)
        return now, decisions


def run_trace(conn, shas, seed, steps, cov):
    """Random rules, keys, costs, gaps, singles and batches; retries exactly at retry_after."""
    rng = random.Random(seed)
    h = Harness(conn, shas, cov, seed)
    kind = rng.choice(["zero", "real", "real", "high"])
    now = {"zero": rng.randint(0, 10**6), "real": int(time.time() * 1e6) + rng.randint(-10**9, 10**9),
           "high": MAX - rng.randint(10**12, 10**14)}[kind]
    keys = [f"sluice:{{t{seed}}}:k{j}" for j in range(rng.randint(1, 5))]
    rules = {k: random_limits(rng) for k in keys}
    retry_at = {}  # key -> the instant its last denial said to retry
    for _ in range(steps):
        key = rng.choice(keys)
        if rng.random() < 0.01:
            rules[key] = random_limits(rng)
            cov.add("limits changed on a key", key in h.ref.stored)
        if key in retry_at and rng.random() < 0.3:
            now = max(retry_at.pop(key) - rng.choice([0, 0, 1]), now)  # the boundary, and just before it
        else:
            now = now + random_gap(rng, rules[key], now)
        now = min(max(now, 0), MAX)
        use_time = kind == "real" and rng.random() < 0.03
        commit = rng.random() < 0.75
        if rng.random() < 0.6:
            items, batch = [(key, rules[key], random_cost(rng, rules[key]), False)], False
        else:
            n = pick(rng, 1, 2, 3, lambda: rng.randint(1, 8), lambda: rng.randint(1, 64) if rng.random() < 0.1 else 4)
            items, batch = [], True
            for _ in range(n):
                k = rng.choice(keys)
                items.append((k, rules[k], random_cost(rng, rules[k]), rng.random() < 0.25))
        now, decisions = h.step(items, commit, None if use_time else now, batch)
        for (k, *_), d in zip(items, decisions):
            if not d.allowed and d.retry_after < MAX:
                retry_at[k] = now + d.retry_after
    return h.steps


def run_sliding_boundaries(conn, shas, seed, cases, cov):
    """Sliding-window states built so that previous·(period - elapsed) = spare·period exactly, with
    products far above 2^53: a request exactly on the boundary (allowed) and 1 µs before it
    (denied, retry_after 1), then a retry at retry_after."""
    rng = random.Random(seed)
    h = Harness(conn, shas, cov, seed)
    for case in range(cases):
        previous = pick(rng, MAX_LIMIT, lambda: rng.randint(1, MAX_LIMIT), lambda: rng.randint(1, 1000))
        limit = pick(rng, MAX_LIMIT, lambda: rng.randint(previous, MAX_LIMIT))
        q = rng.randint(max(1, -(-MIN_PERIOD // previous)), MAX_PERIOD // previous)
        period = previous * q  # so that previous divides spare·period
        L = Limits(SLIDING, limit, period, limit)
        key = f"sluice:{{b{seed}}}:{case}"
        window = rng.randint(1, MAX // period - 2)
        h.step([(key, L, previous, False)], True, (window - 1) * period + rng.randint(0, period - 1), False)
        current = rng.randint(0, limit - previous) if rng.random() < 0.5 else 0
        spare = rng.randint(0, min(previous, limit - current))  # cost = limit - current - spare
        cost = limit - current - spare
        if cost > limit or cost < 0:
            continue
        elapsed = period - spare * q  # previous·(period - elapsed) = spare·period
        if current:
            h.step([(key, L, current, False)], True, window * period, False)
        for e in sorted({max(elapsed - 1, 0), elapsed}):
            now, (d,) = h.step([(key, L, cost, False)], rng.random() < 0.5, window * period + e, False)
            if not d.allowed and d.retry_after < MAX:
                h.step([(key, L, cost, False)], False, now + d.retry_after, False)
    return h.steps


def inject(h, key, L, state):
    """Stores a state for key, in Redis (the scripts' format, no TTL) and in the reference."""
    h.conn.call("SET", key, stored_value(L, state).encode("latin-1"))
    h.ref.stored[key] = (L, state)


def near(rng, edge, spread=2):
    return edge + rng.randint(-spread, spread)


def run_guard_boundaries(conn, shas, seed, cases, cov):
    """Arguments and states on both sides of the scripts' fast-path guards (see guard_sides), and
    exactly on them: burst·period, (burst + cost)·period, the stored TAT's a and the wait w around
    2^53, a new TAT whose a passes 2^53, and the sliding window's products around 2^53. The states
    are injected (as if written by an earlier call), then decided, peeked at and decided again."""
    rng = random.Random(seed)
    h = Harness(conn, shas, cov, seed)
    for case in range(cases):
        key = f"sluice:{{g{seed}}}:{case}"
        code = rng.choice([TOKEN, LEAKY, SLIDING, 0])
        # Powers of two: then a w just past 2^53, rounded, would show in ceil(w/limit).
        limit = pick(rng, 1, MAX_LIMIT, lambda: rng.randint(1, 1000), lambda: rng.randint(1, MAX_LIMIT),
                     lambda: 2 ** rng.randint(1, 29))
        if code == SLIDING:
            run_sliding_guard_case(h, rng, key, limit)
            continue
        if code == 0:
            run_new_a_edge_case(h, rng, key)
            continue
        # A period whose product with some burst (+ cost) <= 1e9 lands near 2^53: 2^k lands on 2^53
        # exactly, and the divisors of 2^53 - 1 = 6361·69431·20394401 on 2^53 - 1.
        period = pick(rng, lambda: 2 ** rng.randint(24, 44), lambda: rng.randint(-(-TWO53 // MAX_LIMIT), MAX_PERIOD),
                      lambda: rng.choice([20394401, 6361 * 20394401, 69431 * 20394401]),
                      lambda: rng.randint(MIN_PERIOD, 10**7))
        units = min(max(near(rng, TWO53 // period, 1), 0), MAX_LIMIT)  # burst (+ cost): the product near 2^53
        if code == TOKEN:
            burst = max(units, 1)
            cost = pick(rng, burst, 1, 0, lambda: rng.randint(0, burst), lambda: min(burst + rng.randint(1, 3), MAX_LIMIT))
        else:
            burst = rng.randint(0, units)
            cost = min(units - burst, MAX_LIMIT)
        L = Limits(code, limit, period, burst)
        now = pick(rng, lambda: rng.randint(0, 10**6), lambda: int(time.time() * 1e6), lambda: MAX - rng.randint(0, 10**7),
                   MAX)
        tol = burst * period
        # The wait w = tat - now·limit: none, small, around the allowing edge, around 2^53, far above.
        # (w - slack = w + cost·period - tol is the denied retry's numerator: near 2^53 too.)
        w = pick(rng, None, 0, lambda: rng.randint(0, max(tol, 1)), lambda: near(rng, tol - cost * period),
                 lambda: near(rng, tol), lambda: near(rng, TWO53), lambda: near(rng, TWO53 - 1),
                 lambda: near(rng, TWO53 - cost * period + tol, 4),
                 lambda: rng.randint(TWO53, 2**56), lambda: rng.randint(TWO53, 2**80))
        if cost > burst and rng.random() < 0.5:
            # A token cost over the burst (always denied) whose retry numerator w + cost·period - tol
            # lies just past 2^53, odd, over a power-of-two limit: where a rounding would show.
            limit = rng.choice([1, 2, 2 ** rng.randint(2, 29)])
            L = L._replace(limit=limit)
            w = TWO53 - cost * period + tol + rng.choice([1, 3, 5])
        a_edge = rng.random() < 0.15  # or: a stored a right at 2^53 (a TAT ~285 years ahead)
        if a_edge:
            state = near(rng, TWO53 - 1) * limit + rng.randint(0, limit - 1)
        else:
            state = None if w is None else now * limit + max(w, -now * limit)
        if state is not None:
            inject(h, key, L, state)
        h.step([(key, L, cost, False)], rng.random() < 0.8, now, False)
        h.step([(key, L, 0, False)], False, now, False)
        h.step([(key, L, cost, False)], True, min(now + rng.choice([0, 1, period]), MAX), False)
        if rng.random() < 0.2:  # the same key under a burst one off: a new key (the stored limits guard)
            L = L._replace(burst=L.burst + 1 if L.burst < MAX_LIMIT else L.burst - 1)
            h.step([(key, L, 0, False)], False, now, False)
    return h.steps


def run_new_a_edge_case(h, rng, key):
    """A bucket's new TAT whose a = now + floor(e/limit) lies around 2^53 (now close to it)."""
    L = Limits(rng.choice([TOKEN, LEAKY]), rng.choice([1, 7, 1000]), 4_000_000, MAX_LIMIT)  # tol = 4e15 < 2^53
    now = MAX - pick(rng, lambda: rng.randint(0, 10), lambda: rng.randint(0, 10**6), lambda: rng.randint(0, 10**12))
    q = max(TWO53 - now + rng.randint(-2, 2), 0)  # the new a = now + q
    cost = rng.randint(0, 3)
    e = q * L.limit + rng.randint(0, L.limit - 1)  # the new TAT is now·limit + e: a = now + q
    if e < cost * L.period:
        cost = 0
    inject(h, key, L, now * L.limit + e - cost * L.period)
    h.step([(key, L, cost, False)], True, now, False)


def run_sliding_guard_case(h, rng, key, limit):
    """previous·elapsed around 2^53 (the carried count), and spare·period around 2^53 (retry_after)."""
    smallest = -(-TWO53 // (MAX_PERIOD - 2))  # elapsed = 2^53/previous must fit in a period
    limit = max(limit, rng.randint(smallest, MAX_LIMIT))
    previous = pick(rng, limit, lambda: rng.randint(smallest, limit))
    elapsed = near(rng, TWO53 // previous, 1)
    period = rng.randint(max(elapsed + 1, MIN_PERIOD), MAX_PERIOD)
    L = Limits(SLIDING, limit, period, limit)
    window = rng.randint(1, (MAX - elapsed) // period)
    now = window * period + elapsed
    current = rng.randint(0, limit - previous) if rng.random() < 0.5 else 0
    state = (window, current << 32 | previous) if current else (window - 1, previous << 32)
    if current == 0 and rng.random() < 0.5:
        state = (window - 1, previous << 32 | rng.randint(0, limit))
    inject(h, key, L, state)
    # spare = limit - current - cost with spare·period near 2^53, or a random cost.
    spare = near(rng, TWO53 // period, 1)
    cost = limit - current - spare if 0 <= limit - current - spare <= limit else rng.randint(0, limit)
    h.step([(key, L, cost, False)], rng.random() < 0.8, now, False)
    h.step([(key, L, rng.randint(0, limit), False)], False, now, False)


def run_ttl_edges(conn, shas, cov):
    """Writes on Redis's clock whose reset_after is around the 1 s TTL floor (999 ms plus the 1 ms
    for the clock's rounding) and around whole ms: PX must be exactly what the reference says."""
    h = Harness(conn, shas, cov, "ttl")
    for i, period in enumerate((998_999, 999_000, 999_001, 999_999, 1_000_000, 1_000_001, 1_001_000, 5_000)):
        for code in (TOKEN, LEAKY, FIXED):
            L = Limits(code, 1, period, 1)  # one unit: reset_after = period (buckets), <= period (fixed)
            h.step([(f"sluice:{{ttl}}:{code}:{i}", L, 1, False)], True, None, False)
    return h.steps


# ---- explicit checks ----------------------------------------------------------------------------

def expect(cond, message):
    if not cond:
        raise CheckFailure(message)


def single_args(key, L, cost, commit, now=""):
    return [1, key, L.limit, L.period, L.burst, cost, "1" if commit else "0", now]


def check_load(conn, scripts):
    shas = {}
    for name, text in scripts.items():
        sha = conn.call("SCRIPT", "LOAD", text)
        expect(sha == hashlib.sha1(text.encode()).hexdigest(), f"SCRIPT LOAD {name}: sha {sha} is not the text's SHA1")
        shas[name] = sha
    # EVAL and EVALSHA run the same script: same answers on twin keys.
    L = Limits(TOKEN, 10, 1_000_000, 5)
    for i in range(4):
        now = str(10**15 + i * 1000)
        a = conn.call("EVAL", scripts["tokenBucket"], *single_args("sluice:{eval}:a", L, 2, True, now))
        b = conn.call("EVALSHA", shas["tokenBucket"], *single_args("sluice:{eval}:b", L, 2, True, now))
        expect(a == b, f"EVAL and EVALSHA differ: {a} vs {b}")
    return shas


def check_no_writes(conn, shas):
    """Denials, peeks and commit=0 leave value and TTL as they were (real TTLs, no PERSIST)."""
    key = "sluice:{nowrite}:a"
    L = Limits(FIXED, 2, 3_600 * 10**6, 2)
    r = conn.call("EVALSHA", shas["fixedWindow"], *single_args(key, L, 2, True))
    expect(r[0] == 1 and r[1] == 0, f"fixed window, cost 2 of 2 should be allowed with 0 left: {r}")
    value, pttl = conn.call("GET", key), conn.call("PTTL", key)
    expect(value and pttl > 0, f"a written key has value {value!r} and PTTL {pttl}")
    before = conn.dirty()
    calls = [
        ("fixedWindow", single_args(key, L, 1, True)),  # denied
        ("fixedWindow", single_args(key, L, 0, True)),  # peek
        ("fixedWindow", single_args(key, L, 1, False)),  # status
        ("batch", [2, key, "sluice:{nowrite}:b", "1", ""] + [3, 2, L.period, 2, 1, 0] + [1, 5, 10**6, 5, 1, 0]),
        ("batch", [1, "sluice:{nowrite}:c", "0", ""] + [1, 5, 10**6, 5, 1, 0]),  # allowed, commit=0
    ]
    for name, args in calls:
        conn.call("EVALSHA", shas[name], *args)
    expect(conn.dirty() == before, "a denial, peek or commit=0 call wrote to Redis")
    expect(conn.call("GET", key) == value, "a denial changed the stored state")
    later = conn.call("PTTL", key)
    expect(0 < later <= pttl, f"a denial changed the TTL: {pttl} then {later}")
    expect(conn.call("EXISTS", "sluice:{nowrite}:b", "sluice:{nowrite}:c") == 0, "a denied or commit=0 batch stored a key")


MIN_TTL_MS = 1000  # the scripts never set a PX below 1 s


def check_expiry(conn, shas):
    """Written keys get a TTL, vanish after it, and are then answered as new keys (Redis TIME)."""
    rules = [Limits(TOKEN, 1, 40_000, 1), Limits(SLIDING, 3, 15_000, 3), Limits(FIXED, 3, 30_000, 3),
             Limits(LEAKY, 2, 30_000, 1)]
    keys = []
    for L in rules:
        key = f"sluice:{{expiry}}:{L.code}"
        r = conn.call("EVALSHA", shas[SINGLE_SCRIPT[L.code]], *single_args(key, L, L.capacity, True))
        expect(r[0] == 1, f"{L}: the first request was denied: {r}")
        pttl = conn.call("PTTL", key)
        expect(0 < pttl <= max(-(-r[2] // 1000) + 1, MIN_TTL_MS), f"{L}: PTTL {pttl} after reset_after {r[2]} µs")
        keys.append((key, L, r[2]))
    # The TTLs run on Redis's real clock: poll (with a deadline) until every key is gone.
    deadline = time.monotonic() + MIN_TTL_MS / 1000 + 2
    while time.monotonic() < deadline and any(conn.call("EXISTS", key) for key, _, _ in keys):
        time.sleep(0.02)
    for key, L, reset in keys:
        expect(conn.call("EXISTS", key) == 0, f"{L}: the key still exists {MIN_TTL_MS + 2000} ms after a {reset} µs reset")
        r = conn.call("EVALSHA", shas[SINGLE_SCRIPT[L.code]], *single_args(key, L, 0, False))
        fresh = STEP[L.code](None, r[5], 0, L)[0]
        expect(r[:5] == list(fresh), f"{L}: after expiry a peek answered {r[:5]}, a new key answers {list(fresh)}")


def check_clamp(conn, shas):
    """A TAT 1e9 × 366 days ahead: reset_after is clamped to 2^53-1 µs and the key has no TTL."""
    key = "sluice:{clamp}:a"
    L = Limits(TOKEN, 1, MAX_PERIOD, MAX_LIMIT)
    r = conn.call("EVALSHA", shas["tokenBucket"], *single_args(key, L, MAX_LIMIT, True, str(1_800_000_000_000_000)))
    expect(r == [1, 0, MAX, 0, 0, 1_800_000_000_000_000], f"clamp: got {r}")
    expect(conn.call("PTTL", key) == -1, "clamp: a key idle only after 2^53 µs should have no TTL")
    r = conn.call("EVALSHA", shas["tokenBucket"], *single_args(key, L, 1, True, str(1_800_000_000_000_000)))
    expect(r == [0, 0, MAX, MAX_PERIOD, 0, 1_800_000_000_000_000], f"clamp, denied: got {r}")


def check_bad_arguments(conn, shas):
    L = Limits(TOKEN, 10, 10**6, 10)
    bad = [
        ("tokenBucket", [1, "k", 0, L.period, 10, 1, "1", ""]),  # limit 0
        ("tokenBucket", [1, "k", 10, 999, 10, 1, "1", ""]),  # period < 1 ms
        ("tokenBucket", [1, "k", 10, MAX_PERIOD + 1, 10, 1, "1", ""]),
        ("tokenBucket", [1, "k", 10, L.period, 10, 1.5, "1", ""]),
        ("tokenBucket", [1, "k", 10, L.period, 10, 1, "yes", ""]),
        ("tokenBucket", [1, "k", 10, L.period, 10, 1, "1", str(2**53)]),
        ("tokenBucket", [1, "k", 10, L.period, 10, 1, "1"]),
        ("batch", [1, "k", "1", "", 5, 10, L.period, 10, 1, 0]),  # unknown code
        ("batch", [2, "k", "j", "1", "", 1, 10, L.period, 10, 1, 0]),  # too few arguments
    ]
    for name, args in bad:
        r = conn.pipeline([["EVALSHA", shas[name]] + args])[0]
        expect(isinstance(r, RedisError) and "sluice:" in str(r), f"{name} {args}: expected a sluice error, got {r}")
    expect(conn.call("EXISTS", "k", "j") == 0, "a rejected call wrote")
    conn.call("SCRIPT", "FLUSH")
    r = conn.pipeline([["EVALSHA", shas["batch"], 1, "k", "1", "", 1, 10, L.period, 10, 1, 0]])[0]
    expect(isinstance(r, RedisError) and str(r).startswith("NOSCRIPT"), f"after SCRIPT FLUSH: {r}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seeds", type=int, default=50)
    ap.add_argument("--steps", type=int, default=800, help="steps per seed")
    ap.add_argument("--swift", default=SWIFT)
    ap.add_argument("--print-script", metavar="NAME", help="print one assembled script (e.g. tokenBucket) and exit")
    args = ap.parse_args()
    if args.print_script:
        sys.stdout.write(load_scripts(args.swift)[args.print_script])
        return 0
    started = time.monotonic()
    tmp = tempfile.mkdtemp(prefix="lua_check.", dir="/tmp")
    proc = None
    try:
        scripts = load_scripts(args.swift)
        proc, conn = start_redis(tmp)
        shas = check_load(conn, scripts)
        cov = Coverage()
        total = 0
        for seed in range(1, args.seeds + 1):
            total += run_trace(conn, shas, seed, args.steps, cov)
            total += run_sliding_boundaries(conn, shas, seed, args.steps // 20, cov)
            total += run_guard_boundaries(conn, shas, seed, args.steps // 10, cov)
            total += run_reports(conn, shas, seed, args.steps // 10, cov)
        total += run_ttl_edges(conn, shas, cov)
        missing = [name for name in REQUIRED if not cov.counts.get(name)]
        if missing:
            raise CheckFailure(f"the random traces never exercised: {', '.join(missing)} (coverage {cov.counts})")
        check_no_writes(conn, shas)
        check_clamp(conn, shas)
        check_expiry(conn, shas)
        check_bad_arguments(conn, shas)
        conn.close()
    except CheckFailure as e:
        print(f"lua_check: FAIL {e}", file=sys.stderr)
        return 1
    finally:
        if proc is not None:
            stop_redis(proc)
        shutil.rmtree(tmp, ignore_errors=True)
    cover = ", ".join(f"{k} {v}" for k, v in sorted(cov.counts.items()))
    print(f"lua_check: coverage: {cover}")
    print(f"lua_check: {total} steps, all equal ({time.monotonic() - started:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
