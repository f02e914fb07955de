#!/usr/bin/env python3
"""examples/envoy: the descriptors envoy.yaml sends are the ones rules.yaml limits.

  envoy_check.py [ENVOY_YAML RULES_YAML]
      (default: examples/envoy/envoy.yaml examples/envoy/rules.yaml, from the repository root)

envoy.yaml (an Envoy v3 static bootstrap):
  - every HTTP connection manager with rate_limits has an envoy.filters.http.ratelimit filter,
    with a domain, transport_api_version V3 and envoy_grpc naming a cluster that exists, speaks
    HTTP/2 (HttpProtocolOptions explicit_http_config http2_protocol_options) and whose every
    endpoint is a `pipe` (Sluice serves gRPC on a Unix socket only);
  - a remote_address action is not fed by a client-supplied X-Forwarded-For
    (use_remote_address: true, or xff_num_trusted_hops / original_ip_detection_extensions);
  - every route's rate_limits actions (route level, plus the virtual host's when the route has
    none or include_vh_rate_limits) are turned into the descriptor each one sends: remote_address,
    request_headers (any value), generic_key and header_value_match (fixed value),
    source_cluster, destination_cluster. Any other action, per-route ratelimit config, rds, a
    filter-level rate_limits list or a request-side `limit` override is an error: not modeled
    (or, for `limit`, ignored by Sluice).
rules.yaml, with Sluice's matching (same keys in the same order, fixed values equal; most
fixed values wins, then the earlier rule):
  - every sent descriptor's domain is one the rules name, and one rule matches it for every
    value its any-value entries can take (else some requests would get OK: not limited);
  - every rule descriptor is sent by some action and can win (no dead rule).
If the Envoy protos are importable (pip install xds-protos), envoy.yaml is also parsed into
envoy.config.bootstrap.v3.Bootstrap, so a misspelt field or enum value fails; else that is skipped.

Prints what matched what; exits 1 with the problems listed if anything disagrees.
"""
import itertools
import os
import sys

import yaml

HCM_TYPE = "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
RL_TYPE = "type.googleapis.com/envoy.extensions.filters.http.ratelimit.v3.RateLimit"
HPO_NAME = "envoy.extensions.upstreams.http.v3.HttpProtocolOptions"
HPO_TYPE = "type.googleapis.com/" + HPO_NAME
RL_FILTER_NAME = "envoy.filters.http.ratelimit"
ANY = None  # an entry whose value is only known per request


class Problems(list):
    def add(self, where, msg):
        self.append(f"{where}: {msg}")


def fmt_entries(entries):
    return "[" + ", ".join(f"{k}={'*' if v is ANY else v}" for k, v in entries) + "]"


def fmt_rule_entries(entries):
    return "[" + ", ".join(k if v is ANY else f"{k}={v}" for k, v in entries) + "]"


# ---------------------------------------------------------------- envoy.yaml: descriptors sent

def action_entry(action, route, node_cluster, where, problems):
    """(key, value or ANY, optional) for one rate limit action, or None if not modeled."""
    if not isinstance(action, dict) or len(action) != 1:
        problems.add(where, f"an action must have exactly one field, got {action!r}")
        return None
    kind, cfg = next(iter(action.items()))
    cfg = cfg or {}
    if kind == "remote_address":
        return ("remote_address", ANY, False)
    if kind == "request_headers":
        if not cfg.get("header_name") or not cfg.get("descriptor_key"):
            problems.add(where, "request_headers needs header_name and descriptor_key")
            return None
        # skip_if_absent: without the header the entry is left out and the rest still sent.
        return (str(cfg["descriptor_key"]), ANY, bool(cfg.get("skip_if_absent", False)))
    if kind in ("generic_key", "header_value_match"):
        if not cfg.get("descriptor_value"):
            problems.add(where, f"{kind} needs descriptor_value")
            return None
        if kind == "header_value_match" and not cfg.get("headers"):
            problems.add(where, "header_value_match needs headers")
            return None
        default_key = "generic_key" if kind == "generic_key" else "header_match"
        return (str(cfg.get("descriptor_key") or default_key), str(cfg["descriptor_value"]), False)
    if kind == "source_cluster":
        return ("source_cluster", node_cluster if node_cluster else ANY, False)
    if kind == "destination_cluster":
        cluster = (route or {}).get("cluster")
        return ("destination_cluster", str(cluster) if cluster else ANY, False)
    problems.add(where, f"rate limit action {kind!r} is not modeled by envoy_check.py "
                        "(remote_address, request_headers, generic_key, header_value_match, "
                        "source_cluster, destination_cluster)")
    return None


