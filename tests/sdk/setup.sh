#!/usr/bin/env bash
# Installs the official Python SDK into target/sdk-venv for the drop-in tests (idempotent).
# The Rust tests find it there; CI=true makes those tests fail instead of skip when it is missing.
set -euo pipefail
cd "$(dirname "$0")/../.."
venv=target/sdk-venv
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c 'import anthropic, sys; sys.exit(anthropic.__version__ != "2.10.0")' 2>/dev/null; then
  exit 0
fi
python3 -m venv "$venv"
"$venv/bin/pip" install --quiet --disable-pip-version-check -r tests/sdk/requirements.txt
"$venv/bin/python" -c 'import anthropic; print("official SDK", anthropic.__version__, "ready in target/sdk-venv")'
