"""The official Python SDK's SSE decoder (anthropic._streaming.SSEDecoder) over a file of raw SSE
bytes, fed in fixed-size chunks, best of N runs. Prints one JSON object with MiB/s.

Usage: python_sse.py FILE [CHUNK_BYTES] [ITERATIONS]
"""

import json
import sys
import time

from anthropic._streaming import SSEDecoder


def main():
    path = sys.argv[1]
    chunk = int(sys.argv[2]) if len(sys.argv) > 2 else 65536
    iterations = int(sys.argv[3]) if len(sys.argv) > 3 else 3
    data = open(path, "rb").read()
    chunks = [data[i : i + chunk] for i in range(0, len(data), chunk)]
    best = float("inf")
    frames = 0
    for _ in range(iterations):
        started = time.perf_counter()
        frames = sum(1 for _ in SSEDecoder().iter_bytes(iter(chunks)))
        best = min(best, time.perf_counter() - started)
    print(json.dumps({"bytes": len(data), "chunk": chunk, "frames": frames, "best_seconds": best,
                      "mib_per_second": len(data) / best / (1 << 20)}))


if __name__ == "__main__":
    main()
