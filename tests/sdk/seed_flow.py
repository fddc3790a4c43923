#!/usr/bin/env python3
"""The seed cookbook flow ("Build agents that remember your users") run with the official Python SDK
(`anthropic==2.10.0`) against the server at ANTHROPIC_BASE_URL (the cma emulator, on 127.0.0.1).

Every response must parse under the SDK's own models: the client is built with
`_strict_response_validation=True`, so an unknown event type, a missing required field or a wrong type anywhere
(including inside the SSE stream) raises `APIResponseValidationError` and fails the run.

    ANTHROPIC_BASE_URL=http://127.0.0.1:8080 python tests/sdk/seed_flow.py

Environment:
    ANTHROPIC_BASE_URL   required (the script refuses to run against the default api.anthropic.com)
    ANTHROPIC_API_KEY    optional; defaults to a placeholder key the emulator accepts
    COOKBOOK_MODEL       optional; defaults to claude-sonnet-4-6 (as in the seed)
    SEED_FLOW_TIMEOUT    optional; per-request and per-stream-read timeout in seconds (default 60)

Exits 0 and prints `seed flow OK` on success; prints `FAIL: <reason>` and exits 1 on the first failed check
(after a best-effort cleanup).
"""

from __future__ import annotations

import hashlib
import os
import sys
import time
import traceback
from typing import Any, Callable, List, Optional

import anthropic
from anthropic import Anthropic, APIResponseValidationError, APIStatusError, ConflictError

MODEL = os.environ.get("COOKBOOK_MODEL", "claude-sonnet-4-6")
TIMEOUT = float(os.environ.get("SEED_FLOW_TIMEOUT", "60"))
IDLE_POLL_STEP = 0.25
IDLE_POLL_LIMIT = 30.0

VISIT_ONE = (
    "Hi! I'm looking for a new jacket. A few things about me: I wear a size "
    "medium, I only buy vegan leather (no animal leather please), my budget "
    "is usually under $200, and I love earth tones. What would you suggest?"
)
VISIT_TWO = "Hey, I'm back! I need a bag for work. Any recommendations?"
PURCHASES = "## Recent purchases\n- Canvas tote, olive, $89 (Jan 2026)\n- Wool beanie, rust, $34 (Dec 2025)\n"


class FlowFailure(Exception):
    pass


def check(cond: Any, msg: str) -> None:
    if not cond:
        raise FlowFailure(msg)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def step(title: str) -> None:
    print(f"\n== {title}", flush=True)


def make_client() -> Anthropic:
    base_url = os.environ.get("ANTHROPIC_BASE_URL")
    if not base_url:
        raise FlowFailure("ANTHROPIC_BASE_URL is not set; point it at the emulator (e.g. http://127.0.0.1:8080)")
    if "api.anthropic.com" in base_url:
        raise FlowFailure("ANTHROPIC_BASE_URL points at the real API; this script is for the local emulator")
    api_key = os.environ.get("ANTHROPIC_API_KEY") or "sk-ant-emulator-placeholder"
    return Anthropic(
        api_key=api_key,
        base_url=base_url,
        timeout=TIMEOUT,
        _strict_response_validation=True,
    )


client: Anthropic  # set in main()


# ---- helpers from the seed ---------------------------------------------------------------------
def wait_for_idle_status(client: Anthropic, session_id: str) -> None:
    """Poll the session until it reports `idle` (it may still say `running` just after the idle event)."""
    deadline = time.monotonic() + IDLE_POLL_LIMIT
    while True:
        status = client.beta.sessions.retrieve(session_id).status
        if status == "idle":
            return
        check(status != "terminated", f"session {session_id} terminated while waiting for idle")
        check(time.monotonic() < deadline, f"session {session_id} not idle after {IDLE_POLL_LIMIT}s (status={status})")
        time.sleep(IDLE_POLL_STEP)


