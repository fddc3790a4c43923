#!/usr/bin/env bash
# Starts, checks or stops the llama-server that setup.sh built, bound to 127.0.0.1 only.
#
#   scripts/local-model/run.sh start    # background; waits until /health answers 200
#   scripts/local-model/run.sh status
#   scripts/local-model/run.sh stop     # ends the server it started (by its pid file)
#
# Environment: CMA_LOCAL_MODEL_DIR (as setup.sh), MODEL_FILE (default: the qwen2.5-coder-0.5b
# GGUF in the cache), PORT (default 8089), CTX (context tokens, default 8192), THREADS
# (default 1), EXTRA_ARGS (more llama-server flags, e.g. "--parallel 1").
set -euo pipefail

CACHE="${CMA_LOCAL_MODEL_DIR:-$HOME/.cache/cma-local-model}"
MODEL_FILE="${MODEL_FILE:-$CACHE/models/qwen2.5-coder-0.5b-instruct-q4_k_m.gguf}"
PORT="${PORT:-8089}"
CTX="${CTX:-8192}"
# One thread: on a busy 2-core machine two threads wait on each other at every op (measured
# here: 0.4-1.3 generated tokens/s with 2 threads, 4.4-4.8 with 1).
THREADS="${THREADS:-1}"
PIDFILE="$CACHE/server-$PORT.pid"
LOG="$CACHE/server-$PORT.log"
URL="http://127.0.0.1:$PORT"

log() { printf '[run] %s\n' "$*" >&2; }

running() { [ -f "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null; }

case "${1:-}" in
start)
    if running; then
        log "already running (pid $(cat "$PIDFILE")) on $URL"
        exit 0
    fi
    [ -f "$MODEL_FILE" ] || { log "no model at $MODEL_FILE: run scripts/local-model/setup.sh first"; exit 1; }
    [ -x "$CACHE/venv/bin/llama-cpp-server" ] || { log "no llama-server: run scripts/local-model/setup.sh first"; exit 1; }
    # The package's launcher (not the bare binary): it makes the shared libraries' symlinks on
    # first use. --jinja applies the model's own chat template, which is what renders `tools`.
    # One slot (--parallel 1) so the whole -c is one conversation's window. --no-repack: the
    # -march=native build uses AMX, whose first ldtilecfg is a general protection fault on this
    # VM (AMX flags shown, tile state not granted); without repacking the AMX path is not used.
    # shellcheck disable=SC2086
    setsid "$CACHE/venv/bin/llama-cpp-server" --model "$MODEL_FILE" --host 127.0.0.1 --port "$PORT" \
        --ctx-size "$CTX" -- --jinja --parallel 1 --threads "$THREADS" --no-repack ${EXTRA_ARGS:-} \
        >"$LOG" 2>&1 </dev/null &
    echo $! >"$PIDFILE"
    log "started pid $(cat "$PIDFILE") on $URL (-c $CTX, log $LOG)"
    # Loading a 0.5B model takes seconds; a build or model problem ends the process early.
    for _ in $(seq 1 240); do
        if ! running; then
            tail -n 20 "$LOG" >&2
            log "the server exited during start-up"
            exit 1
        fi
        if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$URL/health")" = 200 ]; then
            log "ready: $URL"
            exit 0
        fi
        sleep 0.5
    done
    log "no healthy answer from $URL/health after 120 s; see $LOG"
    exit 1
    ;;
status)
    if running; then
        log "running (pid $(cat "$PIDFILE")) on $URL"
        curl -s --max-time 5 "$URL/props" | head -c 400 >&2 || true
        echo >&2
    else
        log "not running"
        exit 1
    fi
    ;;
stop)
    if running; then
        pid=$(cat "$PIDFILE")
        # setsid made the launcher a process-group leader: end it and its llama-server child.
        kill -- "-$pid" 2>/dev/null || kill "$pid"
        for _ in $(seq 1 40); do kill -0 "$pid" 2>/dev/null || break; sleep 0.25; done
        kill -0 "$pid" 2>/dev/null && kill -KILL -- "-$pid" 2>/dev/null
        log "stopped pid $pid"
    else
        log "not running"
    fi
    rm -f "$PIDFILE"
    ;;
*)
    echo "usage: $0 start|status|stop" >&2
    exit 2
    ;;
esac
