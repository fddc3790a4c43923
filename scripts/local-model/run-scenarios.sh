#!/usr/bin/env bash
# Runs cma's scenarios through the local llama-server on both protocols, one unit at a time,
# reports under target/local-model/ (outside git). The server must be running (run.sh start).
#
#   scripts/local-model/run-scenarios.sh                  # scenarios/, both protocols
#   PROTOCOLS=openai scripts/local-model/run-scenarios.sh scenarios/single-fact-recall.toml
#
# Environment: PORT (default 8089), CMA (the cma binary; default target/release/cma if built,
# else target/debug/cma, built if missing), PROTOCOLS ("openai anthropic"), TURN_TIMEOUT
# (default 600s), OUT (reports root), MODEL_ID (the id sent as the model; llama-server serves
# whatever it loaded), AGENT_ARGS (default "--agent-temperature 0 --agent-seed 42").
set -euo pipefail

cd "$(dirname "$0")/../.."
PORT="${PORT:-8089}"
if [ -z "${CMA:-}" ]; then
    CMA=target/debug/cma
    [ -x target/release/cma ] && CMA=target/release/cma
fi
AGENT_ARGS="${AGENT_ARGS:---agent-temperature 0 --agent-seed 42}"
PROTOCOLS="${PROTOCOLS:-openai anthropic}"
TURN_TIMEOUT="${TURN_TIMEOUT:-600s}"
OUT="${OUT:-target/local-model/reports}"
MODEL_ID="${MODEL_ID:-qwen2.5-coder-0.5b-instruct}"
[ $# -gt 0 ] || set -- scenarios/

if [ ! -x "$CMA" ]; then
    nice -n 19 cargo build --bin cma
fi
if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "http://127.0.0.1:$PORT/health")" != 200 ]; then
    echo "no llama-server on 127.0.0.1:$PORT: scripts/local-model/run.sh start" >&2
    exit 1
fi

status=0
for proto in $PROTOCOLS; do
    case "$proto" in
    openai) url="http://127.0.0.1:$PORT/v1" ;;
    # cma appends /v1/messages to this one.
    anthropic) url="http://127.0.0.1:$PORT" ;;
    *) echo "unknown protocol $proto" >&2; exit 2 ;;
    esac
    echo "== $proto via $url" >&2
    # llama-server takes no key unless started with --api-key; cma's anthropic backend wants one.
    ANTHROPIC_API_KEY="${ANTHROPIC_API_KEY:-local-no-key}" \
        # shellcheck disable=SC2086
        "$CMA" run "$@" --agent "$proto" --agent-base-url "$url" --agent-model "$MODEL_ID" $AGENT_ARGS \
        --concurrency 1 --turn-timeout "$TURN_TIMEOUT" --progress lines \
        --reports-dir "$OUT/$proto" || status=$?
done
exit "$status"
