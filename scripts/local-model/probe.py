#!/usr/bin/env python3
"""Asks a running llama-server directly, before cma is involved: does the model call tools on
each protocol, how fast is it, and do two requests at temperature 0 with a seed give the same
reply? Standard library only; talks to 127.0.0.1 only.

    scripts/local-model/probe.py [--port 8089] [--out probe.json]
    scripts/local-model/probe.py --protocols chat_completions --prompts explicit --repeat 1

--no-cache-prompt sends `cache_prompt: false` (llama-server evaluates the whole prompt again
instead of reusing the slot's cached prefix), to tell cache effects from sampling.
"""

import argparse
import json
import pathlib
import sys
import time
import urllib.error
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
TOOLSET = HERE.parent.parent / "crates/emulator/src/agent/model/toolset_20260401.json"

# The shape of the system prompt cma renders (crates/emulator/src/agent/prompt.rs), short.
SYSTEM = """You help customers of a shoe shop, and remember what they tell you.

# Memory

These memory stores are mounted as directories in your sandbox.

## /mnt/memory/customer-notes
- name: Customer Notes
- description: What this customer has told the shop.
- access: read_write
- instructions: Check it at the start of every conversation and update it when you learn something new.
"""

PROMPTS = {
    "recall": "What's my shoe size?",
    "explicit": "Use the read tool to read /mnt/memory/customer-notes/preferences.md, then tell me my shoe size.",
}


def post(url, body, timeout=600):
    req = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    t0 = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            raw = r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        raw, status = e.read(), e.code
    elapsed = time.monotonic() - t0
    try:
        return status, json.loads(raw), elapsed
    except json.JSONDecodeError:
        return status, {"raw": raw[:500].decode(errors="replace")}, elapsed


OPTIONS = {"max_tokens": 128, "cache_prompt": None}


def extra():
    return {} if OPTIONS["cache_prompt"] is None else {"cache_prompt": OPTIONS["cache_prompt"]}


def chat(base, tools, user, seed):
    body = {
        "model": "local",
        "messages": [{"role": "system", "content": SYSTEM}, {"role": "user", "content": user}],
        "tools": [
            {"type": "function", "function": {"name": t["name"], "description": t["description"],
                                              "parameters": t["input_schema"]}}
            for t in tools
        ],
        "max_tokens": OPTIONS["max_tokens"],
        "temperature": 0,
        "seed": seed,
        **extra(),
    }
    status, v, elapsed = post(f"{base}/v1/chat/completions", body)
    choice = (v.get("choices") or [{}])[0]
    msg = choice.get("message") or {}
    return {
        "status": status,
        "seconds": round(elapsed, 2),
        "finish_reason": choice.get("finish_reason"),
        "text": msg.get("content"),
        "tool_calls": [
            {"name": c.get("function", {}).get("name"), "arguments": c.get("function", {}).get("arguments")}
            for c in msg.get("tool_calls") or []
        ],
        "usage": v.get("usage"),
        "timings": v.get("timings"),
        "error": v.get("error") or v.get("raw"),
    }


def messages(base, tools, user, seed):
    body = {
        "model": "local",
        "system": SYSTEM,
        "messages": [{"role": "user", "content": user}],
        "tools": tools,
        "max_tokens": OPTIONS["max_tokens"],
        "temperature": 0,
        # Not part of the Messages API; llama-server reads it from any body.
        "seed": seed,
        **extra(),
    }
    status, v, elapsed = post(f"{base}/v1/messages", body)
    content = v.get("content") or []
    return {
        "status": status,
        "seconds": round(elapsed, 2),
        "stop_reason": v.get("stop_reason"),
        "text": "".join(b.get("text", "") for b in content if b.get("type") == "text") or None,
        "tool_calls": [
            {"name": b.get("name"), "arguments": b.get("input")} for b in content if b.get("type") == "tool_use"
        ],
        "usage": v.get("usage"),
        "timings": v.get("timings"),
        "error": v.get("error") or v.get("raw"),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=8089)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--out")
    ap.add_argument("--protocols", default="chat_completions,messages")
    ap.add_argument("--prompts", default=",".join(PROMPTS))
    ap.add_argument("--repeat", type=int, default=2, help="requests per prompt (2 compares them)")
    ap.add_argument("--max-tokens", type=int, default=128)
    ap.add_argument("--no-cache-prompt", action="store_true")
    args = ap.parse_args()
    OPTIONS["max_tokens"] = args.max_tokens
    if args.no_cache_prompt:
        OPTIONS["cache_prompt"] = False
    base = f"http://127.0.0.1:{args.port}"
    tools = json.loads(TOOLSET.read_text())
    results = {}
    protocols = {"chat_completions": chat, "messages": messages}
    for proto in args.protocols.split(","):
        fn = protocols[proto]
        for name in args.prompts.split(","):
            user = PROMPTS[name]
            answers = [fn(base, tools, user, args.seed) for _ in range(args.repeat)]
            a = answers[0]
            same = all((x["text"], x["tool_calls"]) == (a["text"], a["tool_calls"]) for x in answers)
            results[f"{proto}/{name}"] = {"answers": answers, "identical": same if len(answers) > 1 else None}
            calls = [(c["name"], c["arguments"]) for c in a["tool_calls"]]
            print(f"{proto:16} {name:8} {a['seconds']:6.1f}s calls={calls} identical={same} "
                  f"text={(a['text'] or '')[:70]!r}", file=sys.stderr)
    out = json.dumps(results, indent=2)
    if args.out:
        pathlib.Path(args.out).write_text(out)
    else:
        print(out)


if __name__ == "__main__":
    main()
