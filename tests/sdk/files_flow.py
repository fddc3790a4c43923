#!/usr/bin/env python3
"""Files and session resources with the official Python SDK (`anthropic==2.10.0`) against the server at
ANTHROPIC_BASE_URL (the cma emulator, started with a file size limit of FILES_FLOW_MAX_BYTES bytes).

Uploads a file, mounts it into a session, has the agent read it, then adds, retrieves, lists and deletes
session resources, and checks that bad input is refused: a file over the size limit, an unknown file id, a
memory store added after creation, and a resource id of another session. Every response must parse under the
SDK's own models (`_strict_response_validation=True`).

Exits 0 and prints `files flow OK` on success; prints `FAIL: <reason>` and exits 1 otherwise.
"""

from __future__ import annotations

import os
import sys
import traceback
from typing import Any, List, Optional

import anthropic
from anthropic import Anthropic, APIResponseValidationError, APIStatusError

TIMEOUT = float(os.environ.get("SEED_FLOW_TIMEOUT", "60"))
MAX_BYTES = int(os.environ["FILES_FLOW_MAX_BYTES"])
POLICY = (
    "# Store policy\n"
    "Returns are accepted within 30 days of delivery.\n"
    "Shipping is free on orders over 50 dollars.\n"
)
RETURNS_LINE = "Returns are accepted within 30 days of delivery."


class FlowFailure(Exception):
    pass


def check(cond: Any, msg: str) -> None:
    if not cond:
        raise FlowFailure(msg)


def expect_error(cls: type, fn, what: str) -> APIStatusError:
    try:
        fn()
    except cls as e:  # type: ignore[misc]
        print(f"  refused as expected ({what}): {e.status_code} {e.type} {e.api_message!r}")
        return e
    raise FlowFailure(f"{what}: expected {cls.__name__}, the call succeeded")


def make_client() -> Anthropic:
    base_url = os.environ.get("ANTHROPIC_BASE_URL")
    if not base_url or "api.anthropic.com" in base_url:
        raise FlowFailure("ANTHROPIC_BASE_URL must point at the local emulator")
    return Anthropic(
        api_key=os.environ.get("ANTHROPIC_API_KEY") or "sk-ant-emulator-placeholder",
        base_url=base_url,
        timeout=TIMEOUT,
        max_retries=0,
        _strict_response_validation=True,
    )


def run_turn(client: Anthropic, session_id: str, text: str) -> tuple[str, List[Any]]:
    """Sends one message and streams until idle; returns the reply and the tool uses."""
    reply: List[str] = []
    tool_uses: List[Any] = []
    stop_reason: Optional[str] = None
    with client.beta.sessions.events.stream(session_id) as stream:
        client.beta.sessions.events.send(
            session_id, events=[{"type": "user.message", "content": [{"type": "text", "text": text}]}]
        )
        for event in stream:
            if event.type == "agent.message":
                reply.extend(b.text for b in event.content if b.type == "text")
            elif event.type == "agent.tool_use":
                tool_uses.append(event)
            elif event.type == "session.status_idle":
                stop_reason = event.stop_reason.type
                break
    check(stop_reason == "end_turn", f"turn ended with {stop_reason!r}")
    return "\n".join(reply), tool_uses


