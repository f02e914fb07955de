#!/usr/bin/env python3
"""Checks that hold the deployment artifacts against a real sluice binary.

  sluice_checks.py validate BIN RENDERDIR   ConfigMap rules of every kustomize variant pass
                                            `BIN validate`; a file with an unknown field fails it
  sluice_checks.py probes BIN RENDERDIR     the sidecar's manifest args start BIN (socket, config
                                            and port swapped for temporary ones; a local
                                            redis-server for the redis variant), every probe path
                                            answers 200 on the probe port, the socket has the
                                            manifest's mode and answers, SIGTERM exits 0
  sluice_checks.py live BIN DASHBOARD RULES a real prometheus scrapes two sluices every second
                                            while curl drives load over their Unix sockets: one
                                            with backend.type: redis on a real redis-server, which
                                            is paused (SIGSTOP) and later restarted mid-run, and
                                            one with the memory backend. For each, every dashboard
                                            query ($namespace/$pod set to that sluice) and every
                                            recording rule must return data (queries reading
                                            kube_*/container_* series are SKIPped, see
                                            K8S_SOURCED); the Redis failure panels must have
                                            shown the outages; every recording rule and alert
                                            (RULES' directory's sluice-alerts.yml) must evaluate
                                            without error

RENDERDIR is what `k8s_check.py render` wrote. Everything listens on 127.0.0.1 only, every
wait has a deadline, and every process started here is stopped on exit.
"""
import json
import os
import re
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import yaml

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import dashboard_check  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
LIVE_RULES = os.path.join(HERE, "live-rules.yaml")

# The live check's sidecars: their target labels in prometheus (what $cluster, $namespace,
# $workload and $pod select), as the Kubernetes scrape configs would set them.
LIVE_SIDECARS = {
    "redis": {"cluster": "live", "namespace": "live-redis", "workload": "sluice-redis", "pod": "sluice-redis-0"},
    "memory": {"cluster": "live", "namespace": "live-memory", "workload": "sluice-memory", "pod": "sluice-memory-0"},
}
# Dashboard queries that read Kubernetes-sourced series cannot have data here: nothing in the
# live check runs kube-state-metrics (kube_*) or the kubelet's cAdvisor (container_*). Such a
# query is reported as SKIP with this reason (not silently dropped); every other query, i.e.
# every one reading only rate_limiter_* / process_* / up and the recording rules, must have data.
K8S_SOURCED = re.compile(r"\b(kube_|container_)[a-zA-Z0-9_:]*")
K8S_SOURCED_REASON = ("reads Kubernetes-sourced series ({}), which only kube-state-metrics or the kubelet's cAdvisor "
                      "export; the live check runs neither")
# The redis sidecar's backend: a short timeout so that a paused Redis fails calls quickly, and
# on_failure: local so that every check is still answered (and readiness stays 200) meanwhile.
LIVE_REDIS_BACKEND = {"timeout_ms": 50, "on_failure": "local"}
# Dashboard panels allowed to be empty, per sidecar. The redis sidecar has none: every panel
# must show data there.
_NO_REDIS_SERIES = ("the memory backend registers no rate_limiter_redis_* or rate_limiter_backend_fallback_total "
                    "series; this panel is held on the redis sidecar")
ALLOW_EMPTY = {
    "redis": {},
    "memory": {title: _NO_REDIS_SERIES for title in (
        "Redis operations by status", "Redis errors by operation", "Redis latency p99 by operation",
        "Backend fallbacks by mode", "Redis cached denials")},
}
# Queries (panel title, refId) of the redis sidecar that must have been above 0 at some point of
# the run, not merely present: the Redis backend creates every series at 0 at start, so only a
# value shows that the dashboard saw the outages.
MUST_RISE = {
    ("Redis errors by operation", "A"): "failed Redis calls during the outages",
    ("Backend fallbacks by mode", "A"): "checks answered by on_failure: local during the outages",
    ("Backend up", "B"): "the sidecar counted as down during the outages",
}

results = []
procs = []


