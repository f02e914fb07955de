#!/usr/bin/env python3
"""Static checks of a Grafana dashboard JSON meant for "Import dashboard".

  dashboard_check.py DASHBOARD.json

Checks: importable structure (__inputs, __requires, stable uid, id null), the template
variables a fleet needs (datasource, cluster, namespace, workload, pod, rule), every panel with
a unit and a description, every rate()/irate()/increase() over [$__rate_interval] (a fixed
window is wrong at some zoom level or scrape interval), unique panel ids, grid positions inside the 24-column grid
without overlaps, every ${DS_*} declared in __inputs (and every input used), every panel
type listed in __requires, every $variable defined, and every PromQL query (panels and
label_values() variables) parsed by `promtool check rules` after substituting variables.
queries() is reused by the live check.
"""
import json
import os
import re
import subprocess
import sys
import tempfile

REQUIRED_VARS = {"datasource", "cluster", "namespace", "workload", "pod", "rule"}
RATE_FUNCS = re.compile(r"\b(rate|irate|increase)\s*\(")
GRAFANA_BUILTINS = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s", "__range_ms",
                    "__from", "__to", "__dashboard", "__name", "__org", "__user", "timeFilter"}
# What a variable becomes when a query is run outside Grafana: "All" for the dashboard's
# variables, and windows comfortably wider than the scrape interval for the built-ins.
SUBSTITUTE = {"__rate_interval": "1m", "__interval": "1m", "__range": "5m", "__range_s": "300", "__interval_ms": "60000"}
VAR_RE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")
LABEL_VALUES_RE = re.compile(r"^\s*label_values\(\s*(?:(.*),\s*)?(\w+)\s*\)\s*$", re.S)


def all_panels(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])  # panels inside collapsed rows


def substitute(expr, variables, values=None):
    """Replace built-ins as in SUBSTITUTE, dashboard variables by values[name] (default ".*", "All")."""
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        if name in SUBSTITUTE:
            return SUBSTITUTE[name]
        if name in variables:
            return (values or {}).get(name, ".*")
        return m.group(0)
    return VAR_RE.sub(repl, expr)


def var_query(v):
    q = v.get("query")
    return q.get("query", "") if isinstance(q, dict) else (q or "")


def queries(dash, values=None):
    """[(where, kind, promql)] with variables substituted (values: {variable: regex}, the rest
    "All"); kind is 'panel' or 'label_values'."""
    variables = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    out = []
    for p in all_panels(dash):
        for t in p.get("targets", []):
            if t.get("expr"):
                out.append((f"panel {p.get('id')} {p.get('title')!r} {t.get('refId')}", "panel",
                            substitute(t["expr"], variables, values)))
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            m = LABEL_VALUES_RE.match(var_query(v))
            if m and m.group(1):
                out.append((f"variable {v['name']} (label {m.group(2)})", "label_values",
                            substitute(m.group(1), variables, values)))
    return out


def rate_windows(expr):
    """[(function, window)] for every rate/irate/increase call: the range of its argument."""
    out = []
    for m in RATE_FUNCS.finditer(expr):
        depth, i = 1, m.end()
        while i < len(expr) and depth:
            depth += {"(": 1, ")": -1}.get(expr[i], 0)
            i += 1
        arg = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr[m.end():i - 1])  # label values may hold brackets
        ranges = re.findall(r"\[([^\]]*)\]", arg)
        out.append((m.group(1), ranges[-1] if ranges else ""))
    return out


