#!/usr/bin/env python3
"""The official Python SDK's session tool runner (`client.beta.sessions.events.tool_runner`,
anthropic==2.10.0), unchanged, against the server at ANTHROPIC_BASE_URL (the cma emulator).

Two flows, each on its own session of the emulator's reference agent (which calls a custom tool its
customer's message names, with the JSON object that follows the name as input):

1. custom: the runner owns `lookup_order`, runs it when the agent calls it, posts the
   `user.custom_tool_result`, and the agent's reply quotes the result;
2. always_ask: the agent's toolset is under `always_ask` and a memory store is mounted, so its
   listing `bash` call waits for a confirmation; this script confirms it (`allow`), the runner
   holds the call until then and leaves it to the server (it owns only `lookup_order`), then
   answers the custom call as in 1.

Strict response validation is on: any event the SDK's models reject fails the run.
Exits 0 and prints `tool runner OK` on success.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any, List

from anthropic import AsyncAnthropic, beta_async_tool

MODEL = os.environ.get("COOKBOOK_MODEL", "claude-sonnet-4-6")
TIMEOUT = float(os.environ.get("SEED_FLOW_TIMEOUT", "60"))
MESSAGE = 'Where is my parcel? lookup_order {"order_id": "A17"}'


class Failure(Exception):
    pass


def check(cond: Any, msg: str) -> None:
    if not cond:
        raise Failure(msg)


@beta_async_tool
async def lookup_order(order_id: str) -> str:
    """Look up an order by its id.

    Args:
        order_id: The order's id.
    """
    return f"Order {order_id} left the depot today"


def client() -> AsyncAnthropic:
    base_url = os.environ.get("ANTHROPIC_BASE_URL", "")
    check(base_url and "api.anthropic.com" not in base_url, "point ANTHROPIC_BASE_URL at the emulator")
    return AsyncAnthropic(
        api_key=os.environ.get("ANTHROPIC_API_KEY") or "sk-ant-emulator-placeholder",
        base_url=base_url,
        timeout=TIMEOUT,
        _strict_response_validation=True,
    )


async def confirm_asks(c: AsyncAnthropic, session_id: str, verdicts: List[str]) -> None:
    """Answers every `ask` tool use with `allow` until the turn ends: the stream is opened first,
    then the history is read (events before the stream connected are there), de-duplicated by id."""

    async def handle(ev: Any) -> bool:
        if ev.type == "agent.tool_use" and ev.evaluated_permission == "ask" and ev.id not in verdicts:
            verdicts.append(ev.id)
            await c.beta.sessions.events.send(
                session_id,
                events=[{"type": "user.tool_confirmation", "tool_use_id": ev.id, "result": "allow"}],
            )
        return ev.type == "session.status_idle" and ev.stop_reason.type != "requires_action"

    async with await c.beta.sessions.events.stream(session_id) as stream:
        async for ev in c.beta.sessions.events.list(session_id, limit=1000):
            if await handle(ev):
                return
        async for ev in stream:
            if await handle(ev):
                return


async def run_flow(c: AsyncAnthropic, env_id: str, name: str, tools: List[dict], store_id: str | None) -> None:
    print(f"== {name}", flush=True)
    agent = await c.beta.agents.create(name=f"Order desk ({name})", model=MODEL, tools=tools)
    resources = [{"type": "memory_store", "memory_store_id": store_id}] if store_id else []
    session = await c.beta.sessions.create(
        agent={"type": "agent", "id": agent.id, "version": agent.version},
        environment_id=env_id,
        resources=resources,
    )
    calls = []

    async def drive() -> None:
        async for call in c.beta.sessions.events.tool_runner(session.id, tools=[lookup_order], max_idle=1.0):
            print(f"  runner: {call.name} posted={call.posted} confirmation={call.confirmation}", flush=True)
            calls.append(call)

    runner = asyncio.create_task(drive())
    verdicts: List[str] = []
    confirmer = asyncio.create_task(confirm_asks(c, session.id, verdicts)) if store_id else None
    # The runner and the confirmer read the history first, so sending now loses nothing.
    await c.beta.sessions.events.send(
        session.id, events=[{"type": "user.message", "content": [{"type": "text", "text": MESSAGE}]}]
    )
    await asyncio.wait_for(runner, TIMEOUT)
    if confirmer:
        await asyncio.wait_for(confirmer, TIMEOUT)

    custom = [x for x in calls if x.name == "lookup_order"]
    check(len(custom) == 1, f"the runner should answer one lookup_order call, got {calls!r}")
    check(custom[0].posted and not custom[0].is_error, f"the lookup_order result was not posted: {custom[0]!r}")
    check(custom[0].event.input == {"order_id": "A17"}, f"wrong input {custom[0].event.input!r}")
    events = [e async for e in c.beta.sessions.events.list(session.id, limit=1000)]
    kinds = [e.type for e in events]
    idles = [e for e in events if e.type == "session.status_idle"]
    check(idles and idles[-1].stop_reason.type == "end_turn", f"the turn should end normally: {kinds}")
    check("requires_action" in [i.stop_reason.type for i in idles], f"the session never waited: {kinds}")
    replies = [b.text for e in events if e.type == "agent.message" for b in e.content if b.type == "text"]
    check(
        any("lookup_order returned: Order A17 left the depot today" in r for r in replies),
        f"the reply should quote the tool's result: {replies!r}",
    )
    if store_id:
        asked = [x for x in calls if x.confirmation == "allow"]
        check(verdicts and len(asked) == len(verdicts), f"each confirmed call should be yielded: {calls!r}")
        check(all(not x.posted for x in asked), "the runner owns no toolset tool, so it posts nothing for them")
        results = [e for e in events if e.type == "agent.tool_result" and e.tool_use_id in verdicts]
        check(len(results) == len(verdicts) and not any(r.is_error for r in results), "the server runs allowed calls")
    print(f"  {len(calls)} calls, events: {' '.join(kinds)}", flush=True)


async def main() -> int:
    c = client()
    try:
        env = await c.beta.environments.create(
            name="orders", config={"type": "cloud", "networking": {"type": "limited"}}
        )
        custom_tool = {
            "type": "custom",
            "name": "lookup_order",
            "description": "Look up an order by its id.",
            "input_schema": {"type": "object", "properties": {"order_id": {"type": "string"}}},
        }
        await run_flow(c, env.id, "custom", [custom_tool], None)
        store = await c.beta.memory_stores.create(name="Order notes")
        ask = {"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "always_ask"}}}
        await run_flow(c, env.id, "always_ask", [ask, custom_tool], store.id)
    except Failure as e:
        print(f"FAIL: {e}", flush=True)
        return 1
    print("tool runner OK", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