def report(ok, name, detail=""):
    results.append(ok)
    status = {True: "PASS", False: "FAIL", None: "SKIP"}[ok]
    print(f"{status} {name}" + (f": {detail}" if detail else ""), flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(argv, log):
    p = subprocess.Popen(argv, stdout=open(log, "w"), stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         start_new_session=True)
    p.log = log
    procs.append(p)
    return p


def stop(p, timeout=10):
    """SIGTERM the process group we created, SIGKILL after timeout; returns the exit code."""
    if p.poll() is None:
        try:
            os.killpg(p.pid, signal.SIGTERM)
            os.killpg(p.pid, signal.SIGCONT)  # a paused (SIGSTOP) process must run to handle SIGTERM
            p.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            p.wait()
        except ProcessLookupError:
            pass
    return p.returncode


def cleanup():
    for p in procs:
        stop(p, 5)


def tail(p, n=15):
    try:
        lines = open(p.log, errors="replace").read().splitlines()[-n:]
    except OSError:
        return ""
    return "\n".join("    | " + line for line in lines)


def http_get(url, timeout=2):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except (OSError, ValueError) as e:
        return None, str(e)


def wait_for(fn, deadline, interval=0.2):
    """Poll fn until it returns a truthy value or deadline (time.monotonic()) passes."""
    while True:
        value = fn()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(interval)


def curl(sock, reqs, timeout=5):
    """Send [(method, path, body)] over the Unix socket in one curl run; returns status codes."""
    argv = ["curl", "-sS"]
    for i, (method, path, body) in enumerate(reqs):
        if i:
            argv.append("--next")
        argv += ["--unix-socket", sock, "--max-time", str(timeout), "-o", "/dev/null", "-w", "%{http_code}\\n"]
        if method == "POST" and body is None:
            argv += ["-X", "POST", "-H", "content-length: 0"]
        elif method == "POST":
            argv += ["-H", "content-type: application/json", "--data-binary", body]
        argv.append("http://sluice" + path)
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout * len(reqs) + 5)
    return [int(c) if c.isdigit() else 0 for c in r.stdout.split()]


def check_json(rule, key, cost=1):
    return ("POST", "/v1/check", json.dumps({"rule": rule, "key": key, "cost": cost}))


def variants(renderdir):
    for name in sorted(f[:-len(".sidecar.json")] for f in os.listdir(renderdir) if f.endswith(".sidecar.json")):
        yield name, json.load(open(os.path.join(renderdir, f"{name}.sidecar.json")))


def cmd_validate(binary, renderdir, tmp):
    for name, info in variants(renderdir):
        path = os.path.join(tmp, f"{name}-{info['rules_file']}")
        open(path, "w").write(info["rules"])
        r = subprocess.run([binary, "validate", path], capture_output=True, text=True, timeout=30)
        report(r.returncode == 0, f"sluice validate: ConfigMap rules of {name}",
               "" if r.returncode == 0 else (r.stdout + r.stderr).strip())
    bad = os.path.join(tmp, "unknown-field.yaml")
    open(bad, "w").write(open(LIVE_RULES).read() + "bogus_field: 1\n")
    r = subprocess.run([binary, "validate", bad], capture_output=True, text=True, timeout=30)
    report(r.returncode != 0, "sluice validate rejects an unknown field", f"exit {r.returncode}")


def start_redis(tmp, port=None, log="redis.log"):
    """A redis-server on 127.0.0.1 (a free port, or `port` to restart one); returns (process, port)."""
    port = port or free_port()
    p = start(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
               "--dir", tmp], os.path.join(tmp, log))

    def ping():
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False
    if not wait_for(ping, time.monotonic() + 15):
        raise RuntimeError("redis-server did not answer PING\n" + tail(p))
    return p, port


