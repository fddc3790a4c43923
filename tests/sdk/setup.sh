#!/usr/bin/env bash
# Installs the official SDKs for the drop-in tests (idempotent: each is skipped when already installed
# at the pinned version):
#   - Python `anthropic` (tests/sdk/requirements.txt) into target/sdk-venv,
#   - TypeScript `@anthropic-ai/sdk` (tests/sdk/package.json + package-lock.json) into tests/sdk/node_modules.
# The Rust tests find them there; CI=true makes those tests fail instead of skip when one is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."

python_sdk() {
  local venv=target/sdk-venv
  if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import anthropic, standardwebhooks, sys; sys.exit(anthropic.__version__ != "2.10.0")' 2>/dev/null; then
    return 0
  fi
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
  "$venv/bin/python" -c 'import anthropic; print("official Python SDK", anthropic.__version__, "ready in target/sdk-venv")'
}

typescript_sdk() {
  local version=1.13.0
  local installed=tests/sdk/node_modules/@anthropic-ai/sdk/package.json
  if [ -f "$installed" ] && command -v node >/dev/null &&
    [ "$(node -p 'require(process.argv[1]).version' "$PWD/$installed" 2>/dev/null)" = "$version" ]; then
    return 0
  fi
  if ! command -v npm >/dev/null; then
    echo "tests/sdk/setup.sh: npm (with node >= 20) is needed to install the official TypeScript SDK" >&2
    return 1
  fi
  # `npm ci` installs exactly what package-lock.json pins (and fails if it disagrees with package.json).
  npm ci --prefix tests/sdk --no-audit --no-fund --loglevel=error
  echo "official TypeScript SDK @anthropic-ai/sdk $(node -p 'require(process.argv[1]).version' "$PWD/$installed") ready in tests/sdk/node_modules"
}

python_sdk
typescript_sdk