def check(dash, text):
    errs = []
    for key in ("__inputs", "__requires", "uid", "title", "panels", "templating", "schemaVersion"):
        if key not in dash:
            errs.append(f"missing top-level {key}")
    if dash.get("id") is not None:
        errs.append("top-level id must be null for import")
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,40}", str(dash.get("uid", ""))):
        errs.append("uid must be a stable string of at most 40 [A-Za-z0-9_-]")
    inputs = {i.get("name") for i in dash.get("__inputs", [])}
    for i in dash.get("__inputs", []):
        if i.get("type") != "datasource" or not i.get("pluginId"):
            errs.append(f"__inputs {i.get('name')}: needs type datasource and a pluginId")
    used = set(re.findall(r"\$\{(DS_[A-Za-z0-9_]+)\}", text))
    errs += [f"${{{n}}} used but not declared in __inputs" for n in sorted(used - inputs)]
    errs += [f"__inputs {n} declared but never used" for n in sorted(inputs - used)]
    requires = {(r.get("type"), r.get("id")) for r in dash.get("__requires", [])}
    for need in (("grafana", "grafana"), ("datasource", "prometheus")):
        if need not in requires:
            errs.append(f"__requires lacks {need[0]} {need[1]}")

    variables = {v.get("name"): v for v in dash.get("templating", {}).get("list", [])}
    errs += [f"template variable {n!r} missing" for n in sorted(REQUIRED_VARS - set(variables))]
    if variables.get("datasource", {}).get("type") != "datasource":
        errs.append("variable datasource must be of type datasource")
    for name, v in variables.items():
        if v.get("type") == "query" and not LABEL_VALUES_RE.match(var_query(v)):
            errs.append(f"variable {name}: expected a label_values(...) query")

    ids, boxes = set(), []
    for p in all_panels(dash):
        pid, title = p.get("id"), p.get("title")
        where = f"panel {pid} {title!r}"
        if not isinstance(pid, int) or pid in ids:
            errs.append(f"{where}: id must be a unique integer")
        ids.add(pid)
        if not title:
            errs.append(f"{where}: no title")
        if p.get("type") != "row" and ("panel", p.get("type")) not in requires:
            errs.append(f"{where}: panel type {p.get('type')} not listed in __requires")
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "xywh"):
            errs.append(f"{where}: gridPos needs integer x, y, w, h")
            continue
        if g["x"] < 0 or g["y"] < 0 or g["w"] < 1 or g["h"] < 1 or g["x"] + g["w"] > 24:
            errs.append(f"{where}: gridPos {g} outside the 24-column grid")
        if p in dash.get("panels", []):
            for other, og in boxes:
                if (g["x"] < og["x"] + og["w"] and og["x"] < g["x"] + g["w"]
                        and g["y"] < og["y"] + og["h"] and og["y"] < g["y"] + g["h"]):
                    errs.append(f"{where}: overlaps {other}")
            boxes.append((where, g))
        if p.get("type") == "row":
            continue
        if not str(p.get("description", "")).strip():
            errs.append(f"{where}: no description")
        if not str(p.get("fieldConfig", {}).get("defaults", {}).get("unit", "")).strip():
            errs.append(f"{where}: no unit (fieldConfig.defaults.unit)")
        ds = p.get("datasource", {})
        if not isinstance(ds, dict) or ds.get("type") != "prometheus":
            errs.append(f"{where}: datasource must be a prometheus reference")
        targets = p.get("targets", [])
        if not targets:
            errs.append(f"{where}: no queries")
        refs = [t.get("refId") for t in targets]
        if len(set(refs)) != len(refs):
            errs.append(f"{where}: duplicate refIds")
        for t in targets:
            if not t.get("expr", "").strip():
                errs.append(f"{where} {t.get('refId')}: empty expr")
            for fn, window in rate_windows(t.get("expr", "")):
                if window != "$__rate_interval":
                    errs.append(f"{where} {t.get('refId')}: {fn}() over [{window}], not [$__rate_interval]")
            for m in VAR_RE.finditer(t.get("expr", "") + t.get("legendFormat", "")):
                name = m.group(1) or m.group(2) or m.group(3)
                if name not in variables and name not in GRAFANA_BUILTINS:
                    errs.append(f"{where} {t.get('refId')}: undefined variable ${name}")
    return errs


def promtool_parse(items):
    """Parse each query with promtool (as the expr of a recording rule)."""
    errs = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, (where, _, expr) in enumerate(items):
            path = os.path.join(tmp, f"q{n}.yml")
            with open(path, "w") as f:
                json.dump({"groups": [{"name": "dashboard", "rules": [{"record": f"dashboard:query_{n}", "expr": expr}]}]}, f)
            r = subprocess.run(["promtool", "check", "rules", path], capture_output=True, text=True, timeout=30)
            if r.returncode != 0:
                detail = (r.stderr or r.stdout).strip().splitlines()
                errs.append(f"{where}: promtool: {detail[-1] if detail else 'failed'}\n    {expr}")
    return errs


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    text = open(sys.argv[1]).read()
    dash = json.loads(text)
    errs = check(dash, text)
    qs = queries(dash)
    errs += promtool_parse(qs)
    for e in errs:
        print(f"  {e}")
    panels = [p for p in all_panels(dash) if p.get("type") != "row"]
    print(f"{sys.argv[1]}: {len(panels)} panels, {len(qs)} queries parsed by promtool, {len(errs)} problems")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