def run_turn(session_id: str, user_text: str) -> str:
    """Send one user message and stream the agent's response until it goes idle (the seed's helper, plus checks)."""
    print(f"\n[user]  {user_text}")
    reply_parts: List[str] = []
    seen: List[str] = []
    stop_reason: Optional[str] = None

    with client.beta.sessions.events.stream(session_id) as stream:
        sent = client.beta.sessions.events.send(
            session_id,
            events=[
                {
                    "type": "user.message",
                    "content": [{"type": "text", "text": user_text}],
                }
            ],
        )
        echoed = sent.data or []
        check(
            len(echoed) == 1 and echoed[0].type == "user.message" and echoed[0].id,
            f"events.send should echo the user.message with an id, got {echoed!r}",
        )
        for event in stream:
            seen.append(event.type)
            if event.type == "agent.message":
                for block in event.content:
                    if block.type == "text":
                        reply_parts.append(block.text)
                        print(f"[agent] {block.text}")

            elif event.type == "agent.tool_use":
                # Surface reads and writes to the memory mount so you can see
                # the agent checking and updating its memory.
                inp = event.input or {}
                target = inp.get("file_path") or inp.get("command", "")
                if "/mnt/memory/" in str(target):
                    print(f"  [memory] {event.name}: {target}")

            elif event.type == "session.status_idle":
                # Break on any idle reason so an unexpected stop_reason
                # (such as requires_action) cannot hang the loop.
                stop_reason = event.stop_reason.type
                break

            elif event.type == "session.status_terminated":
                break

    print(f"  [events] {' '.join(seen)}")
    check(stop_reason is not None, f"stream ended without session.status_idle (saw: {seen})")
    check(stop_reason == "end_turn", f"turn ended with stop_reason={stop_reason!r}, expected 'end_turn'")
    check(reply_parts, "the agent sent no text in agent.message events")
    wait_for_idle_status(client, session_id)
    return "".join(reply_parts)


