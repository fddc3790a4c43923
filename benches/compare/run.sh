#!/usr/bin/env bash
# Side by side, in one run on one machine: the cma client's turn loop and the official Python SDK's
# against the same emulator, then the two SSE decoders on the same bytes. Prints both and the ratios:
# client CPU per turn and time to idle (issue 14's targets: >= 10x and >= 5x), and SSE framing.
#
# Session pattern, the same for both: one session, one warm-up turn, then TURNS sequential turns.
# cma runs them through `SessionTurns` (one event stream kept open across the session's turns, still
# open before each send); the Python script is the cookbook's loop (a new stream per turn).
#
#   benches/compare/run.sh [TURNS]        (default 200)
set -euo pipefail
cd "$(dirname "$0")/../.."
turns=${1:-200}
tests/sdk/setup.sh >/dev/null
py=target/sdk-venv/bin/python
cargo build --release --quiet
cma=target/release/cma
work=$(mktemp -d)
trap 'kill $server 2>/dev/null || true; rm -rf "$work"' EXIT

mkfifo "$work/serve.out"
# Both clients wait on the emulator's turn; with the real (bubblewrap) shell its per-command
# processes take ~5 ms a turn and would hide the clients' difference, so the emulated shell runs
# (CMA_COMPARE_SHELL=real keeps the real one).
shell_flag=--emulated-shell
[ "${CMA_COMPARE_SHELL:-}" = real ] && shell_flag=
$cma serve --addr 127.0.0.1:0 $shell_flag >"$work/serve.out" 2>"$work/serve.err" &
server=$!
exec 3<"$work/serve.out"
# `cma serve` prints its address once it accepts connections; wait for that line, not a fixed time.
IFS= read -r -t 30 line <&3 || { echo "cma serve did not start:"; cat "$work/serve.err"; exit 1; }
url=${line#listening on }

echo "machine: $(nproc) cores, $(uname -m), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "emulator: $url (${shell_flag:-real shell}); $turns measured turns each, one session, sequential"
# Each client runs in its own process and reports the CPU time (user + system) it spent per turn
# while the turns ran: the client's own cost, free of the emulator's work (in the `cma serve` process).
# One tokio worker thread for one sequential session, as the Python client is one thread: with two,
# hyper's connection tasks and the turn hop between threads and the wake-ups cost more CPU than the
# turn's own work. (CMA_COMPARE_THREADS=2 shows the default runtime's figure.)
rust=$(TOKIO_WORKER_THREADS=${CMA_COMPARE_THREADS:-1} $cma bench turns --target "$url" --turns "$turns" --turns-per-session "$turns" --warmup 1 --json)
python=$(ANTHROPIC_BASE_URL="$url" ANTHROPIC_API_KEY=emulator $py benches/compare/python_turns.py "$turns")
echo "cma client:      $rust"
echo "official Python: $python"
python3 - "$rust" "$python" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
def verdict(ratio, target):
    return f"target >= {target}x: {'met' if ratio >= target else 'NOT met'}"
for k in ("p50", "p95"):
    ratio = p['idle_ms'][k] / r['idle_ms'][k]
    print(f"turn to idle {k}: cma {r['idle_ms'][k]:.3f} ms, python {p['idle_ms'][k]:.3f} ms, ratio python/cma = {ratio:.1f}x ({verdict(ratio, 5)})")
rc, pc = r["process_cpu_ms_per_turn"], p["process_cpu_ms_per_turn"]
ratio = pc / rc
print(f"client CPU per turn: cma {rc:.3f} ms, python {pc:.3f} ms, ratio python/cma = {ratio:.1f}x ({verdict(ratio, 10)})")
PY

$cma bench sse --mib 16 --write "$work/stream.sse" --json >/dev/null
rust_sse=$($cma bench sse --input "$work/stream.sse" --chunk 65536 --json)
python_sse=$($py benches/compare/python_sse.py "$work/stream.sse" 65536 3)
echo "cma SSE decoder:      $rust_sse"
echo "official SDK decoder: $python_sse"
python3 - "$rust_sse" "$python_sse" <<'PY'
import json, sys
r, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"SSE framing: cma {r['mib_per_second']:.0f} MiB/s, python {p['mib_per_second']:.1f} MiB/s, ratio cma/python = {r['mib_per_second'] / p['mib_per_second']:.0f}x")
PY
