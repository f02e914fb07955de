#!/usr/bin/env python3
"""Conventions promtool does not check.

  rules_check.py ALERTS.yml TESTS.yml OPERATIONS.md

Every alert: a severity label, summary and runbook annotations, a runbook that names an
existing section of OPERATIONS.md (GitHub heading anchor), and a promtool unit test with
both a quiet case (exp_alerts: []) and a firing case.
"""
import re
import sys

import yaml


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
    for t in tests:
        for a in t.get("alert_rule_test", []):
            (firing if a.get("exp_alerts") else quiet).add(a["alertname"])
    errs = []
    for r in rules:
        name = r["alert"]
        if r.get("labels", {}).get("severity") not in ("critical", "warning", "info"):
            errs.append(f"{name}: severity label must be critical, warning or info")
        ann = r.get("annotations", {})
        for key in ("summary", "runbook"):
            if not ann.get(key):
                errs.append(f"{name}: {key} annotation missing")
        m = re.match(r"docs/operations\.md#([\w-]+)", ann.get("runbook", ""))
        if not m or m.group(1) not in doc_anchors:
            errs.append(f"{name}: runbook must start with docs/operations.md#<existing section>")
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
