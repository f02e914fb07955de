#!/usr/bin/env bash
# Check `sluice inject` and the kustomize Component (k8s/components/sluice) with the tools
# Kubernetes users trust. For scripts/check-artifacts; prints PASS/FAIL lines, exits 1 on a failure.
#
#   tools/checks/inject_check.sh                  the Component demo and the expected outputs
#   tools/checks/inject_check.sh --sluice BINARY  also run BINARY inject over the fixtures
#
# Needs kubernetes-validate and kubectl (or kustomize). 1.29 is the oldest release with native
# sidecars; the empty version is kubernetes-validate's latest schema.
set -euo pipefail
cd "$(dirname "$0")/../.."

SLUICE=""
case "${1:-}" in
  --sluice) SLUICE="${2:?--sluice needs a path}" ;;
  "") ;;
  *) echo "inject_check.sh: unknown argument $1" >&2; exit 2 ;;
esac

FIXTURES=Tests/SluiceInjectTests/Fixtures
TMP="$(mktemp -d "${TMPDIR:-/tmp}/inject-check.XXXXXX")"
trap 'rm -rf "$TMP"' EXIT
failed=0
pass() { echo "PASS $1"; }
fail() { echo "FAIL $1"; sed 's/^/    /' "$TMP/out" 2>/dev/null || true; failed=1; }

validate() {  # validate NAME FILE...
  local name="$1" version
  shift
  for version in 1.29.0 ""; do
    if kubernetes-validate --strict --quiet ${version:+-k "$version"} "$@" >"$TMP/out" 2>&1; then
      pass "$name: kubernetes-validate --strict ${version:-(latest)}"
    else
      fail "$name: kubernetes-validate --strict ${version:-(latest)}"
    fi
  done
}

if command -v kubectl >/dev/null 2>&1; then render=(kubectl kustomize); else render=(kustomize build); fi
if ! command -v "${render[0]}" >/dev/null 2>&1; then
  echo "SKIP kustomize render k8s/examples/component-demo: neither kubectl nor kustomize is installed"
elif "${render[@]}" k8s/examples/component-demo >"$TMP/demo.yaml" 2>"$TMP/out"; then
  pass "kustomize render k8s/examples/component-demo"
  validate "component demo" "$TMP/demo.yaml"
else
  fail "kustomize render k8s/examples/component-demo"
fi

validate "inject expected outputs" "$FIXTURES"/expected/*.yaml

if [ -n "$SLUICE" ]; then
  for input in "$FIXTURES"/*.yaml; do
    name="$(basename "$input" .yaml)"
    [ "$name" = bad ] && continue
    if "$SLUICE" inject -f "$input" >"$TMP/$name.once.yaml" 2>"$TMP/out" \
      && "$SLUICE" inject <"$TMP/$name.once.yaml" >"$TMP/$name.twice.yaml" 2>"$TMP/out" \
      && diff -u "$FIXTURES/expected/$name.yaml" "$TMP/$name.once.yaml" >"$TMP/out" \
      && diff -u "$TMP/$name.once.yaml" "$TMP/$name.twice.yaml" >"$TMP/out"; then
      pass "sluice inject $name.yaml: expected output, idempotent"
    else
      fail "sluice inject $name.yaml: expected output, idempotent"
    fi
  done
  if "$SLUICE" inject -f "$FIXTURES/bad.yaml" >/dev/null 2>"$TMP/out"; then
    fail "sluice inject bad.yaml exits 1"
  elif grep -q "document 2, line 11:" "$TMP/out"; then
    pass "sluice inject bad.yaml exits 1 naming document 2, line 11"
  else
    fail "sluice inject bad.yaml exits 1 naming document 2, line 11"
  fi
fi
exit "$failed"
