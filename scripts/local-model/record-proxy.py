#!/usr/bin/env python3
"""A recording proxy between cma and llama-server, both on 127.0.0.1: every request body and the
server's answer go to a JSON-lines file, so two runs can be compared request by request (which
request first differed, and whether what was sent to the model was the same). Standard library
only; a streamed answer (text/event-stream) is passed on line by line and recorded assembled.

    scripts/local-model/record-proxy.py --listen 8090 --upstream 8089 --log requests.jsonl
    scripts/local-model/record-proxy.py --upstream 8089 --log requests.jsonl --replay 3 \
        [--replace OLD=NEW] [--no-cache-prompt]

    scripts/local-model/record-proxy.py --log a.jsonl --compare b.jsonl
    scripts/local-model/record-proxy.py --log a.jsonl --stats

--stats: from llama-server's `timings` in each recorded answer, the time to first token (its
prompt evaluation: what the server had to evaluate after its prompt cache) and tokens per second.

--fix-run-id replaces each run id in what is sent with one fixed id of the same shape, so two
`cma run`s send the model the same prompt (the id is in every store's name and mount path):
to tell the server's determinism from the prompts' differences.
--compare pairs two recordings request by request and says whether what was sent (with each
run id, e.g. 20261207T053813Z-6577, replaced by RUN) and what came back are the same.
--replay N sends the N-th recorded request again (with each OLD text replaced by NEW, e.g. one
run's id by another's) and says whether the reply is the recorded one.
"""

import argparse
import http.server
import json
import re
import threading
import time
import urllib.error
import urllib.request


def assemble_sse(text):
    """A streamed answer (chat completions or Messages API) put back into the shape of the
    unstreamed one, so --stats, --compare and --replay read both."""
    events = []
    for line in text.splitlines():
        if line.startswith("data:"):
            data = line[5:].strip()
            if data and data != "[DONE]":
                try:
                    events.append(json.loads(data))
                except ValueError:
                    pass
    if any("choices" in e for e in events):
        text, calls, finish, usage, timings = "", {}, None, None, None
        for e in events:
            usage = e.get("usage") or usage
            timings = e.get("timings") or timings
            for c in e.get("choices") or []:
                finish = c.get("finish_reason") or finish
                d = c.get("delta") or {}
                text += d.get("content") or ""
                for tc in d.get("tool_calls") or []:
                    call = calls.setdefault(tc.get("index", 0), {"type": "function", "function": {"name": "", "arguments": ""}})
                    call["id"] = tc.get("id") or call.get("id")
                    f = tc.get("function") or {}
                    call["function"]["name"] += f.get("name") or ""
                    call["function"]["arguments"] += f.get("arguments") or ""
        message = {"content": text or None, "tool_calls": [calls[i] for i in sorted(calls)] or None}
        return {"choices": [{"message": message, "finish_reason": finish}], "usage": usage,
                "timings": timings, "streamed": True}
    blocks, stop, usage, timings = {}, None, {}, None
    for e in events:
        timings = e.get("timings") or timings
        if e.get("type") == "message_start":
            usage.update((e.get("message") or {}).get("usage") or {})
        elif e.get("type") == "content_block_start":
            blocks[e["index"]] = dict(e.get("content_block") or {}, partial_json="")
        elif e.get("type") == "content_block_delta":
            b, d = blocks.setdefault(e["index"], {"type": "text", "text": ""}), e.get("delta") or {}
            b["text"] = b.get("text", "") + (d.get("text") or "") if d.get("type") == "text_delta" else b.get("text")
            b["partial_json"] = b.get("partial_json", "") + (d.get("partial_json") or "")
        elif e.get("type") == "message_delta":
            stop = (e.get("delta") or {}).get("stop_reason") or stop
            usage.update(e.get("usage") or {})
    content = []
    for i in sorted(blocks):
        b = blocks[i]
        if b.get("type") == "tool_use":
            try:
                b["input"] = json.loads(b["partial_json"]) if b["partial_json"] else b.get("input")
            except ValueError:
                b["input"] = b["partial_json"]
        b.pop("partial_json", None)
        if b.get("text") is None:
            b.pop("text", None)
        content.append(b)
    return {"content": content, "stop_reason": stop, "usage": usage, "timings": timings, "streamed": True}