def route_label(route):
    if route.get("name"):
        return f"route {route['name']}"
    match = route.get("match") or {}
    for k in ("path", "prefix", "path_separated_prefix"):
        if k in match:
            return f"route {k} {match[k]}"
    if "safe_regex" in match:
        return f"route regex {match['safe_regex'].get('regex')}"
    return "route"


def check_grpc_cluster(rl, clusters, where, problems):
    """The ratelimit filter's service: V3, envoy_grpc, an HTTP/2 cluster of pipe endpoints."""
    svc = rl.get("rate_limit_service") or {}
    if svc.get("transport_api_version") != "V3":
        problems.add(where, "rate_limit_service.transport_api_version must be V3 (Sluice serves RLS v3)")
    grpc = svc.get("grpc_service") or {}
    name = (grpc.get("envoy_grpc") or {}).get("cluster_name")
    if not name:
        problems.add(where, "rate_limit_service.grpc_service.envoy_grpc.cluster_name is required "
                            "(google_grpc is not modeled)")
        return None
    cluster = clusters.get(name)
    if cluster is None:
        problems.add(where, f"grpc cluster {name!r} is not in static_resources.clusters")
        return None
    cwhere = f"cluster {name}"
    hpo = (cluster.get("typed_extension_protocol_options") or {}).get(HPO_NAME) or {}
    if hpo.get("@type") != HPO_TYPE or "http2_protocol_options" not in (hpo.get("explicit_http_config") or {}):
        problems.add(cwhere, f"gRPC needs HTTP/2: typed_extension_protocol_options.{HPO_NAME} "
                             "with explicit_http_config.http2_protocol_options")
    paths, n_endpoints = [], 0
    for group in (cluster.get("load_assignment") or {}).get("endpoints") or []:
        for lb in group.get("lb_endpoints") or []:
            n_endpoints += 1
            address = ((lb.get("endpoint") or {}).get("address")) or {}
            path = (address.get("pipe") or {}).get("path")
            if path:
                paths.append(path)
            else:
                problems.add(cwhere, f"endpoint {address!r} is not a pipe: Sluice serves gRPC on a Unix socket only")
    if n_endpoints == 0:
        problems.add(cwhere, "no endpoints (load_assignment.endpoints[].lb_endpoints[].endpoint.address.pipe.path)")
    for p in paths:
        if not p.startswith("/"):
            problems.add(cwhere, f"pipe path {p!r} must be absolute")
    return f"cluster {name}: HTTP/2, pipe {', '.join(paths) or '?'}"


