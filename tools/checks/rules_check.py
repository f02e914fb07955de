#!/usr/bin/env python3
"""Conventions promtool does not check.

  rules_check.py ALERTS.yml TESTS.yml RUNBOOK.md

Every alert (kube-prometheus form):
  - a severity label: critical, warning or info;
  - summary, description and runbook_url annotations;
  - runbook_url = RUNBOOK_BASE + "#" + the alert's name in lower case, and RUNBOOK.md has that
    section (GitHub heading anchor);
  - a promtool unit test where it fires and one where it stays quiet (exp_alerts: []);
  - in every firing test, no pod or instance label: alerts page once per workload
    (aggregate by namespace and workload), never once per pod.
"""
import re
import sys

import yaml

RUNBOOK_BASE = "https://github.com/sluice-rl/sluice/blob/main/docs/runbook.md"
PER_POD_LABELS = ("pod", "instance")


def anchors(markdown):
    out = set()
    for line in markdown.splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if m:
            slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
            out.add(slug)
    return out


def main():
    if len(sys.argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    alerts_path, tests_path, doc_path = sys.argv[1:]
    rules = [r for g in yaml.safe_load(open(alerts_path))["groups"] for r in g["rules"] if "alert" in r]
    tests = yaml.safe_load(open(tests_path)).get("tests", [])
    doc_anchors = anchors(open(doc_path).read())
    quiet, firing = set(), set()
    errs = []
    for t in tests:
        for a in t.get("alert_rule_test", []):
            (firing if a.get("exp_alerts") else quiet).add(a["alertname"])
            for exp in a.get("exp_alerts") or []:
                per_pod = [k for k in PER_POD_LABELS if k in (exp.get("exp_labels") or {})]
                if per_pod:
                    errs.append(f"{a['alertname']} (test {t.get('name')}, {a.get('eval_time')}): fires with per-pod "
                                f"label(s) {', '.join(per_pod)}; aggregate by (namespace, workload)")
    for r in rules:
        name = r["alert"]
        if r.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            errs.append(f"{name}: severity label must be critical, warning or info")
        ann = r.get("annotations", {})
        for key in ("summary", "description", "runbook_url"):
            if not str(ann.get(key, "")).strip():
                errs.append(f"{name}: {key} annotation missing")
        want = f"{RUNBOOK_BASE}#{name.lower()}"
        if ann.get("runbook_url") != want:
            errs.append(f"{name}: runbook_url must be {want}")
        if name.lower() not in doc_anchors:
            errs.append(f"{name}: {doc_path} has no section '## {name}' (anchor #{name.lower()})")
        if name not in firing:
            errs.append(f"{name}: no promtool test where it fires")
        if name not in quiet:
            errs.append(f"{name}: no promtool test where it stays quiet")
    unknown = (firing | quiet) - {r["alert"] for r in rules}
    errs += [f"{n}: tested but not defined" for n in sorted(unknown)]
    for e in errs:
        print(f"  {e}")
    print(f"{alerts_path}: {len(rules)} alerts, {len(errs)} problems")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