def parse_body(b):
    if b and b.lstrip()[:6] in (b"data: ", b"event:"):
        return assemble_sse(b.decode(errors="replace"))
    try:
        return json.loads(b) if b else None
    except ValueError:
        return {"raw": b[:2000].decode(errors="replace")}


def reply_of(response):
    """The text and tool calls of a chat completion or a Messages API response."""
    if not isinstance(response, dict):
        return response
    if "choices" in response:
        m = (response["choices"] or [{}])[0].get("message") or {}
        return {"text": m.get("content"), "tool_calls": m.get("tool_calls")}
    blocks = response.get("content") or []
    return {"text": "".join(b.get("text", "") for b in blocks if b.get("type") == "text"),
            "tool_calls": [b for b in blocks if b.get("type") == "tool_use"]}


RUN_ID = re.compile(r"\d{8}t\d{6}z-[0-9a-f]{4}", re.I)
FIXED_ID = "20260101t000000z-0000"


def compare(args):
    a = [json.loads(line) for line in open(args.log)]
    b = [json.loads(line) for line in open(args.compare)]
    same_in = same_out = 0
    for x, y in zip(a, b):
        rx, ry = (RUN_ID.sub("RUN", json.dumps(e["request"], sort_keys=True)) for e in (x, y))
        ox, oy = (RUN_ID.sub("RUN", json.dumps(reply_of(e["response"]), sort_keys=True)) for e in (x, y))
        same_in += rx == ry
        same_out += ox == oy
        print(f"#{x['seq']:3} request {'same' if rx == ry else 'DIFFERS'}, reply {'same' if ox == oy else 'DIFFERS'}"
              f"{'' if ox == oy else ': ' + repr(ox[:90]) + ' / ' + repr(oy[:90])}")
    print(f"{len(a)} and {len(b)} requests; of the first {min(len(a), len(b))}: "
          f"{same_in} sent the same, {same_out} same replies")


def stats(args):
    rows = [json.loads(line) for line in open(args.log)]
    t = [r["response"].get("timings") for r in rows if isinstance(r.get("response"), dict)]
    t = [x for x in t if x]
    errors = [r for r in rows if r["status"] != 200]
    if not t:
        print(f"{len(rows)} requests, {len(errors)} not 200, no timings")
        return

    def q(xs, p):
        xs = sorted(xs)
        return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]

    ttft = [x["prompt_ms"] / 1000 for x in t]
    evaluated = [x["prompt_n"] for x in t]
    cached = [x.get("cache_n", 0) for x in t]
    gen = [x["predicted_n"] for x in t]
    tps = [x["predicted_per_second"] for x in t if x["predicted_n"] > 1]
    pps = [x["prompt_per_second"] for x in t if x["prompt_n"] > 50]
    total = [r["seconds"] for r in rows]
    print(f"{len(rows)} requests ({len(errors)} not 200); per request: time to first token median "
          f"{q(ttft, 50):.1f} s, p90 {q(ttft, 90):.1f} s, max {max(ttft):.1f} s; prompt tokens evaluated "
          f"median {q(evaluated, 50)} (max {max(evaluated)}), from cache median {q(cached, 50)}; prompt "
          f"eval {q(pps, 50) if pps else float('nan'):.0f} tok/s (uncached prompts > 50 tokens); generated "
          f"median {q(gen, 50)} tokens (max {max(gen)}) at median {q(tps, 50) if tps else float('nan'):.1f} tok/s "
          f"(min {min(tps) if tps else float('nan'):.1f}, max {max(tps) if tps else float('nan'):.1f}); "
          f"request median {q(total, 50):.1f} s, max {max(total):.1f} s")


