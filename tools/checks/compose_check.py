#!/usr/bin/env python3
"""docker-compose.yml sanity without a Docker daemon (`docker compose config` needs the plugin).

  compose_check.py docker-compose.yml

Every service has a pinned image (or a build), every bind-mount source exists, every named
volume is declared, published ports bind to 127.0.0.1, and the four services of the stack exist.
"""
import os
import sys

import yaml

STACK = {"sluice", "redis", "prometheus", "grafana"}


def main():
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    path = sys.argv[1]
    base = os.path.dirname(os.path.abspath(path))
    doc = yaml.safe_load(open(path))
    services = doc.get("services", {})
    declared = set((doc.get("volumes") or {}).keys())
    errs = [f"service {s} missing" for s in sorted(STACK - set(services))]
    for name, svc in services.items():
        image = svc.get("image", "")
        if not svc.get("build") and (":" not in image or image.endswith(":latest")):
            errs.append(f"{name}: image {image!r} must be pinned to a tag")
        for v in svc.get("volumes", []):
            src = (v if isinstance(v, str) else v.get("source", "")).split(":")[0]
            if src.startswith((".", "/")):
                if not os.path.exists(os.path.join(base, src)):
                    errs.append(f"{name}: bind mount source {src} does not exist")
            elif src not in declared:
                errs.append(f"{name}: named volume {src} not declared under volumes")
        for p in svc.get("ports", []):
            if not str(p).startswith("127.0.0.1:"):
                errs.append(f"{name}: port {p} must bind 127.0.0.1")
        for dep in svc.get("depends_on", []):
            if dep not in services:
                errs.append(f"{name}: depends_on unknown service {dep}")
    for e in errs:
        print(f"  {e}")
    print(f"{path}: {len(services)} services, {len(errs)} problems")
    return 1 if errs else 0


if __name__ == "__main__":
    sys.exit(main())