def cmd_probes(binary, renderdir, tmp):
    for name, info in variants(renderdir):
        label = f"manifest {name}"
        rules = yaml.safe_load(info["rules"])
        redis = None
        if rules.get("backend", {}).get("type") == "redis":
            redis, rport = start_redis(tmp)
            rules["backend"]["redis"]["url"] = f"redis://127.0.0.1:{rport}/0"
        cfg = os.path.join(tmp, f"{name}-rules.yaml")
        with open(cfg, "w") as f:
            yaml.safe_dump(rules, f, sort_keys=False)
        sock = os.path.join(tmp, f"{name}.sock")
        port = free_port()
        args = list(info["args"])
        mode = manifest_port = None
        for i, a in enumerate(args[:-1]):
            if a == "--config":
                args[i + 1] = cfg
            elif a == "--socket":
                args[i + 1] = sock
            elif a == "--metrics-address":
                manifest_port = int(args[i + 1].rsplit(":", 1)[1])
                args[i + 1] = f"127.0.0.1:{port}"
            elif a == "--socket-mode":
                mode = int(args[i + 1], 8)
        command = info["command"] or ["sluice", "serve"]
        argv = [binary] + command[1:] + args
        p = start(argv, os.path.join(tmp, f"{name}-sluice.log"))
        print(f"  {label}: {' '.join(argv[1:])}", flush=True)
        deadline = time.monotonic() + 30
        wait_for(lambda: p.poll() is not None or http_get(f"http://127.0.0.1:{port}/healthz")[0] == 200, deadline)
        for path in sorted({pr["path"] for pr in info["probes"].values()}):
            same_port = all(pr["port"] == manifest_port for pr in info["probes"].values())
            code = wait_for(lambda: http_get(f"http://127.0.0.1:{port}{path}")[0] == 200 or p.poll() is not None,
                            deadline) and http_get(f"http://127.0.0.1:{port}{path}")[0]
            ok = code == 200 and same_port
            report(ok, f"{label}: probe GET {path} on the metrics port",
                   "" if ok else f"status {code}, exit {p.poll()}, probe port = metrics port: {same_port}\n{tail(p)}")
        exists = wait_for(lambda: os.path.exists(sock), deadline)
        actual = stat.S_IMODE(os.stat(sock).st_mode) if exists else None
        report(exists and (mode is None or actual == mode), f"{label}: socket created with mode {oct(mode or 0)}",
               "" if exists else "no socket file")
        codes = curl(sock, [check_json("default", "manifest-check")]) if exists else []
        report(codes == [200], f"{label}: POST /v1/check over the socket", f"status {codes}")
        rc = stop(p, 10)
        report(rc == 0 and not os.path.exists(sock), f"{label}: SIGTERM exits 0 and removes the socket",
               f"exit {rc}, socket left: {os.path.exists(sock)}")
        if redis:
            stop(redis)


class Load(threading.Thread):
    """Keeps decisions flowing until stopped: allowed and denied, several rules and endpoints."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.stop_event, self.codes, self.error = sock, threading.Event(), {}, None

    def run(self):
        batch = ([check_json("default", "k1")] * 4 + [check_json("login", "u1")] * 2
                 + [check_json("export", "e1")] * 2
                 + [("GET", "/v1/status?rule=default&key=k1", None),
                    ("POST", "/v1/reset", json.dumps({"rule": "login", "key": "u2"}))])
        try:
            while not self.stop_event.is_set():
                for req, code in zip(batch, curl(self.sock, batch)):
                    kind = f"{req[0]} {req[1].split('?')[0]} {json.loads(req[2]).get('rule', '') if req[2] else ''}"
                    self.codes.setdefault(kind.strip(), set()).add(code)
                self.stop_event.wait(0.25)
        except Exception as e:  # noqa: BLE001 - surfaced in the report
            self.error = e


def query(prom, expr):
    """Instant query; returns (result or None, detail)."""
    status, body = http_get(f"{prom}/api/v1/query?" + urllib.parse.urlencode({"query": expr}), timeout=5)
    if status != 200:
        return None, f"HTTP {status}: {body[:200]}"
    return json.loads(body)["data"], ""


def has_data(prom, expr):
    data, detail = query(prom, expr)
    if data is None:
        return False, detail
    if data["resultType"] == "scalar":
        values = [(data["result"][1], {})]
    else:
        values = [(r["value"][1], r["metric"]) for r in data["result"]]
    real = [(v, m) for v, m in values if v.lower() not in ("nan", "+inf", "-inf")]
    shown = ", ".join("{" + ",".join(f"{k}={v}" for k, v in sorted(m.items()) if k not in ("__name__", "instance", "job"))
                      + "}" for _, m in real[:4])
    return bool(real), f"{len(values)} series, {len(real)} with a number" + (f": {shown}" if real and real[0][1] else "")


def rose(prom, expr, seconds):
    """expr was above 0 at some evaluation (1 s steps) in the last `seconds`."""
    ok, detail = has_data(prom, f"max_over_time(({expr})[{int(seconds) + 1}s:1s]) > 0")
    return ok, f"above 0 in the last {int(seconds) + 1} s: {detail}"


def label_has_values(prom, selector, label):
    status, body = http_get(f"{prom}/api/v1/series?" + urllib.parse.urlencode({"match[]": selector}), timeout=5)
    if status != 200:
        return False, f"HTTP {status}: {body[:200]}"
    values = {s.get(label) for s in json.loads(body)["data"]} - {None, ""}
    return bool(values), f"values {sorted(values)[:5]}"


def sample(port, series):
    """The value of one series (`name{a="x",b="y"}`, labels in any order) in sluice's /metrics, or None."""
    def parse(s):
        name, _, labels = s.partition("{")
        return name, frozenset(labels.rstrip("}").split(",")) - {""}
    want = parse(series)
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    if status != 200:
        return None
    for line in body.splitlines():
        if line.startswith(want[0]) and not line.startswith("#") and parse(line.rsplit(" ", 1)[0]) == want:
            return float(line.rsplit(" ", 1)[1])
    return None


