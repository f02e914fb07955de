#!/usr/bin/env python3
"""Render the kustomize variants and check that the manifests agree with each other.

  k8s_check.py render OUTDIR   write OUTDIR/<variant>.yaml (all objects) and
                               OUTDIR/<variant>.validate.yaml (without CRD kinds, for
                               kubernetes-validate), OUTDIR/<variant>.sidecar.json (the sluice
                               sidecar's args, probes and ConfigMap rules, for the binary checks)
  k8s_check.py consistency     cross-object checks (below) on every variant: sidecar args
                               (--no-admin), probes, socket (read-only in the app), rules
                               ConfigMap (plain name, directory mount), exactly one way to be
                               scraped (annotations or PodMonitor), NetworkPolicy on the metrics
                               port, metrics Service publishing not-ready pods, selectors,
                               securityContext, resources

Rendering uses `kubectl kustomize` (or `kustomize build`); without either, a minimal built-in
renderer handles what k8s/ uses: resources (files and directories), components with JSON
patches (op add/replace/remove on a kind/name target), and configMapGenerator (never hashed:
k8s/ disables the name suffix).
"""
import json
import os
import shutil
import subprocess
import sys

import yaml

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
VARIANTS = {"base": "k8s/base", "redis": "k8s/overlays/redis", "prometheus-operator": "k8s/overlays/prometheus-operator"}
RULES_CONFIGMAP = "sluice-rules"  # mounted under this plain name (no hash suffix): rules reload in place
CRD_KINDS = {"PodMonitor", "ServiceMonitor", "PrometheusRule"}
SIDECAR = "sluice"


def render(path):
    full = os.path.join(ROOT, path)
    if shutil.which("kubectl"):
        cmd = ["kubectl", "kustomize", full]
    elif shutil.which("kustomize"):
        cmd = ["kustomize", "build", full]
    else:
        return mini_kustomize(full), "built-in renderer"
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=60).stdout
    return [d for d in yaml.safe_load_all(out) if d], " ".join(cmd[:2])


def json_patch(obj, ops):
    for op in ops:
        *parents, last = [p.replace("~1", "/").replace("~0", "~") for p in op["path"].lstrip("/").split("/")]
        node = obj
        for p in parents:
            node = node[int(p)] if isinstance(node, list) else node[p]
        if op["op"] == "remove":
            del node[int(last) if isinstance(node, list) else last]
        elif op["op"] in ("add", "replace"):
            node[last] = op["value"]
        else:
            raise ValueError(f"built-in renderer: JSON patch op {op['op']} not supported")


def mini_kustomize(directory, objs=None):
    k = yaml.safe_load(open(os.path.join(directory, "kustomization.yaml")))
    objs = [] if objs is None else objs
    for res in k.get("resources", []):
        p = os.path.join(directory, res)
        if os.path.isdir(p):
            objs += mini_kustomize(p)
        else:
            objs += [d for d in yaml.safe_load_all(open(p)) if d]
    for comp in k.get("components", []):
        objs = mini_kustomize(os.path.join(directory, comp), objs)
    for patch in k.get("patches", []):
        target = patch.get("target", {})
        for o in objs:
            if all((o.get("kind") if key == "kind" else o["metadata"].get(key)) == v for key, v in target.items()):
                json_patch(o, yaml.safe_load(patch["patch"]))
    for gen in k.get("configMapGenerator", []):
        data = {}
        for f in gen.get("files", []):
            key, _, src = f.partition("=")
            src = src or key
            data[os.path.basename(key)] = open(os.path.join(directory, src)).read()
        cm = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": gen["name"]}, "data": data}
        if gen.get("behavior") in ("replace", "merge"):
            objs = [o for o in objs if not (o["kind"] == "ConfigMap" and o["metadata"]["name"] == gen["name"])]
        objs.append(cm)
    return objs


def pod_spec(obj):
    return obj.get("spec", {}).get("template", {}).get("spec")


def parse_args(args):
    """['--a', 'x', '--b=y', '--flag'] -> {'--a': 'x', '--b': 'y', '--flag': None}"""
    out, i = {}, 0
    while i < len(args):
        a = args[i]
        if "=" in a and a.startswith("--"):
            k, v = a.split("=", 1)
            out[k] = v
        elif i + 1 < len(args) and not args[i + 1].startswith("--"):
            out[a] = args[i + 1]
            i += 1
        else:
            out[a] = None
        i += 1
    return out


def port_number(container, port):
    if isinstance(port, int):
        return port
    for p in container.get("ports", []):
        if p.get("name") == port:
            return p["containerPort"]
    raise ValueError(f"container {container['name']} has no port named {port!r}")


def find_sidecar(objs):
    for o in objs:
        spec = pod_spec(o) if o["kind"] in ("Deployment", "StatefulSet", "DaemonSet") else None
        for c in (spec or {}).get("initContainers", []):
            if c["name"] == SIDECAR:
                return o, spec, c
    raise ValueError("no workload with an init container named 'sluice'")


