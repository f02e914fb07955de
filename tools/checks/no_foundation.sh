#!/usr/bin/env bash
# The sluice executable links no Foundation (issue 19): neither Foundation itself nor its
# ICU-backed internationalization. FoundationEssentials (SwiftProtobuf's and ArgumentParser's
# choice on Linux) is fine. Checks the libraries the binary needs (a plain build links the Swift
# libraries dynamically) and its symbols (a --static-swift-stdlib build links them in).
#
#   tools/checks/no_foundation.sh BINARY
set -euo pipefail
BIN="${1:?usage: no_foundation.sh BINARY}"
FORBIDDEN='^lib(Foundation|FoundationInternationalization|_FoundationICU)\.so'
status=0
needed=$(readelf -d "$BIN" | sed -n 's/.*Shared library: \[\(.*\)\]/\1/p')
if printf '%s\n' "$needed" | grep -qE "$FORBIDDEN"; then
  echo "links $(printf '%s\n' "$needed" | grep -E "$FORBIDDEN" | tr '\n' ' ')"
  status=1
fi
# Mangled Swift names of the module Foundation ("10Foundation"), and ICU's or
# FoundationInternationalization's symbols.
symbols=$(nm "$BIN" | grep -E '10Foundation|_FoundationICU|FoundationInternationalization' || true)
if [ -n "$symbols" ]; then
  echo "$(printf '%s\n' "$symbols" | wc -l) Foundation symbols, e.g.:"
  printf '%s\n' "$symbols" | head -5
  status=1
fi
echo "needs: $(printf '%s\n' "$needed" | tr '\n' ' ')"
if [ "$status" -ne 0 ]; then
  echo "something pulls Foundation back in: find the module whose objects autolink it with"
  echo "  for o in .build/debug/*.build/*.o; do readelf -p .swift1_autolink_entries \"\$o\" | grep -q -- '-lFoundation\$' && echo \"\$o\"; done"
fi
exit "$status"
