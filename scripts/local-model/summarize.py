#!/usr/bin/env python3
"""Summarises a `cma run` against a local model: checks passed per scenario, time per turn,
model calls and tool calls per turn, errors; and, given llama-server's log, its own per-request
timings (prompt and generation tokens per second). Standard library only.

    scripts/local-model/summarize.py RUN_JSON [--server-log LOG]
    scripts/local-model/summarize.py RUN_JSON --compare OTHER_RUN_JSON

--compare lines up the two runs' turns (scenario, customer, visit, turn) and says, per turn,
whether the replies and tool calls are the same, and where the first differing reply parts. The
run id is replaced by RUN in both (it is in the mount path, so in replies that quote it).
"""

import argparse
import collections
import json
import re
import statistics
import sys


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] if xs else float("nan")


def run_summary(path):
    d = json.load(open(path))
    print(f"run {d['run_id']}  settings {json.dumps(d['settings'])}")
    print(f"totals {json.dumps(d['totals'])}")
    per = collections.OrderedDict()
    for c in d["checks"]:
        s = per.setdefault(c["scenario"], [0, 0])
        s[0] += 1 if c["ok"] else 0
        s[1] += 1
    print("\n| scenario | checks passed |\n|---|---|")
    for name, (ok, n) in per.items():
        print(f"| {name} | {ok}/{n} |")
    turn_s, calls, tool_calls, stops, replies = [], [], collections.Counter(), collections.Counter(), []
    errors = []
    for u in d["units"]:
        if u.get("error"):
            errors.append(f"{u['scenario']}/{u['customer']['id']}: {u['error']}")
        for v in u["visits"]:
            for t in v["turns"]:
                tm = t.get("timings") or {}
                if tm.get("total_ms") is not None:
                    turn_s.append(tm["total_ms"] / 1000)
                n = sum(1 for e in t["events"] if e["type"] == "span.model_request_start")
                calls.append(n)
                for tu in t["tool_uses"]:
                    tool_calls[tu["name"] + (" (error)" if tu.get("is_error") else "")] += 1
                stops[t.get("stop_reason") or t.get("status")] += 1
                for e in t["events"]:
                    if e["type"] == "session.error":
                        errors.append(f"{u['scenario']}/{u['customer']['id']} v{t['visit']}t{t['turn']}: "
                                      f"{json.dumps(e.get('error'))[:300]}")
                replies.append((u["scenario"], u["customer"]["id"], t["visit"], t["turn"], t["user"],
                                (t.get("reply") or "")[:160]))
    if turn_s:
        print(f"\nturns {len(turn_s)}: seconds per turn median {statistics.median(turn_s):.1f}, "
              f"p90 {pct(turn_s, 90):.1f}, max {max(turn_s):.1f}, total {sum(turn_s):.0f}")
    print(f"model calls per turn: {dict(collections.Counter(calls))}")
    print(f"tool calls: {dict(tool_calls) or 'none'}")
    print(f"turn ends: {dict(stops)}")
    print(f"errors ({len(errors)}):")
    for e in errors[:40]:
        print(f"  {e}")
    print("\nreplies:")
    for r in replies:
        print(f"  {r[0]}/{r[1]} v{r[2]}t{r[3]} {r[4][:60]!r} -> {r[5]!r}")


TIMING = re.compile(
    r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens.*?([\d.]+) tokens per second.*?"
    r"eval time =\s*([\d.]+) ms /\s*(\d+) tokens.*?([\d.]+) tokens per second",
    re.S,
)


def server_summary(path):
    text = open(path, errors="replace").read()
    rows = [tuple(float(x) for x in m.groups()) for m in TIMING.finditer(text)]
    if not rows:
        print("\nserver log: no timings found")
        return
    p_ms = [r[0] for r in rows]
    p_tok = [r[1] for r in rows]
    p_tps = [r[2] for r in rows]
    g_tok = [r[4] for r in rows]
    g_tps = [r[5] for r in rows if r[4] > 0]
    print(f"\nserver: {len(rows)} requests; prompt tokens evaluated (after cache) median "
          f"{statistics.median(p_tok):.0f}, max {max(p_tok):.0f}; prompt eval median "
          f"{statistics.median(p_ms) / 1000:.1f} s (time to first token, ≈), "
          f"{statistics.median(p_tps):.0f} tok/s; generated median {statistics.median(g_tok):.0f} "
          f"tokens at {statistics.median(g_tps) if g_tps else float('nan'):.1f} tok/s")


def turns(path):
    d = json.load(open(path))
    run_id = d["run_id"]
    out = collections.OrderedDict()
    for u in d["units"]:
        for v in u["visits"]:
            for t in v["turns"]:
                key = (u["scenario"], u["customer"]["id"], t["visit"], t["turn"])
                reply = (t.get("reply") or "").replace(run_id, "RUN").replace(run_id.lower(), "RUN")
                calls = [(tu["name"], json.dumps(tu.get("input"), sort_keys=True).replace(run_id.lower(), "RUN"))
                         for tu in t["tool_uses"]]
                out[key] = (reply, calls)
    return out


def compare(a_path, b_path):
    a, b = turns(a_path), turns(b_path)
    same = 0
    for key in a.keys() | b.keys():
        if key not in a or key not in b:
            print(f"  {'/'.join(map(str, key))}: only in {'first' if key in a else 'second'} run")
            continue
        if a[key] == b[key]:
            same += 1
            continue
        ra, rb = a[key][0], b[key][0]
        at = next((i for i, (x, y) in enumerate(zip(ra, rb)) if x != y), min(len(ra), len(rb)))
        print(f"  {'/'.join(map(str, key))}: differ at character {at}"
              f"{' (tool calls differ)' if a[key][1] != b[key][1] else ''}\n"
              f"    first:  {ra[max(0, at - 40):at + 80]!r}\n    second: {rb[max(0, at - 40):at + 80]!r}")
    print(f"identical turns: {same} of {len(a.keys() | b.keys())}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("run_json")
    ap.add_argument("--server-log")
    ap.add_argument("--compare", metavar="OTHER_RUN_JSON")
    args = ap.parse_args()
    if args.compare:
        compare(args.run_json, args.compare)
        return
    run_summary(args.run_json)
    if args.server_log:
        server_summary(args.server_log)


if __name__ == "__main__":
    sys.exit(main())
