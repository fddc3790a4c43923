#!/usr/bin/env python3
"""Session threads and webhooks with the official Python SDK (`anthropic==2.10.0`, strict response validation)
against the server at ANTHROPIC_BASE_URL (the cma emulator, on 127.0.0.1), unchanged:

- list the session's primary thread, retrieve it, stream its events through a turn, list them, archive it;
- verify the webhooks the emulator delivered with `client.beta.webhooks.unwrap(body, headers=..., key=secret)`,
  and check that a tampered body or a wrong key is refused.

The emulator must run with `--webhook <receiver>/hook --webhook-secret $WEBHOOK_SECRET`. The receiver (the Rust
test's) records each delivery's body and headers and answers `GET <receiver>/deliveries?count=N` once it has N.

Environment: ANTHROPIC_BASE_URL, WEBHOOK_SECRET, WEBHOOK_RECEIVER_URL (all required).
Exits 0 and prints `threads and webhooks OK` on success; prints `FAIL: <reason>` and exits 1 otherwise.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
import urllib.request
from typing import Any, Dict, List

from anthropic import Anthropic

TIMEOUT = 60.0


class FlowFailure(Exception):
    pass


def check(cond: Any, msg: str) -> None:
    if not cond:
        raise FlowFailure(msg)


def env(name: str) -> str:
    value = os.environ.get(name)
    if not value:
        raise FlowFailure(f"{name} is not set")
    return value


def deliveries(receiver: str, count: int) -> List[Dict[str, Any]]:
    """The first `count` deliveries the receiver got (it answers once it has them, or fails after its timeout)."""
    with urllib.request.urlopen(f"{receiver}/deliveries?count={count}", timeout=TIMEOUT) as resp:
        return json.loads(resp.read())


def flow(client: Anthropic, secret: str, receiver: str) -> None:
    environment = client.beta.environments.create(name="threads-demo", config={"type": "cloud"})
    agent = client.beta.agents.create(
        name="Personal Shopper",
        model="claude-sonnet-4-6",
        tools=[{"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "always_allow"}}}],
    )
    session = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)

    # Every session has one primary thread from the start.
    threads = list(client.beta.sessions.threads.list(session.id))
    check(len(threads) == 1, f"expected the primary thread only, got {threads!r}")
    primary = threads[0]
    check(primary.id.startswith("sthr_"), f"thread id {primary.id!r} should start with sthr_")
    check(primary.parent_thread_id is None, "the primary thread has no parent")
    check(primary.session_id == session.id and primary.type == "session_thread", "thread object fields")
    check(primary.agent.type == "agent" and primary.agent.id == agent.id, f"thread agent {primary.agent!r}")
    check(primary.status == "idle", f"a new session's thread is idle, got {primary.status!r}")
    again = client.beta.sessions.threads.retrieve(primary.id, session_id=session.id)
    check(again.id == primary.id, "retrieve returns the listed thread")

    # Stream the thread through one turn (opened before the message, as for the session stream).
    seen: List[Any] = []
    with client.beta.sessions.threads.events.stream(primary.id, session_id=session.id) as stream:
        client.beta.sessions.events.send(
            session.id,
            events=[{"type": "user.message", "content": [{"type": "text", "text": "Hi! I wear a size medium."}]}],
        )
        for event in stream:
            seen.append(event)
            if event.type == "session.status_idle":
                break
    kinds = [e.type for e in seen]
    print("thread stream:", " ".join(kinds))
    check("session.thread_status_running" in kinds, f"no session.thread_status_running on the thread: {kinds}")
    check(kinds[-2:] == ["session.thread_status_idle", "session.status_idle"], f"turn end: {kinds}")
    for e in seen:
        if e.type.startswith("session.thread_status_"):
            check(e.session_thread_id == primary.id, f"{e.type} names thread {e.session_thread_id!r}")
            check(e.agent_name == "Personal Shopper", f"{e.type} agent_name {e.agent_name!r}")
    check(seen[-2].stop_reason.type == "end_turn", "the thread idled with end_turn")

    listed = [e.id for e in client.beta.sessions.threads.events.list(primary.id, session_id=session.id, limit=5)]
    session_events = [e.id for e in client.beta.sessions.events.list(session.id, limit=1000)]
    check(listed == session_events, "the primary thread lists the session's events")
    check([e.id for e in seen] == session_events, "the thread stream carried every event of the turn")

    # Webhooks, in the order of the changes: the environment, the agent, the session, the turn's start and idle.
    expected = [
        ("environment.created", environment.id),
        ("agent.created", agent.id),
        ("session.created", session.id),
        ("session.status_run_started", session.id),
        ("session.status_idled", session.id),
    ]
    got = deliveries(receiver, len(expected))
    verified = []
    for d in got:
        event = client.beta.webhooks.unwrap(d["body"], headers=d["headers"], key=secret)
        check(event.type == "event" and event.id == d["headers"]["webhook-id"], f"webhook envelope {event!r}")
        check(event.data.workspace_id and event.data.organization_id, f"webhook data {event.data!r}")
        verified.append((event.data.type, event.data.id))
    print("webhooks:", " ".join(t for t, _ in verified))
    check(verified == expected, f"webhooks {verified}, expected {expected}")
    tampered = got[2]["body"].replace(session.id, "sesn_01forged")
    check(tampered != got[2]["body"], "the forged body differs")
    for body, key in [(tampered, secret), (got[2]["body"], "whsec_" + "A" * 32)]:
        try:
            client.beta.webhooks.unwrap(body, headers=got[2]["headers"], key=key)
        except Exception as e:  # standardwebhooks.WebhookVerificationError
            check("verif" in type(e).__name__.lower() or "signature" in str(e).lower(), f"unexpected error {e!r}")
        else:
            raise FlowFailure("unwrap accepted a forged webhook")

    archived = client.beta.sessions.threads.archive(primary.id, session_id=session.id)
    check(archived.archived_at is not None, "archive sets archived_at")


def main() -> int:
    try:
        base_url = env("ANTHROPIC_BASE_URL")
        check("api.anthropic.com" not in base_url, "this script is for the local emulator")
        client = Anthropic(
            api_key=os.environ.get("ANTHROPIC_API_KEY") or "sk-ant-emulator-placeholder",
            base_url=base_url,
            timeout=TIMEOUT,
            _strict_response_validation=True,
        )
        flow(client, env("WEBHOOK_SECRET"), env("WEBHOOK_RECEIVER_URL"))
    except Exception as e:  # report every failure the same way
        traceback.print_exc()
        print(f"FAIL: {e}")
        return 1
    print("threads and webhooks OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