def descriptors_sent(envoy, problems, report):
    """{(domain, ((key, value|ANY), ...)): [where it comes from, ...]} and the filters' domains."""
    if "dynamic_resources" in envoy:
        problems.add("envoy.yaml", "dynamic_resources (xDS) is not modeled: use static_resources")
    static = envoy.get("static_resources") or {}
    clusters = {c.get("name"): c for c in static.get("clusters") or []}
    node_cluster = (envoy.get("node") or {}).get("cluster")
    sent, domains, n_filters = {}, set(), 0
    for listener in static.get("listeners") or []:
        for chain in listener.get("filter_chains") or []:
            for nf in chain.get("filters") or []:
                hcm = nf.get("typed_config") or {}
                if hcm.get("@type") != HCM_TYPE:
                    continue
                hwhere = f"listener {listener.get('name', '?')}"
                filters = []
                for hf in hcm.get("http_filters") or []:
                    tc = hf.get("typed_config") or {}
                    if tc.get("@type") == RL_TYPE:
                        filters.append(tc)
                    elif hf.get("name") == RL_FILTER_NAME:
                        problems.add(hwhere, f"{RL_FILTER_NAME} needs typed_config @type {RL_TYPE}")
                for rl in filters:
                    n_filters += 1
                    fwhere = f"{hwhere} ratelimit filter"
                    domain = rl.get("domain")
                    if not isinstance(domain, str) or not domain:
                        problems.add(fwhere, "domain is required")
                        continue
                    domains.add(domain)
                    if "rate_limits" in rl:
                        problems.add(fwhere, "filter-level rate_limits is not modeled (route and virtual host rate_limits are)")
                    if rl.get("failure_mode_deny") is True:
                        report.append(f"  note: {fwhere}: failure_mode_deny: true (Sluice unreachable => 500)")
                    svc = check_grpc_cluster(rl, clusters, fwhere, problems)
                    report.append(f"{fwhere}: domain {domain!r}, stage {rl.get('stage', 0)}"
                                  + (f" -> {svc}" if svc else ""))
                stages = {}
                for rl in filters:
                    if isinstance(rl.get("domain"), str) and rl.get("domain"):
                        stages.setdefault(int(rl.get("stage", 0) or 0), []).append(rl["domain"])
                trusted_addr = (hcm.get("use_remote_address") is True or int(hcm.get("xff_num_trusted_hops", 0) or 0) > 0
                                or bool(hcm.get("original_ip_detection_extensions")))
                if "rds" in hcm:
                    problems.add(hwhere, "rds is not modeled: use an inline route_config")
                for vh in (hcm.get("route_config") or {}).get("virtual_hosts") or []:
                    vwhere = f"{hwhere} vhost {vh.get('name', '?')}"
                    if RL_FILTER_NAME in (vh.get("typed_per_filter_config") or {}):
                        problems.add(vwhere, f"typed_per_filter_config.{RL_FILTER_NAME} is not modeled")
                    vh_rls = vh.get("rate_limits") or []
                    for route in vh.get("routes") or []:
                        rwhere = f"{vwhere} {route_label(route)}"
                        if RL_FILTER_NAME in (route.get("typed_per_filter_config") or {}):
                            problems.add(rwhere, f"typed_per_filter_config.{RL_FILTER_NAME} is not modeled")
                        action = route.get("route")
                        if action is None:
                            continue  # redirect / direct_response: the filter has no route entry to limit
                        own = action.get("rate_limits") or []
                        effective = [(f"rate_limits[{i}]", r) for i, r in enumerate(own)]
                        if not own or action.get("include_vh_rate_limits") is True:
                            effective += [(f"vhost rate_limits[{i}]", r) for i, r in enumerate(vh_rls)]
                        for label, rlcfg in effective:
                            where = f"{rwhere} {label}"
                            if "limit" in rlcfg:
                                problems.add(where, "a request-side limit override is ignored by Sluice "
                                                    "(limits come from rules.yaml): remove it")
                            stage = int(rlcfg.get("stage", 0) or 0)
                            if stage not in stages:
                                problems.add(where, f"stage {stage}: no ratelimit filter of this stage on this listener, so it is never sent")
                                continue
                            actions = rlcfg.get("actions") or []
                            if not actions:
                                problems.add(where, "actions is empty")
                                continue
                            entries = [action_entry(a, action, node_cluster, where, problems) for a in actions]
                            if any(e is None for e in entries):
                                continue
                            if not trusted_addr and any("remote_address" in a for a in actions):
                                problems.add(where, "remote_address would come from a client-supplied X-Forwarded-For: "
                                                    "set use_remote_address: true on the connection manager "
                                                    "(or xff_num_trusted_hops behind a trusted proxy)")
                            optional = [i for i, e in enumerate(entries) if e[2]]
                            for dropped in itertools.chain.from_iterable(
                                    itertools.combinations(optional, n) for n in range(len(optional) + 1)):
                                variant = tuple((k, v) for i, (k, v, _) in enumerate(entries) if i not in dropped)
                                if not variant:
                                    continue
                                note = f" (without {', '.join(entries[i][0] for i in dropped)})" if dropped else ""
                                for domain in stages[stage]:
                                    sent.setdefault((domain, variant), []).append(where + note)
    if n_filters == 0:
        problems.add("envoy.yaml", f"no {RL_FILTER_NAME} filter (typed_config @type {RL_TYPE}) in any HTTP connection manager")
    return sent, domains