class Sidecar:
    def __init__(self, binary, tmp, name, rules_text):
        self.name, self.labels = name, LIVE_SIDECARS[name]
        self.cfg, self.rules_text = os.path.join(tmp, f"{name}-rules.yaml"), rules_text
        open(self.cfg, "w").write(rules_text)
        self.sock, self.port = os.path.join(tmp, f"{name}.sock"), free_port()
        # --grpc-socket: the gRPC listener registers its series (connections{listener="grpc"},
        # Envoy unmatched descriptors), which the dashboard shows; --top-keys-metric: the
        # "Top denied keys" table's series.
        self.proc = start([binary, "serve", "--config", self.cfg, "--socket", self.sock,
                           "--grpc-socket", os.path.join(tmp, f"{name}-grpc.sock"), "--top-keys-metric", "5",
                           "--metrics-address", f"127.0.0.1:{self.port}"], os.path.join(tmp, f"{name}-sluice.log"))
        self.load = Load(self.sock)

    def ready(self):
        return http_get(f"http://127.0.0.1:{self.port}/readyz")[0] == 200

    def admin(self):
        """GET /v1/rules, reload, reload of a file with an unknown field (refused), reload."""
        codes = curl(self.sock, [("GET", "/v1/rules", None), ("POST", "/v1/reload", None)])
        open(self.cfg, "w").write(self.rules_text + "bogus_field: 1\n")
        codes += curl(self.sock, [("POST", "/v1/reload", None)])
        open(self.cfg, "w").write(self.rules_text)
        codes += curl(self.sock, [("POST", "/v1/reload", None)])
        ok = codes[:2] == [200, 200] and len(codes) == 4 and codes[2] >= 400 and codes[3] == 200
        report(ok, f"live {self.name}: GET /v1/rules, reload, reload of a bad file refused, reload", f"status {codes}")


def redis_outage(sc, what, begin, end, hold=2.5):
    """begin() makes Redis fail. Waits until the sidecar reports it (backend_up 0, and a check
    answered by on_failure: local), keeps Redis failing `hold` s more so that prometheus (1 s
    scrapes) records the outage, then end() restores Redis and waits until backend_up is 1 and an
    EVALSHA succeeds again. /readyz must answer 200 throughout (on_failure: local)."""
    up, fell = 'rate_limiter_backend_up{backend="redis"}', 'rate_limiter_backend_fallback_total{mode="local"}'
    evalsha_ok = 'rate_limiter_redis_operations_total{operation="evalsha",status="ok"}'
    readyz = set()

    def watch(cond):
        readyz.add(http_get(f"http://127.0.0.1:{sc.port}/readyz")[0])
        return cond()
    fell0 = sample(sc.port, fell) or 0
    t0 = time.monotonic()
    begin()
    try:
        down = wait_for(lambda: watch(lambda: sample(sc.port, up) == 0 and (sample(sc.port, fell) or 0) > fell0),
                        t0 + 10, 0.1)
        t_down = time.monotonic() - t0
        if down:
            hold_until = time.monotonic() + hold
            wait_for(lambda: watch(lambda: time.monotonic() > hold_until), hold_until + 1, 0.25)
    finally:
        end()
    ok0 = sample(sc.port, evalsha_ok) or 0
    t1 = time.monotonic()
    back = wait_for(lambda: watch(lambda: sample(sc.port, up) == 1 and (sample(sc.port, evalsha_ok) or 0) > ok0),
                    t1 + 20, 0.1)
    t_back = time.monotonic() - t1
    ok = bool(down and back) and readyz == {200}
    report(ok, f"live redis: {what}: backend_up 0 and on_failure local answering after {t_down:.1f} s, "
               f"held {hold} s, recovered {t_back:.1f} s after Redis came back, /readyz 200 throughout",
           "" if ok else f"down seen: {bool(down)}, recovered: {bool(back)}, /readyz statuses {sorted(readyz, key=str)}"
           f"\n{tail(sc.proc)}")
    return ok