def sidecar_info(objs):
    """What the binary checks need: args, probes, and the rules file the ConfigMap mounts."""
    workload, spec, c = find_sidecar(objs)
    args = parse_args(c.get("args", []))
    cfg = args.get("--config")
    mounts = {m["mountPath"].rstrip("/"): m["name"] for m in c.get("volumeMounts", [])}
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    cfg_dir, cfg_file = os.path.split(cfg)
    vol = vols[mounts[cfg_dir]]
    cm_name = vol["configMap"]["name"]
    cm = next(o for o in objs if o["kind"] == "ConfigMap" and o["metadata"]["name"] == cm_name)
    probes = {}
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        if kind in c:
            hg = c[kind]["httpGet"]
            probes[kind] = {"path": hg["path"], "port": port_number(c, hg["port"])}
    return {"workload": workload["metadata"]["name"], "command": c.get("command"), "args": c.get("args", []),
            "probes": probes, "rules_file": cfg_file, "rules": cm["data"][cfg_file]}


def consistency(objs):
    """Cross-object checks; returns a list of problems."""
    errs = []
    workload, spec, c = find_sidecar(objs)
    labels = workload["spec"]["template"]["metadata"].get("labels", {})
    annotations = workload["spec"]["template"]["metadata"].get("annotations", {})
    if c.get("restartPolicy") != "Always":
        errs.append("sidecar: restartPolicy must be Always (native sidecar)")
    args = parse_args(c.get("args", []))
    for flag in ("--config", "--socket", "--metrics-address"):
        if not args.get(flag):
            errs.append(f"sidecar: {flag} missing from args")
    if "--no-admin" not in args:
        errs.append("sidecar: --no-admin missing from args (rules come from the ConfigMap only)")
    if errs:
        return errs
    metrics_port = int(args["--metrics-address"].rsplit(":", 1)[1])
    if not args["--metrics-address"].startswith("0.0.0.0:"):
        errs.append("sidecar: --metrics-address must bind 0.0.0.0 for probes and scraping")
    if port_number(c, "metrics") != metrics_port:
        errs.append("sidecar: port 'metrics' differs from --metrics-address")
    for kind in ("startupProbe", "livenessProbe", "readinessProbe"):
        hg = c.get(kind, {}).get("httpGet")
        if not hg:
            errs.append(f"sidecar: {kind} (httpGet) missing")
        elif port_number(c, hg["port"]) != metrics_port:
            errs.append(f"sidecar: {kind} port is not the metrics port")
    if c.get("livenessProbe", {}).get("httpGet", {}).get("path") != "/healthz":
        errs.append("sidecar: livenessProbe must use /healthz")
    if c.get("readinessProbe", {}).get("httpGet", {}).get("path") != "/readyz":
        errs.append("sidecar: readinessProbe must use /readyz")
    podmonitors = [o for o in objs if o["kind"] == "PodMonitor"]
    annotated = annotations.get("prometheus.io/scrape") == "true"
    if annotated and podmonitors:
        errs.append("pod: scraped twice: prometheus.io/scrape \"true\" and a PodMonitor (use one of them)")
    elif not annotated and not podmonitors:
        errs.append("pod: not scraped: neither prometheus.io/scrape \"true\" nor a PodMonitor")
    elif annotated and annotations.get("prometheus.io/port") != str(metrics_port):
        errs.append("pod: prometheus.io/port must be the metrics port")
    for pm in podmonitors:
        for ep in pm["spec"]["podMetricsEndpoints"]:
            if not any(r.get("targetLabel") == "workload" for r in ep.get("relabelings", [])):
                errs.append(f"PodMonitor {pm['metadata']['name']}: no relabeling sets the workload label")
    cfg_mount = next((m for m in c.get("volumeMounts", [])
                      if m["mountPath"].rstrip("/") == os.path.dirname(args["--config"])), None)
    if cfg_mount is None or cfg_mount.get("subPath") or not cfg_mount.get("readOnly"):
        errs.append("sidecar: the --config directory must be a read-only directory mount (no subPath: "
                    "subPath mounts never see ConfigMap updates)")
    else:
        cm = next((v.get("configMap", {}).get("name") for v in spec.get("volumes", [])
                   if v["name"] == cfg_mount["name"]), None)
        if cm != RULES_CONFIGMAP:
            errs.append(f"sidecar: rules ConfigMap is {cm!r}, expected the plain name {RULES_CONFIGMAP!r} "
                        "(generatorOptions.disableNameSuffixHash: true) so that rules reload in place")
    try:
        info = sidecar_info(objs)
        yaml.safe_load(info["rules"])
    except Exception as e:  # noqa: BLE001 - report any lookup failure as a finding
        errs.append(f"sidecar: --config does not point into a mounted ConfigMap key: {e}")
    vols = {v["name"]: v for v in spec.get("volumes", [])}
    sock_dir = os.path.dirname(args["--socket"])
    sock_vol = next((m["name"] for m in c.get("volumeMounts", []) if m["mountPath"].rstrip("/") == sock_dir), None)
    if not sock_vol or "emptyDir" not in vols.get(sock_vol, {}):
        errs.append("sidecar: the --socket directory must be an emptyDir mount")
    for app in spec.get("containers", []):
        mount = next((m for m in app.get("volumeMounts", []) if m["name"] == sock_vol), None)
        if not mount:
            errs.append(f"container {app['name']}: does not mount the socket volume {sock_vol}")
        elif not mount.get("readOnly"):
            errs.append(f"container {app['name']}: must mount the socket volume {sock_vol} read-only")
    policies = [o for o in objs if o["kind"] == "NetworkPolicy"
                and all(labels.get(k) == v for k, v in o["spec"]["podSelector"].get("matchLabels", {}).items())
                and o["spec"]["podSelector"].get("matchLabels")]
    metrics_rules = [r for np in policies for r in np["spec"].get("ingress", [])
                     if any(p.get("port") in ("metrics", metrics_port) for p in r.get("ports", []))]
    if not metrics_rules:
        errs.append("NetworkPolicy: none selects the pods and admits the metrics port")
    for r in metrics_rules:
        peers = r.get("from", [])
        if not peers or any(not (p.get("podSelector") or p.get("namespaceSelector")) or p.get("ipBlock") for p in peers):
            errs.append("NetworkPolicy: the metrics port must be open only to selected (Prometheus) pods")
    psc = spec.get("securityContext", {})
    if psc.get("seccompProfile", {}).get("type") != "RuntimeDefault" or not psc.get("runAsNonRoot"):
        errs.append("pod: securityContext needs runAsNonRoot and seccompProfile RuntimeDefault")
    for ctr in spec.get("initContainers", []) + spec.get("containers", []):
        sc = ctr.get("securityContext", {})
        if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                and sc.get("capabilities", {}).get("drop") == ["ALL"]):
            errs.append(f"container {ctr['name']}: needs readOnlyRootFilesystem, no privilege escalation, drop ALL")
        r = ctr.get("resources", {})
        if not (r.get("requests") and r.get("limits", {}).get("memory")):
            errs.append(f"container {ctr['name']}: needs resource requests and a memory limit")
    for o in objs:
        sel = None
        if o["kind"] in ("PodDisruptionBudget", "PodMonitor"):
            sel = o["spec"]["selector"].get("matchLabels", {})
        elif o["kind"] == "Service" and o["spec"].get("selector", {}).get("app.kubernetes.io/name") == labels.get(
                "app.kubernetes.io/name"):
            sel = o["spec"]["selector"]
            if not o["spec"].get("publishNotReadyAddresses"):
                errs.append(f"Service {o['metadata']['name']}: publishNotReadyAddresses must be true "
                            "(scrape a sidecar that fails /readyz)")
            for p in o["spec"]["ports"]:
                try:
                    port_number(c, p["targetPort"])
                except ValueError as e:
                    errs.append(f"Service {o['metadata']['name']}: {e}")
        elif o["kind"] == "HorizontalPodAutoscaler":
            if o["spec"]["scaleTargetRef"]["name"] != workload["metadata"]["name"]:
                errs.append("HPA: scaleTargetRef does not name the workload")
        if o["kind"] == "PodMonitor":
            for ep in o["spec"]["podMetricsEndpoints"]:
                port_number(c, ep["port"])
        if sel is not None and any(labels.get(k) != v for k, v in sel.items()):
            errs.append(f"{o['kind']} {o['metadata']['name']}: selector does not match the pod labels")
    if "replicas" in workload["spec"] and any(o["kind"] == "HorizontalPodAutoscaler" for o in objs):
        errs.append("workload: sets replicas although an HPA owns the count")
    return errs


def main():
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    if cmd == "render" and len(sys.argv) == 3:
        out = sys.argv[2]
        for name, path in VARIANTS.items():
            objs, how = render(path)
            with open(os.path.join(out, f"{name}.yaml"), "w") as f:
                yaml.safe_dump_all(objs, f, sort_keys=False)
            with open(os.path.join(out, f"{name}.validate.yaml"), "w") as f:
                yaml.safe_dump_all([o for o in objs if o["kind"] not in CRD_KINDS], f, sort_keys=False)
            with open(os.path.join(out, f"{name}.sidecar.json"), "w") as f:
                json.dump(sidecar_info(objs), f, indent=2)
            skipped = sorted({o["kind"] for o in objs if o["kind"] in CRD_KINDS})
            print(f"rendered {path} with {how}: {len(objs)} objects"
                  + (f" (CRD kinds not schema-validated: {', '.join(skipped)})" if skipped else ""))
        return 0
    if cmd == "consistency":
        failed = False
        for name, path in VARIANTS.items():
            errs = consistency(render(path)[0])
            for e in errs:
                print(f"{path}: {e}")
            failed |= bool(errs)
            if not errs:
                print(f"{path}: consistent")
        return 1 if failed else 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