# ---------------------------------------------------------------- rules.yaml: what Sluice matches

def load_rules(doc, problems):
    """[(rank, rule name, descriptor index, domain, ((key, value|ANY), ...))] in rule order."""
    out = []
    rules = (doc or {}).get("rules")
    if not isinstance(rules, list):
        problems.add("rules.yaml", "rules must be a list")
        return out
    for ri, rule in enumerate(rules):
        name = (rule or {}).get("name", f"rules[{ri}]")
        for di, d in enumerate((rule or {}).get("descriptors") or []):
            where = f"rules.yaml rule {name} descriptors[{di}]"
            if not isinstance(d, dict) or not d.get("domain") or not d.get("entries"):
                problems.add(where, "needs domain and entries")
                continue
            entries = []
            for e in d["entries"]:
                if isinstance(e, dict) and e.get("key"):
                    v = e.get("value")
                    entries.append((str(e["key"]), ANY if v is None else str(v)))
                elif isinstance(e, (str, int, float)) and not isinstance(e, bool) and str(e):
                    entries.append((str(e), ANY))
                else:
                    problems.add(where, f"bad entry {e!r}")
            out.append((len(out), name, di, str(d["domain"]), tuple(entries)))
    return out


def ranked(rule_descs, domain, keys):
    """Sluice's candidates for a domain and key sequence: most fixed values first, then rule order."""
    cands = [r for r in rule_descs if r[3] == domain and tuple(k for k, _ in r[4]) == keys]
    return sorted(cands, key=lambda r: (-sum(v is not ANY for _, v in r[4]), r[0]))


def compatible(rule_entries, sent):
    return all(rv is ANY or sv is ANY or rv == sv for (_, rv), (_, sv) in zip(rule_entries, sent))


def covers(rule_entries, sent):
    """The rule accepts every value the sent descriptor can carry."""
    return all(rv is ANY or (sv is not ANY and rv == sv) for (_, rv), (_, sv) in zip(rule_entries, sent))


def covers_given(c_entries, b_entries, sent):
    """c accepts every request that sent descriptor `sent` and rule descriptor b both accept."""
    for (_, cv), (_, bv), (_, sv) in zip(c_entries, b_entries, sent):
        if cv is ANY:
            continue
        if sv is not ANY and sv == cv:
            continue
        if sv is ANY and bv is not ANY and bv == cv:
            continue
        return False
    return True


def key_of(rule_entries, sent):
    variable = [f"<{k}>" if sv is ANY else sv for (k, rv), (_, sv) in zip(rule_entries, sent) if rv is ANY]
    if not variable:
        variable = [sv for _, sv in sent]
    return "|".join(variable)