def rules_health(prom):
    """[(group/rule name, health, lastError)] of every rule prometheus evaluates."""
    status, body = http_get(f"{prom}/api/v1/rules", timeout=5)
    if status != 200:
        return [("rules API", "err", f"HTTP {status}")]
    return [(f"{g['name']}/{r['name']}", r.get("health"), r.get("lastError", ""))
            for g in json.loads(body)["data"]["groups"] for r in g["rules"]]


def cmd_live(binary, dashboard_path, recording_path, tmp):
    t_start = time.monotonic()
    # The alerts next to the recording rules are loaded too: prometheus must evaluate every one
    # of them without an error (a many-to-many join shows up only at evaluation, on real series).
    alerts_path = os.path.join(os.path.dirname(os.path.abspath(recording_path)), "sluice-alerts.yml")
    alerts_path = alerts_path if os.path.exists(alerts_path) else None
    redis, rport = start_redis(tmp)
    memory_rules = open(LIVE_RULES).read()
    rules = yaml.safe_load(memory_rules)
    rules["backend"] = {"type": "redis", "redis": {"url": f"redis://127.0.0.1:{rport}/0", **LIVE_REDIS_BACKEND}}
    sidecars = [Sidecar(binary, tmp, "redis", yaml.safe_dump(rules, sort_keys=False)),
                Sidecar(binary, tmp, "memory", memory_rules)]
    rsc = sidecars[0]
    for sc in sidecars:
        ready = wait_for(lambda: sc.ready() or sc.proc.poll() is not None, time.monotonic() + 30) \
            and sc.proc.poll() is None
        report(ready, f"live {sc.name}: sluice ready", "" if ready else tail(sc.proc))
        if not ready:
            return
    pport = free_port()
    prom_cfg = os.path.join(tmp, "prometheus.yml")
    with open(prom_cfg, "w") as f:
        yaml.safe_dump({
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s", "evaluation_interval": "1s"},
            "rule_files": [os.path.abspath(recording_path)] + ([os.path.abspath(alerts_path)] if alerts_path else []),
            "scrape_configs": [{"job_name": "sluice", "static_configs": [
                {"targets": [f"127.0.0.1:{sc.port}"], "labels": sc.labels} for sc in sidecars]}],
        }, f)
    prom = f"http://127.0.0.1:{pport}"
    prometheus = start(["prometheus", f"--config.file={prom_cfg}", f"--storage.tsdb.path={tmp}/tsdb",
                        f"--web.listen-address=127.0.0.1:{pport}", "--log.level=warn"],
                       os.path.join(tmp, "prometheus.log"))
    ready = wait_for(lambda: http_get(f"{prom}/-/ready")[0] == 200 or prometheus.poll() is not None,
                     time.monotonic() + 30) and prometheus.poll() is None
    report(ready, "live: prometheus ready", "" if ready else tail(prometheus))
    if not ready:
        return
    for sc in sidecars:
        sc.admin()

    dashboard = json.load(open(dashboard_path))
    for sc in sidecars:
        sc.load.start()
    t_load = time.monotonic()
    try:
        for sc in sidecars:
            sel = f'namespace="{sc.labels["namespace"]}"'
            first = wait_for(lambda: has_data(prom, f'rate_limiter_request_total{{allowed="false",{sel}}}')[0],
                             time.monotonic() + 60, 0.5)
            report(first, f"live {sc.name}: prometheus has scraped decisions",
                   "" if first else tail(prometheus) + "\n" + tail(sc.proc))
            if not first:
                return

        # Two Redis outages while the load goes on: paused (calls time out, the circuit breaker
        # opens), then stopped and restarted on the same port (connections refused, reconnect).
        paused = redis_outage(rsc, "redis-server paused (SIGSTOP, SIGCONT)",
                              lambda: os.kill(redis.pid, signal.SIGSTOP), lambda: os.kill(redis.pid, signal.SIGCONT))
        restarted = {}
        redis_outage(rsc, "redis-server stopped and restarted on the same port", lambda: stop(redis),
                     lambda: restarted.setdefault("p", start_redis(tmp, rport, "redis-restarted.log")[0]))
        if not paused:
            return

        checks = []  # (name, fn, allowed empty: reason or None)
        for sc in sidecars:
            for where, kind, expr in dashboard_check.queries(dashboard, sc.labels):
                name = f"{sc.name}: dashboard {where}"
                if kind == "label_values":
                    label = where.split("(label ")[1].rstrip(")")
                    checks.append((name, expr, lambda e=expr, lb=label: label_has_values(prom, e, lb), None))
                    continue
                title, ref = where.split("'")[1], where.rsplit(" ", 1)[1]
                k8s = sorted(set(m.group(0) for m in K8S_SOURCED.finditer(expr)))
                if k8s:
                    checks.append((name, expr, lambda: (False, "not queried"), K8S_SOURCED_REASON.format(", ".join(k8s))))
                elif sc is rsc and (title, ref) in MUST_RISE:
                    checks.append((name + f" rose above 0 ({MUST_RISE[title, ref]})", expr,
                                   lambda e=expr: rose(prom, e, time.monotonic() - t_load), None))
                else:
                    checks.append((name, expr, lambda e=expr: has_data(prom, e), ALLOW_EMPTY[sc.name].get(title)))
            sel = f'{{namespace="{sc.labels["namespace"]}"}}'
            for g in yaml.safe_load(open(recording_path))["groups"]:
                for r in g["rules"]:
                    if "record" in r:
                        e = r["record"] + sel
                        checks.append((f"{sc.name}: recording rule {e}", e, lambda e=e: has_data(prom, e), None))
        e = f'rate_limiter_redis_cached_denials_total{{namespace="{rsc.labels["namespace"]}"}} > 0'
        checks.append(("redis: denials answered from the over-limit cache", e, lambda e=e: has_data(prom, e), None))

        pending = {name for name, _, _, allow in checks if not allow}
        outcome = {}
        deadline = time.monotonic() + 45
        while True:  # poll until every required query has data, or the deadline
            for name, _, fn, _ in checks:
                if name not in outcome or not outcome[name][0]:
                    outcome[name] = fn()
            pending = {n for n in pending if not outcome[n][0]}
            if not pending or time.monotonic() > deadline:
                break
            time.sleep(1)
        for rule, health, error in rules_health(prom):
            report(health == "ok", f"live: prometheus evaluates rule {rule} without error",
                   "" if health == "ok" else f"health {health}: {error}")
        for name, expr, _, allow in checks:
            ok, detail = outcome[name]
            if ok:
                report(True, f"live {name}", detail)
            elif allow:
                report(None, f"live {name}", f"empty, allowed: {allow}")
            else:
                report(False, f"live {name}", f"{detail}\n    query: {expr}")
    finally:
        for sc in sidecars:
            sc.load.stop_event.set()
        for sc in sidecars:
            sc.load.join(15)
    for sc in sidecars:
        codes = {k: sorted(v) for k, v in sc.load.codes.items()}
        checks_seen = set().union(*(v for k, v in sc.load.codes.items() if k.startswith("POST /v1/check")))
        ok = sc.load.error is None and {200, 429} <= set(sc.load.codes.get("POST /v1/check default", ())) \
            and checks_seen <= {200, 429}
        report(ok, f"live {sc.name}: every check answered 200 or 429, both seen"
               + (" (also while Redis was down)" if sc is rsc else ""),
               f"status codes by request: {codes}" + (f", error {sc.load.error}" if sc.load.error else ""))
    print(f"  live check took {time.monotonic() - t_start:.0f} s", flush=True)


def main():
    if len(sys.argv) < 2 or sys.argv[1] not in ("validate", "probes", "live") or len(sys.argv) != (
            5 if sys.argv[1] == "live" else 4):
        print(__doc__, file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, lambda *_: sys.exit(130))
    binary = os.path.abspath(sys.argv[2])
    with tempfile.TemporaryDirectory(prefix="sluice-check-") as tmp:
        try:
            if sys.argv[1] == "validate":
                cmd_validate(binary, sys.argv[3], tmp)
            elif sys.argv[1] == "probes":
                cmd_probes(binary, sys.argv[3], tmp)
            else:
                cmd_live(binary, sys.argv[3], sys.argv[4], tmp)
        except Exception as e:  # noqa: BLE001 - any crash is a failed check, with the reason
            report(False, f"{sys.argv[1]}: aborted", repr(e))
        finally:
            cleanup()
    return 0 if results and all(r is not False for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
