#!/usr/bin/env python3
"""promtool check config, also where promtool was built without Kubernetes discovery.

  promconfig_check.py prometheus/prometheus.yml

Debian's prometheus package leaves out kubernetes_sd_configs ("field kubernetes_sd_configs
not found"). When the installed promtool rejects that field, the kubernetes_sd_configs
blocks are checked here against the documented fields, replaced by an empty static_configs,
and the rest (relabelling, other jobs, rule files) goes through promtool unchanged.
"""
import os
import subprocess
import sys
import tempfile

import yaml

K8S_SD_FIELDS = {"api_server", "role", "kubeconfig_file", "namespaces", "selectors", "attach_metadata",
                 "basic_auth", "authorization", "oauth2", "proxy_url", "no_proxy", "proxy_from_environment",
                 "proxy_connect_header", "follow_redirects", "enable_http2", "tls_config", "bearer_token",
                 "bearer_token_file"}
K8S_ROLES = {"node", "service", "pod", "endpoints", "endpointslice", "ingress"}


def promtool(path):
    return subprocess.run(["promtool", "check", "config", path], capture_output=True, text=True, timeout=60)


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = os.path.abspath(sys.argv[1])
    r = promtool(path)
    if r.returncode == 0 or "field kubernetes_sd_configs not found" not in r.stdout + r.stderr:
        print((r.stdout + r.stderr).strip())
        return r.returncode
    cfg = yaml.safe_load(open(path))
    errs = []
    for job in cfg.get("scrape_configs", []):
        sds = job.pop("kubernetes_sd_configs", None)
        if sds is None:
            continue
        for sd in sds:
            errs += [f"job {job['job_name']}: unknown kubernetes_sd_configs field {k}" for k in set(sd) - K8S_SD_FIELDS]
            if sd.get("role") not in K8S_ROLES:
                errs.append(f"job {job['job_name']}: kubernetes_sd_configs role must be one of {sorted(K8S_ROLES)}")
        job.setdefault("static_configs", [{"targets": []}])
        print(f"note: promtool lacks Kubernetes discovery; job {job['job_name']}: kubernetes_sd_configs checked "
              "against the documented fields and stubbed, its relabel_configs checked by promtool")
    base = os.path.dirname(path)
    cfg["rule_files"] = [f if os.path.isabs(f) else os.path.join(base, f) for f in cfg.get("rule_files", [])]
    with tempfile.TemporaryDirectory() as tmp:
        stub = os.path.join(tmp, "prometheus.yml")
        with open(stub, "w") as f:
            yaml.safe_dump(cfg, f)
        r = promtool(stub)
    print((r.stdout + r.stderr).strip())
    for e in errs:
        print(f"  {e}")
    return 1 if errs or r.returncode else 0


if __name__ == "__main__":
    sys.exit(main())