# ---- the flow ----------------------------------------------------------------------------------
def flow(cleanup: List[Callable[[], Any]]) -> None:
    step("Step 1: create a memory store")
    store = client.beta.memory_stores.create(
        name="Shopper Preferences",
        description=(
            "Personal shopping preferences for a single customer: "
            "sizes, style, budget, favorite brands, and materials to avoid."
        ),
    )
    cleanup.append(lambda: client.beta.memory_stores.delete(store.id))
    print(store.id)
    check(store.id.startswith("memstore_"), f"memory store id {store.id!r} should start with memstore_")
    check(store.type == "memory_store" and store.archived_at is None, "new store should be an unarchived memory_store")
    check(store.name == "Shopper Preferences", "store name not echoed")
    check(store.metadata == {}, f"metadata should default to {{}}, got {store.metadata!r}")

    step("Step 2: environment and agent")
    environment = client.beta.environments.create(
        name="shopping-demo",
        config={"type": "cloud", "networking": {"type": "limited"}},
    )
    cleanup.append(lambda: client.beta.environments.archive(environment.id))
    check(environment.config.type == "cloud", "environment config type should be cloud")
    check(environment.config.networking.type == "limited", "environment networking should be limited")

    agent = client.beta.agents.create(
        name="Personal Shopper",
        model=MODEL,
        system=(
            "You are a personal shopping assistant for a retail brand. "
            "Help the customer find products that match their taste and budget, "
            "and remember what you learn about them for future visits."
        ),
        tools=[
            {
                "type": "agent_toolset_20260401",
                "default_config": {
                    "enabled": True,
                    "permission_policy": {"type": "always_allow"},
                },
            }
        ],
    )
    cleanup.append(lambda: client.beta.agents.archive(agent.id))
    print(agent.id)
    check(agent.version == 1, f"a new agent should be version 1, got {agent.version}")
    check(agent.model.id == MODEL, f"agent.model.id should be {MODEL!r}, got {agent.model.id!r}")
    toolset = [t for t in agent.tools if t.type == "agent_toolset_20260401"]
    check(len(toolset) == 1, "agent should have one agent_toolset_20260401")
    check(toolset[0].default_config.permission_policy.type == "always_allow", "default_config.permission_policy not kept")
    names = {c.name for c in toolset[0].configs}
    check({"bash", "read", "write", "edit", "glob", "grep"} <= names, f"toolset configs not resolved: {sorted(names)}")

    step("Step 3: first visit (the agent learns preferences)")
    memory_resource = {
        "type": "memory_store",
        "memory_store_id": store.id,
        "access": "read_write",
        "instructions": (
            "This customer's personal preferences: sizes, style, budget, and "
            "materials to avoid. Check it at the start of every conversation "
            "and update it whenever you learn something new."
        ),
    }
    session_one = client.beta.sessions.create(
        agent={"type": "agent", "id": agent.id, "version": agent.version},
        environment_id=environment.id,
        resources=[memory_resource],
    )
    cleanup.append(lambda: client.beta.sessions.archive(session_one.id))
    check(session_one.status == "idle", f"a new session should be idle, got {session_one.status}")
    mounted = [r for r in session_one.resources if r.type == "memory_store"]
    check(len(mounted) == 1, "session should list the memory_store resource")
    for resource in session_one.resources:
        if resource.type == "memory_store":
            print(f"Mounted at {resource.mount_path}")
    check(
        mounted[0].mount_path == "/mnt/memory/shopper-preferences",
        f"mount_path should be /mnt/memory/shopper-preferences, got {mounted[0].mount_path!r}",
    )
    check(mounted[0].memory_store_id == store.id and mounted[0].access == "read_write", "memory resource not echoed")
    check(mounted[0].name == store.name, "memory resource should carry the store name copied at attach time")

    run_turn(session_one.id, VISIT_ONE)

    step("Step 4: inspect what the agent saved (view=full)")
    page = client.beta.memory_stores.memories.list(store.id, view="full")
    memories = [m for m in page.data if m.type == "memory"]
    for memory in page.data:
        if memory.type == "memory":
            print(f"=== {memory.path} ===")
            print(memory.content)
            print()
    check(memories, "the agent saved no memory during visit 1")
    for m in memories:
        check(m.content is not None, f"view=full should return content for {m.path}")
        check(m.content_sha256 == sha256_hex(m.content), f"content_sha256 of {m.path} is not sha256(content)")
        check(m.content_size_bytes == len(m.content.encode("utf-8")), f"content_size_bytes of {m.path} is wrong")
        check(m.memory_store_id == store.id, "memory_store_id mismatch")
    saved_text = "\n".join(m.content or "" for m in memories).lower()
    for word in ("medium", "vegan", "200", "earth"):
        if word not in saved_text:
            print(f"  [warn] saved memories do not mention {word!r}")
    agent_memory_ids = {m.id for m in memories}

    step("Step 5: return visit (the agent recalls on its own)")
    session_two = client.beta.sessions.create(
        agent={"type": "agent", "id": agent.id, "version": agent.version},
        environment_id=environment.id,
        resources=[memory_resource],  # same store, new session
    )
    cleanup.append(lambda: client.beta.sessions.archive(session_two.id))
    reply = run_turn(session_two.id, VISIT_TWO)
    if "vegan" not in reply.lower():
        print("  [warn] the visit-2 reply does not mention vegan leather")

    step("Seed a store from existing data")
    seeded = client.beta.memory_stores.memories.create(store.id, path="/purchase-history.md", content=PURCHASES)
    print(f"Seeded {seeded.path}")
    check(seeded.path == "/purchase-history.md", "seeded path not echoed")
    check(seeded.content is None, "memories.create defaults to view=basic: content should be null")
    check(seeded.content_sha256 == sha256_hex(PURCHASES), "seeded content_sha256 is not sha256 of the UTF-8 content")
    check(seeded.content_size_bytes == len(PURCHASES.encode("utf-8")), "seeded content_size_bytes is wrong")

    step("Audit: memory_versions.list")
    versions = list(client.beta.memory_stores.memory_versions.list(store.id, limit=100))  # auto-paginates
    for v in versions:
        who = v.created_by.type if v.created_by else None
        print(f"  {v.id} {v.operation:8} {v.path} by {who}")
    by_memory = {}
    for v in versions:
        by_memory.setdefault(v.memory_id, []).append(v)
    check(seeded.id in by_memory, "no version recorded for the seeded memory")
    seeded_v = by_memory[seeded.id]
    check([v.operation for v in seeded_v] == ["created"], f"seeded memory should have one 'created' version, got {[v.operation for v in seeded_v]}")
    check(seeded_v[0].id == seeded.memory_version_id, "memory.memory_version_id should name its current version")
    check(seeded_v[0].created_by is not None and seeded_v[0].created_by.type == "api_actor", "an API write should be attributed to api_actor")
    agent_versions = [v for mid in agent_memory_ids for v in by_memory.get(mid, [])]
    check(agent_versions, "no versions recorded for the memories the agent wrote")
    check(
        all(v.created_by is not None and v.created_by.type == "session_actor" for v in agent_versions),
        "writes through /mnt/memory/ should be attributed to session_actor",
    )
    check(
        {v.created_by.session_id for v in agent_versions} <= {session_one.id, session_two.id},
        "session_actor.session_id should name one of the two sessions",
    )

    step("Correct a memory with a content_sha256 precondition")
    current = client.beta.memory_stores.memories.retrieve(seeded.id, memory_store_id=store.id)
    check(current.content == PURCHASES, "memories.retrieve defaults to view=full and should return the content")
    new_content = PURCHASES + "- Vegan leather belt, camel, $45 (Feb 2026)\n"
    updated = client.beta.memory_stores.memories.update(
        seeded.id,
        memory_store_id=store.id,
        content=new_content,
        precondition={"type": "content_sha256", "content_sha256": current.content_sha256},
    )
    check(updated.id == seeded.id, "update must keep the memory id")
    check(updated.content_sha256 == sha256_hex(new_content), "updated content_sha256 is wrong")
    check(updated.memory_version_id != seeded.memory_version_id, "an update must create a new memory version")
    print(f"  updated {updated.path}: {current.content_sha256[:12]}… -> {updated.content_sha256[:12]}…")

    try:
        client.beta.memory_stores.memories.update(
            seeded.id,
            memory_store_id=store.id,
            content="this must not be written\n",
            precondition={"type": "content_sha256", "content_sha256": current.content_sha256},  # now stale
        )
    except ConflictError as e:
        check(e.status_code == 409, f"expected HTTP 409, got {e.status_code}")
        check(e.type == "memory_precondition_failed_error", f"expected error.type memory_precondition_failed_error, got {e.type!r}")
        print(f"  stale precondition -> {type(e).__name__} {e.status_code} {e.type} (request_id={e.request_id})")
        if e.response.headers.get("x-should-retry") != "false":
            print("  [warn] the 409 has no `x-should-retry: false`, so the SDK retried it (3 attempts)")
    else:
        raise FlowFailure("a stale precondition was accepted; expected ConflictError (409)")
    after = client.beta.memory_stores.memories.retrieve(seeded.id, memory_store_id=store.id, view="full")
    check(after.content == new_content, "a failed precondition must not change the memory")

    history = list(client.beta.memory_stores.memory_versions.list(store.id, memory_id=seeded.id))
    ops = sorted(v.operation for v in history)
    check(ops == ["created", "modified"], f"seeded memory history should be created+modified, got {ops}")

    step("Clean up")
    wait_for_idle_status(client, session_one.id)
    wait_for_idle_status(client, session_two.id)
    cleanup.clear()
    s1 = client.beta.sessions.archive(session_one.id)
    s2 = client.beta.sessions.archive(session_two.id)
    check(s1.archived_at is not None and s2.archived_at is not None, "archived sessions should have archived_at")
    deleted = client.beta.memory_stores.delete(store.id)
    check(deleted.type == "memory_store_deleted" and deleted.id == store.id, "memory store delete confirmation wrong")
    a = client.beta.agents.archive(agent.id)
    check(a.archived_at is not None, "archived agent should have archived_at")
    e = client.beta.environments.archive(environment.id)
    check(e.archived_at is not None, "archived environment should have archived_at")