def flow(client: Anthropic) -> None:
    print("== upload")
    meta = client.beta.files.upload(file=("docs/policy.md", POLICY.encode(), "text/markdown"))
    print(meta)
    check(meta.id.startswith("file_") and meta.type == "file", f"bad file object {meta!r}")
    check(meta.filename == "policy.md", f"filename should keep the last component, got {meta.filename!r}")
    check(meta.mime_type == "text/markdown" and meta.size_bytes == len(POLICY), "mime_type/size_bytes wrong")
    check(meta.downloadable is False, "an upload is not downloadable")
    check(client.beta.files.retrieve_metadata(meta.id) == meta, "retrieve_metadata differs from the upload")
    check(meta.id in [f.id for f in client.beta.files.list()], "list does not show the upload")
    e = expect_error(anthropic.BadRequestError, lambda: client.beta.files.download(meta.id), "download of an upload")
    check(e.error_code == "file_not_downloadable", f"error_code {e.error_code!r}")

    big = b"x" * (MAX_BYTES + 1)
    e = expect_error(
        anthropic.ContentTooLargeError,
        lambda: client.beta.files.upload(file=("big.bin", big, "application/octet-stream")),
        "a file over the size limit",
    )
    check(e.type == "request_too_large", f"error type {e.type!r}")
    check([f.id for f in client.beta.files.list()] == [meta.id], "the refused upload left a file behind")

    print("== a session that mounts the file")
    environment = client.beta.environments.create(name="files-dropin")
    agent = client.beta.agents.create(
        name="Policy helper",
        model="claude-sonnet-4-6",
        tools=[{"type": "agent_toolset_20260401", "default_config": {"permission_policy": {"type": "always_allow"}}}],
    )
    store = client.beta.memory_stores.create(name="Shopper Preferences")
    session = client.beta.sessions.create(
        agent=agent.id,
        environment_id=environment.id,
        resources=[
            {"type": "memory_store", "memory_store_id": store.id, "access": "read_write"},
            {"type": "file", "file_id": meta.id},
        ],
    )
    files = [r for r in session.resources if r.type == "file"]
    check(len(files) == 1 and files[0].file_id == meta.id, f"file resource not listed: {session.resources!r}")
    mount = files[0].mount_path
    check(mount == f"/mnt/session/uploads/{meta.id}", f"default mount_path is {mount!r}")
    expect_error(
        anthropic.NotFoundError,
        lambda: client.beta.sessions.create(
            agent=agent.id, environment_id=environment.id, resources=[{"type": "file", "file_id": "file_01nope"}]
        ),
        "a session naming an unknown file",
    )

    reply, tool_uses = run_turn(client, session.id, "Can I still make returns?")
    print(f"[agent] {reply}")
    check(RETURNS_LINE in reply, "the agent did not quote the mounted file")
    reads = [u for u in tool_uses if u.name == "read" and (u.input or {}).get("file_path") == mount]
    check(reads, f"no read of {mount}: {[(u.name, u.input) for u in tool_uses]}")

    print("== session resources")
    added = client.beta.sessions.resources.add(
        session.id, type="file", file_id=meta.id, mount_path="/workspace/policy-copy.md"
    )
    print(added)
    check(added.type == "file" and added.id and added.mount_path == "/workspace/policy-copy.md", f"{added!r}")
    got = client.beta.sessions.resources.retrieve(added.id, session_id=session.id)
    check(got == added, f"retrieve returned {got!r}")
    listed = client.beta.sessions.resources.list(session.id)
    check([r.type for r in listed.data] == ["memory_store", "file", "file"], f"list: {listed.data!r}")

    before = client.beta.sessions.resources.list(session.id).data
    expect_error(
        anthropic.BadRequestError,
        lambda: client.beta.sessions.resources.add(
            session.id, type="memory_store", file_id=meta.id, extra_body={"memory_store_id": store.id}
        ),
        "a memory store added after creation",
    )
    expect_error(
        anthropic.NotFoundError,
        lambda: client.beta.sessions.resources.add(session.id, type="file", file_id="file_01nope"),
        "an unknown file id",
    )
    other = client.beta.sessions.create(agent=agent.id, environment_id=environment.id)
    expect_error(
        anthropic.NotFoundError,
        lambda: client.beta.sessions.resources.retrieve(added.id, session_id=other.id),
        "a resource id of another session",
    )
    expect_error(
        anthropic.NotFoundError,
        lambda: client.beta.sessions.resources.delete(added.id, session_id=other.id),
        "deleting a resource through another session",
    )
    check(client.beta.sessions.resources.list(session.id).data == before, "refused calls changed the resources")

    deleted = client.beta.sessions.resources.delete(added.id, session_id=session.id)
    check(deleted.id == added.id and deleted.type == "session_resource_deleted", f"{deleted!r}")
    expect_error(
        anthropic.NotFoundError,
        lambda: client.beta.sessions.resources.retrieve(added.id, session_id=session.id),
        "a deleted resource",
    )
    check(len(client.beta.sessions.resources.list(session.id).data) == 2, "the resource was not removed")

    gone = client.beta.files.delete(meta.id)
    check(gone.id == meta.id and gone.type == "file_deleted", f"{gone!r}")
    expect_error(anthropic.NotFoundError, lambda: client.beta.files.retrieve_metadata(meta.id), "a deleted file")


def main() -> int:
    try:
        flow(make_client())
    except FlowFailure as e:
        print(f"\nFAIL: {e}", file=sys.stderr)
        return 1
    except APIResponseValidationError as e:
        print(f"\nFAIL: response did not validate against the SDK models: {e.__cause__ or e}\nbody: {e.body!r}"[:6000],
              file=sys.stderr)
        return 1
    except APIStatusError as e:
        print(f"\nFAIL: unexpected HTTP {e.status_code} from {e.response.request.method} {e.response.request.url}: "
              f"type={e.type!r} message={e.api_message!r}", file=sys.stderr)
        return 1
    except Exception as e:  # noqa: BLE001 - connection errors, timeouts, bugs
        traceback.print_exc()
        print(f"\nFAIL: {type(e).__name__}: {e}", file=sys.stderr)
        return 1
    print("\nfiles flow OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
