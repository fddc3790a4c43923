"""The cookbook's turn loop written with the official Python SDK (anthropic==2.10.0), timed the
same way as `cma bench turns`: from just before the send to the first agent.message and to the
session.status_idle event. Run against ANTHROPIC_BASE_URL (an emulator from `cma serve`).

Prints one JSON object: {"turns": N, "first_message_ms": {...}, "idle_ms": {...}}.
"""

import json
import math
import os
import resource
import sys
import time

import anthropic

MESSAGES = [
    "Hi! I wear a size medium and my budget is under $200.",
    "What size do I wear?",
    "Can you suggest a jacket for me?",
]


def percentiles(xs):
    xs = sorted(xs)
    rank = lambda p: xs[min(len(xs), max(1, math.ceil(p * len(xs)))) - 1]
    return {"p50": rank(0.5), "p95": rank(0.95), "p99": rank(0.99), "max": xs[-1], "mean": sum(xs) / len(xs)}


def run_turn(client, session_id, text):
    started = time.perf_counter()
    first_message = None
    with client.beta.sessions.events.stream(session_id) as stream:
        client.beta.sessions.events.send(
            session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": text}]}]
        )
        for event in stream:
            if event.type == "agent.message" and first_message is None:
                first_message = time.perf_counter() - started
            elif event.type in ("session.status_idle", "session.status_terminated"):
                break
    idle = time.perf_counter() - started
    return first_message * 1000 if first_message else float("nan"), idle * 1000


def main():
    if not os.environ.get("ANTHROPIC_BASE_URL"):
        sys.exit("set ANTHROPIC_BASE_URL to an emulator (cma serve); this script must not hit the real API")
    turns = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    warmup = 1
    client = anthropic.Anthropic(api_key=os.environ.get("ANTHROPIC_API_KEY", "emulator"))
    env = client.beta.environments.create(name="compare-python")
    agent = client.beta.agents.create(
        name="compare-python",
        model="claude-sonnet-4-6",
        tools=[{"type": "agent_toolset_20260401", "default_config": {"enabled": True, "permission_policy": {"type": "always_allow"}}}],
    )
    store = client.beta.memory_stores.create(name="Compare Python Prefs")
    session = client.beta.sessions.create(
        agent=agent.id,
        environment_id=env.id,
        resources=[{"type": "memory_store", "memory_store_id": store.id, "access": "read_write"}],
    )
    firsts, idles = [], []
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_before = usage.ru_utime + usage.ru_stime
    for i in range(warmup + turns):
        first, idle = run_turn(client, session.id, MESSAGES[i % len(MESSAGES)])
        if i >= warmup:
            if not math.isnan(first):
                firsts.append(first)
            idles.append(idle)
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu_ms_per_turn = (usage.ru_utime + usage.ru_stime - cpu_before) * 1000 / (warmup + turns)
    client.beta.sessions.archive(session.id)
    client.beta.memory_stores.delete(store.id)
    client.beta.agents.archive(agent.id)
    client.beta.environments.archive(env.id)
    print(json.dumps({"turns": len(idles), "first_message_ms": percentiles(firsts), "idle_ms": percentiles(idles),
                      "process_cpu_ms_per_turn": cpu_ms_per_turn}))


if __name__ == "__main__":
    main()