def main() -> int:
    global client
    print(f"anthropic {anthropic.__version__}")
    cleanup: List[Callable[[], Any]] = []
    try:
        client = make_client()
        print(f"base_url {client.base_url}")
        flow(cleanup)
    except FlowFailure as e:
        print(f"\nFAIL: {e}", file=sys.stderr)
        return _cleanup_and_fail(cleanup)
    except APIResponseValidationError as e:
        print(
            f"\nFAIL: response did not validate against the SDK models: {e.response.request.method} "
            f"{e.response.request.url} -> {e.status_code}\n{e.__cause__ or e}\nbody: {e.body!r}"[:6000],
            file=sys.stderr,
        )
        return _cleanup_and_fail(cleanup)
    except APIStatusError as e:
        print(
            f"\nFAIL: unexpected HTTP {e.status_code} from {e.response.request.method} {e.response.request.url}: "
            f"type={e.type!r} message={e.api_message!r} request_id={e.request_id!r}",
            file=sys.stderr,
        )
        return _cleanup_and_fail(cleanup)
    except Exception as e:  # noqa: BLE001 - connection errors, timeouts, bugs
        traceback.print_exc()
        print(f"\nFAIL: {type(e).__name__}: {e}", file=sys.stderr)
        return _cleanup_and_fail(cleanup)
    print("\nseed flow OK")
    return 0


def _cleanup_and_fail(cleanup: List[Callable[[], Any]]) -> int:
    for fn in reversed(cleanup):
        try:
            fn()
        except Exception:  # noqa: BLE001 - best effort
            pass
    return 1


if __name__ == "__main__":
    sys.exit(main())