def replay(args):
    entries = [json.loads(line) for line in open(args.log)]
    entry = next(e for e in entries if e["seq"] == args.replay)
    body = json.dumps(entry["request"])
    for pair in args.replace:
        old, new = pair.split("=", 1)
        body = body.replace(old, new)
    request = json.loads(body)
    if args.no_cache_prompt:
        request["cache_prompt"] = False
    req = urllib.request.Request(f"http://127.0.0.1:{args.upstream}{entry['path']}",
                                 data=json.dumps(request).encode(),
                                 headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=1800) as r:
        got = reply_of(parse_body(r.read()))
    want = reply_of(entry["response"])
    print(json.dumps({"seq": args.replay, "same_as_recorded": got == want, "recorded": want, "replayed": got},
                     indent=2))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--listen", type=int, default=8090)
    ap.add_argument("--upstream", type=int, default=8089)
    ap.add_argument("--log", required=True)
    ap.add_argument("--replay", type=int)
    ap.add_argument("--replace", action="append", default=[])
    ap.add_argument("--no-cache-prompt", action="store_true")
    ap.add_argument("--compare", metavar="OTHER_LOG")
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--fix-run-id", action="store_true")
    args = ap.parse_args()
    if args.stats:
        return stats(args)
    if args.compare:
        return compare(args)
    if args.replay is not None:
        return replay(args)
    upstream = f"http://127.0.0.1:{args.upstream}"
    lock = threading.Lock()
    seq = [0]

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *_):
            pass

        def forward(self, method):
            length = int(self.headers.get("content-length") or 0)
            body = self.rfile.read(length) if length else None
            if body and args.fix_run_id:
                body = RUN_ID.sub(lambda m: FIXED_ID.upper() if m.group()[8] == "T" else FIXED_ID,
                                  body.decode()).encode()
            headers = {"content-type": self.headers.get("content-type", "application/json")}
            req = urllib.request.Request(upstream + self.path, data=body, method=method, headers=headers)
            t0 = time.time()
            try:
                r = urllib.request.urlopen(req, timeout=1800)
                status, ctype = r.status, r.headers.get("content-type", "")
            except urllib.error.HTTPError as e:
                r, status, ctype = e, e.code, e.headers.get("content-type", "")
            except OSError as e:
                r, status, ctype = None, 502, "application/json"
                raw = json.dumps({"proxy_error": str(e)}).encode()
            self.send_response(status)
            self.send_header("content-type", ctype or "application/json")
            first_byte = None
            if r is not None and ctype.startswith("text/event-stream"):
                # Passed on line by line: cma's stall timeout must see the server's bytes as they come.
                self.send_header("connection", "close")
                self.end_headers()
                lines = []
                while line := r.readline():
                    first_byte = first_byte or time.time()
                    lines.append(line)
                    self.wfile.write(line)
                    self.wfile.flush()
                raw = b"".join(lines)
                self.close_connection = True
            else:
                if r is not None:
                    raw = r.read()
                self.send_header("content-length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)
            if r is not None:
                r.close()
            t1 = time.time()
            if method == "POST":
                parse = parse_body
                with lock:
                    seq[0] += 1
                    entry = {"seq": seq[0], "path": self.path, "start": t0, "seconds": round(t1 - t0, 3),
                             "first_byte_seconds": round(first_byte - t0, 3) if first_byte else None,
                             "status": status, "request": parse(body), "response": parse(raw)}
                    with open(args.log, "a") as f:
                        f.write(json.dumps(entry) + "\n")

        def do_POST(self):
            self.forward("POST")

        def do_GET(self):
            self.forward("GET")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", args.listen), Handler)
    server.serve_forever()


if __name__ == "__main__":
    main()