def main():
    root = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    if len(sys.argv) == 3:
        envoy_path, rules_path = sys.argv[1], sys.argv[2]
    elif len(sys.argv) == 1:
        envoy_path = os.path.join(root, "examples", "envoy", "envoy.yaml")
        rules_path = os.path.join(root, "examples", "envoy", "rules.yaml")
    else:
        print(__doc__, file=sys.stderr)
        return 2
    problems, report = Problems(), []
    with open(envoy_path) as f:
        envoy = yaml.safe_load(f)
    with open(rules_path) as f:
        rules_doc = yaml.safe_load(f)

    shown = os.path.relpath(envoy_path, root) if os.path.abspath(envoy_path).startswith(root + os.sep) else envoy_path
    report.append(f"{shown}: {schema_check(envoy, problems)}")
    sent, filter_domains = descriptors_sent(envoy, problems, report)
    rule_descs = load_rules(rules_doc, problems)
    rule_domains = {r[3] for r in rule_descs}

    report.append("descriptors sent -> rule (key):")
    for (domain, entries), origins in sorted(sent.items()):
        head = f"  {domain} {fmt_entries(entries)}"
        where = "; ".join(origins)
        if domain not in rule_domains:
            problems.add(where, f"domain {domain!r}: no rule in rules.yaml names it, so Sluice answers OK (no limit) "
                                f"to {fmt_entries(entries)}")
            continue
        cands = ranked(rule_descs, domain, tuple(k for k, _ in entries))
        winner = next((c for c in cands if covers(c[4], entries)), None)
        if winner is None:
            partial = [f"{c[1]} {fmt_rule_entries(c[4])}" for c in cands if compatible(c[4], entries)]
            problems.add(where, f"{domain} {fmt_entries(entries)} matches no rule"
                                + (f" for every value (only {', '.join(partial)})" if partial else "")
                                + ": Sluice answers OK (no limit)")
            continue
        report.append(f"{head} -> rule {winner[1]} (key {key_of(winner[4], entries)})   from {where}")
        for c in cands:
            if c is winner:
                break
            if compatible(c[4], entries):
                report.append(f"      when {fmt_rule_entries(c[4])}: rule {c[1]} instead (more specific)")

    report.append("rule descriptors <- sent by:")
    for r in rule_descs:
        rank, name, di, domain, entries = r
        label = f"  {name} descriptors[{di}] {domain} {fmt_rule_entries(entries)}"
        if domain not in filter_domains:
            problems.add(f"rules.yaml rule {name} descriptors[{di}]",
                         f"domain {domain!r} is not the domain of any ratelimit filter in envoy.yaml (dead rule descriptor)")
            continue
        keys = tuple(k for k, _ in entries)
        cands = ranked(rule_descs, domain, keys)
        ahead = cands[:cands.index(r)]
        senders = []
        for (sdomain, sentries), origins in sent.items():
            if sdomain != domain or tuple(k for k, _ in sentries) != keys or not compatible(entries, sentries):
                continue
            if any(covers_given(c[4], entries, sentries) for c in ahead):
                continue  # always taken by a more specific or earlier rule
            senders.extend(origins)
        if senders:
            report.append(f"{label} <- {'; '.join(senders)}")
        else:
            problems.add(f"rules.yaml rule {name} descriptors[{di}] {fmt_rule_entries(entries)}",
                         "no rate_limits action in envoy.yaml sends a descriptor this rule wins (dead rule descriptor)")
    names_with = {r[1] for r in rule_descs}
    for rule in (rules_doc or {}).get("rules") or []:
        if isinstance(rule, dict) and rule.get("name") not in names_with:
            report.append(f"  note: rule {rule.get('name')} has no descriptors (HTTP API / sluice.v1 only)")

    print("\n".join(report))
    if problems:
        print(f"envoy_check: {len(problems)} problem(s):")
        for p in problems:
            print(f"  {p}")
        return 1
    print(f"envoy_check: OK ({len(sent)} descriptors sent, {len(rule_descs)} rule descriptors, all matched)")
    return 0


def schema_check(envoy, problems):
    """Parse into Envoy's own Bootstrap message when its protos are installed (xds-protos)."""
    try:
        from google.protobuf import json_format
        from envoy.config.bootstrap.v3 import bootstrap_pb2
        # The typed_config messages must be in the descriptor pool to resolve "@type".
        from envoy.extensions.filters.network.http_connection_manager.v3 import http_connection_manager_pb2  # noqa: F401
        from envoy.extensions.filters.http.ratelimit.v3 import rate_limit_pb2  # noqa: F401
        from envoy.extensions.filters.http.router.v3 import router_pb2  # noqa: F401
        from envoy.extensions.upstreams.http.v3 import http_protocol_options_pb2  # noqa: F401
    except ImportError:
        return "schema not checked (pip install xds-protos to parse it with Envoy's protos)"
    try:
        json_format.ParseDict(envoy, bootstrap_pb2.Bootstrap())
    except json_format.ParseError as e:
        problems.add("envoy.yaml", f"not a valid envoy.config.bootstrap.v3.Bootstrap: {e}")
        return "schema: INVALID"
    return "parses as envoy.config.bootstrap.v3.Bootstrap (xds-protos)"


if __name__ == "__main__":
    sys.exit(main())
