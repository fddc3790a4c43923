#!/usr/bin/env python3
"""A self-hosted session served by the official Python SDK's `EnvironmentWorker` (`anthropic==2.10.0`,
unchanged) against the server at ANTHROPIC_BASE_URL (the cma emulator, on 127.0.0.1).

The worker claims the session's work item with the SDK's own poller (poll with `block_ms`, ack), then
`EnvironmentWorker.handle_item` serves it exactly as `run()` does for each item: it heartbeats the lease,
downloads the memory store to its mount path, executes the agent's tool calls with the SDK's local
agent toolset and answers each with `user.tool_result`, stops once the turn has idled `end_turn`
(after `max_idle`), syncs the store back through the memory API and force-stops the item.

    ANTHROPIC_BASE_URL=http://127.0.0.1:8080 python tests/sdk/self_hosted_worker.py

The store is mounted where the session says (`/mnt/memory/<slug>`), as the worker always does, so the
script needs to be able to create that folder; the store's name is unique per run, and the worker removes
the folder when it is done.

Exits 0 and prints `self-hosted worker OK` on success; prints `FAIL: <reason>` and exits 1 otherwise.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import traceback
import uuid
from typing import Any

import anthropic
from anthropic import AsyncAnthropic

MODEL = "claude-sonnet-4-6"
TIMEOUT = float(os.environ.get("SELF_HOSTED_TIMEOUT", "60"))
ENVIRONMENT_KEY = "env-key-emulator-test"
MESSAGE = "Hi! A few things about me: I wear a size medium and I only buy vegan leather."


class FlowFailure(Exception):
    pass


def check(cond: Any, msg: str) -> None:
    if not cond:
        raise FlowFailure(msg)


async def flow(client: AsyncAnthropic) -> None:
    suffix = uuid.uuid4().hex[:8]
    store = await client.beta.memory_stores.create(
        name=f"Worker Notes {suffix}", description="What the shopper told us."
    )
    env = await client.beta.environments.create(name=f"my-hosts-{suffix}", config={"type": "self_hosted"})
    check(env.config.type == "self_hosted", f"environment config is {env.config.type}")
    agent = await client.beta.agents.create(
        name="Personal Shopper",
        model=MODEL,
        tools=[{"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "always_allow"}}}],
    )
    session = await client.beta.sessions.create(
        agent=agent.id,
        environment_id=env.id,
        resources=[{"type": "memory_store", "memory_store_id": store.id}],
    )
    mount = session.resources[0].mount_path
    check(mount and mount.startswith("/mnt/memory/"), f"unexpected mount path {mount!r}")
    check(not os.path.exists(mount), f"{mount} already exists; the worker refuses to mount over it")
    print(f"session {session.id} in self-hosted {env.id}, store mounted at {mount}")

    queued = [w async for w in client.beta.environments.work.list(env.id)]
    check(len(queued) == 1 and queued[0].data.id == session.id, f"expected one work item, got {queued}")
    check(queued[0].state == "queued", f"work item is {queued[0].state}")

    sent = await client.beta.sessions.events.send(
        session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": MESSAGE}]}]
    )
    check(sent.data[0].type == "user.message", "the message was not echoed")

    worker = client.beta.environments.work.worker(
        environment_id=env.id,
        environment_key=ENVIRONMENT_KEY,
        workdir=tempfile.mkdtemp(prefix="cma-worker-"),
        max_idle=1.0,
    )
    served = []
    async for item in client.beta.environments.work.poller(
        environment_id=env.id, environment_key=ENVIRONMENT_KEY, drain=True, auto_stop=False
    ):
        acked = await client.beta.environments.work.retrieve(item.id, environment_id=env.id)
        check(acked.state == "starting", f"the poller acknowledges what it yields; the item is {acked.state}")
        check(item.secret, "the polled item carries no secret")
        await worker.handle_item(
            work_id=item.id,
            environment_id=item.environment_id,
            session_id=item.data.id,
            environment_key=ENVIRONMENT_KEY,
            work_secret=item.secret,
        )
        served.append(item.id)
    check(served == [queued[0].id], f"served {served}, expected {queued[0].id}")
    check(not os.path.exists(mount), f"the worker left {mount} behind")

    events = [e async for e in client.beta.sessions.events.list(session.id, limit=1000)]
    kinds = [e.type for e in events]
    uses = [e for e in events if e.type == "agent.tool_use"]
    results = {e.tool_use_id: e for e in events if e.type == "user.tool_result"}
    check(uses, f"the agent made no tool call: {kinds}")
    for use in uses:
        check(use.id in results, f"tool call {use.name} {use.id} has no user.tool_result from the worker")
        check(not results[use.id].is_error, f"the worker's {use.name} failed: {results[use.id].content}")
    check("agent.tool_result" not in kinds, "a tool ran in the emulator's sandbox, not on the worker")
    idles = [e for e in events if e.type == "session.status_idle"]
    check(idles and idles[-1].stop_reason.type == "end_turn", f"the turn did not end: {kinds[-3:]}")
    check(
        any(i.stop_reason.type == "requires_action" for i in idles),
        "no idle requires_action while the worker ran the tools",
    )
    print(f"{len(uses)} tool calls ran on the worker: {', '.join(u.name for u in uses)}")

    memories = [m async for m in client.beta.memory_stores.memories.list(store.id, view="full")]
    check(memories, "the worker's sync wrote no memory")
    text = "\n".join(m.content or "" for m in memories)
    check("vegan leather" in text.lower(), f"the synced memory does not hold the fact: {text!r}")
    versions = [v async for v in client.beta.memory_stores.memory_versions.list(store.id)]
    writers = {v.created_by.type for v in versions if v.created_by}
    check(writers == {"session_actor"}, f"the memory was written by {writers}, not the session's worker")
    for m in memories:
        print(f"synced {m.path}: {m.content!r}")

    work = await client.beta.environments.work.retrieve(queued[0].id, environment_id=env.id)
    check(work.state == "stopped", f"the worker left the item {work.state}")
    check(work.latest_heartbeat_at, "the worker never heartbeated")


async def main() -> int:
    base_url = os.environ.get("ANTHROPIC_BASE_URL")
    if not base_url:
        print("FAIL: set ANTHROPIC_BASE_URL to the emulator", file=sys.stderr)
        return 1
    print(f"anthropic {anthropic.__version__}")
    client = AsyncAnthropic(
        api_key=os.environ.get("ANTHROPIC_API_KEY", "sk-ant-emulator-test"),
        timeout=TIMEOUT,
        _strict_response_validation=True,
    )
    try:
        await asyncio.wait_for(flow(client), timeout=TIMEOUT * 2)
    except FlowFailure as e:
        print(f"\nFAIL: {e}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - any SDK error fails the run with its trace
        traceback.print_exc()
        print(f"\nFAIL: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    finally:
        await client.close()
    print("\nself-hosted worker OK")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
