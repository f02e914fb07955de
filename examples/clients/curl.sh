#!/usr/bin/env bash
# Calling Sluice's Unix-socket API with curl (7.40 or later, for --unix-socket).
#   examples/clients/curl.sh            against /tmp/sluice.sock (swift run sluice serve)
#   SLUICE_SOCKET=/var/run/sluice/sluice.sock examples/clients/curl.sh
# The host in the URL is ignored; "sluice" is just a readable placeholder.
set -euo pipefail
S="${SLUICE_SOCKET:-/tmp/sluice.sock}"
api() { curl -sS --unix-socket "$S" -H 'content-type: application/json' "$@"; echo; }

# In a script: exit status 0 when allowed (200), 1 when denied (429), 2 on anything else.
# (`sluice check --socket "$S" --rule R --key K` does the same.)
allowed() {  # allowed RULE KEY [COST]
  local code
  code=$(curl -sS -o /dev/null -w '%{http_code}' --unix-socket "$S" \
    -d "{\"rule\":\"$1\",\"key\":\"$2\",\"cost\":${3:-1}}" http://sluice/v1/check) || return 2
  case "$code" in 200) return 0 ;; 429) return 1 ;; *) return 2 ;; esac
}  # (keys with " or \ need proper JSON escaping: use jq -n --arg, or one of the other clients)

echo "== one check: 200 allowed / 429 denied, with RateLimit headers (and Retry-After on 429)"
curl -sS -i --unix-socket "$S" http://sluice/v1/check -d '{"rule":"login","key":"alice","cost":1}'; echo

echo "== the same in a script"
if allowed login alice; then echo "alice may log in"; else echo "alice must wait (status $?)"; fi

echo "== batch: allowed only if every check allows; a denied batch consumes nothing"
api http://sluice/v1/check -d '{"checks":[{"rule":"default","key":"user-7"},{"rule":"login","key":"user-7","cost":2}]}'

echo "== status: the answer a check would give, consuming nothing (cost=0 peeks)"
api 'http://sluice/v1/status?rule=login&key=alice'
api 'http://sluice/v1/status?rule=login&key=alice&cost=0'

echo "== report: usage that already happened (may leave debt; a negative cost refunds; id counts once)"
api http://sluice/v1/report -d '{"rule":"login","key":"alice","cost":2,"id":"example-1"}'
api http://sluice/v1/report -d '{"rule":"login","key":"alice","cost":-2}'

echo "== reset: forget alice's state under login"
api http://sluice/v1/reset -d '{"rule":"login","key":"alice"}'

echo "== rules admin (403 when sluice runs with --no-admin)"
api http://sluice/v1/rules
api -X PUT http://sluice/v1/rules/example-tmp -d '{"algorithm":"fixed_window","limit":3,"period":"1s"}'
api http://sluice/v1/rules/example-tmp
api -X DELETE http://sluice/v1/rules/example-tmp

echo "== reload the --config file: 200, 409 without --config, 422 if the file is invalid"
api -X POST http://sluice/v1/reload
