#!/usr/bin/env bash
# Everything the test suite needs beyond a Rust toolchain, installed when missing (idempotent):
#   - Debian's bubblewrap (the agent's real shell), python3 in /usr/bin (the sandbox's fork and
#     memory probes run it inside, where only the host's /usr is) and chromium (the run page's
#     browser test), with apt-get as root or through sudo;
#   - the official Python and TypeScript SDKs for the drop-in tests (tests/sdk/setup.sh).
# Under CI=true the tests that need one of these fail when it is missing instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v bwrap >/dev/null 2>&1 || missing+=(bubblewrap)
[ -x /usr/bin/python3 ] || missing+=(python3)
command -v chromium >/dev/null 2>&1 || [ -n "${CHROMIUM:-}" ] || missing+=(chromium)
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt=(apt-get)
  elif command -v sudo >/dev/null 2>&1; then
    apt=(sudo apt-get)
  else
    echo "tests/setup.sh: ${missing[*]} missing and this is not root (no sudo either): install them first" >&2
    exit 1
  fi
  "${apt[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  echo "installed ${missing[*]}"
fi

tests/sdk/setup.sh
