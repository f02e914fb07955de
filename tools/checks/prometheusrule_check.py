#!/usr/bin/env python3
"""The PrometheusRule in k8s/components/prometheus-rules: same content as prometheus/rules/*.yml,
and valid against the prometheus-operator CRD schema.

  prometheusrule_check.py generate          (re)write the PrometheusRule from prometheus/rules/*.yml
  prometheusrule_check.py check [RENDERED]  the file's spec.groups equal the rule files' groups
                                            (parsed, so only content counts); it and every
                                            PrometheusRule in the RENDERED kustomize outputs
                                            (files *.yaml) validate against the CRD schema

The schema is the openAPIV3Schema of the PrometheusRule CRD, vendored unchanged from
prometheus-operator (crds/monitoring.coreos.com_prometheusrules.yaml, Apache-2.0; its
operator.prometheus.io/version annotation says which release). It is applied strictly, as
kubernetes-validate --strict does for built-in kinds: a field the schema does not define is an
error (the API server would silently prune it).
"""
import glob
import os
import sys

import jsonschema
import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
RULE_FILES = ["prometheus/rules/sluice-recording.yml", "prometheus/rules/sluice-alerts.yml"]
TARGET = "k8s/components/prometheus-rules/prometheusrule.yaml"
CRD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "crds", "monitoring.coreos.com_prometheusrules.yaml")
HEADER = """\
# GENERATED from prometheus/rules/sluice-recording.yml and prometheus/rules/sluice-alerts.yml
# by `python3 tools/checks/prometheusrule_check.py generate`; edit those files, not this one.
# scripts/check-artifacts fails when the two differ, and validates this object against the
# prometheus-operator CRD schema (tools/checks/crds/).
apiVersion: monitoring.coreos.com/v1
kind: PrometheusRule
metadata:
  name: sluice
  labels:
    app.kubernetes.io/name: sluice
    app.kubernetes.io/component: rules
spec:
  groups:
"""


def generate_text():
    out = HEADER
    for path in RULE_FILES:
        lines = open(os.path.join(ROOT, path)).read().splitlines()
        start = next(i for i, line in enumerate(lines) if line.startswith("groups:"))
        out += f"    # ---- {path}\n"
        out += "".join(("  " + line if line.strip() else "") + "\n" for line in lines[start + 1:])
    return out


def strict(schema):
    """Copy of an openAPIV3Schema as JSON Schema: unknown properties rejected, int-or-string kept."""
    if isinstance(schema, list):
        return [strict(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {k: strict(v) for k, v in schema.items() if not k.startswith("x-kubernetes-")}
    if schema.get("type") == "object" and "properties" in schema and "additionalProperties" not in schema:
        out["additionalProperties"] = False
    return out


def crd_schema():
    crd = yaml.safe_load(open(CRD))
    version = next(v for v in crd["spec"]["versions"] if v.get("storage", v.get("served")))
    schema = strict(version["schema"]["openAPIV3Schema"])
    schema["required"] = sorted(set(schema.get("required", [])) | {"apiVersion", "kind", "metadata", "spec"})
    group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
    schema["properties"]["apiVersion"] = {"const": f"{group}/{version['name']}"}
    schema["properties"]["kind"] = {"const": kind}
    schema["properties"]["metadata"] = {
        "type": "object", "required": ["name"],
        "properties": {"name": {"type": "string", "pattern": r"^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$", "maxLength": 253},
                       "namespace": {"type": "string"},
                       "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                       "annotations": {"type": "object", "additionalProperties": {"type": "string"}}},
        "additionalProperties": False}
    return schema, crd["metadata"].get("annotations", {}).get("operator.prometheus.io/version", "?")


def validate(obj, schema):
    v = jsonschema.Draft7Validator(schema)
    return [f"{'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}" for e in v.iter_errors(obj)]


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    target = os.path.join(ROOT, TARGET)
    if cmd == "generate" and len(sys.argv) == 2:
        open(target, "w").write(generate_text())
        print(f"wrote {TARGET}")
        return 0
    if cmd != "check" or len(sys.argv) > 3:
        print(__doc__, file=sys.stderr)
        return 2
    errs = []
    obj = yaml.safe_load(open(target))
    groups = [g for path in RULE_FILES for g in yaml.safe_load(open(os.path.join(ROOT, path)))["groups"]]
    if obj.get("spec", {}).get("groups") != groups:
        names = [g["name"] for g in obj.get("spec", {}).get("groups", [])]
        errs.append(f"{TARGET}: spec.groups differ from {' + '.join(RULE_FILES)} (groups here: {names}); "
                    "run python3 tools/checks/prometheusrule_check.py generate")
    schema, op_version = crd_schema()
    objs = [(TARGET, obj)]
    if len(sys.argv) == 3:
        for path in sorted(glob.glob(os.path.join(sys.argv[2], "*.yaml"))):
            objs += [(f"{os.path.basename(path)}: PrometheusRule {o['metadata']['name']}", o)
                     for o in yaml.safe_load_all(open(path)) if o and o.get("kind") == "PrometheusRule"]
    for where, o in objs:
        errs += [f"{where}: {e}" for e in validate(o, schema)]
    for e in errs:
        print(f"  {e}")
    n_rules = sum(len(g["rules"]) for g in groups)
    print(f"{len(objs)} PrometheusRule object(s) checked against the prometheus-operator {op_version} CRD schema; "
          f"{TARGET} holds {len(groups)} groups, {n_rules} rules; {len(errs)} problems")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
