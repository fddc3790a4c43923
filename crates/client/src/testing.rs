//! Sample data shared by benches, the `cma bench sse` command and tests. Not part of the API.

/// A realistic session event stream of at least `target_len` bytes: status changes, a memory
/// read and its result, a reply, the idle event, and a ping, repeated.
pub fn sample_event_stream(target_len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(target_len + 4096);
    let mut i = 0u64;
    while out.len() < target_len {
        let frames = [
            (
                "session.status_running",
                format!(
                    r#"{{"type":"session.status_running","id":"sevt_{i}a","processed_at":"2026-11-24T12:00:00.000001Z"}}"#
                ),
            ),
            (
                "agent.tool_use",
                format!(
                    r#"{{"type":"agent.tool_use","id":"sevt_{i}b","processed_at":"2026-11-24T12:00:00.000002Z","name":"read","input":{{"file_path":"/mnt/memory/shopper-preferences/preferences.md"}},"evaluated_permission":"allow"}}"#
                ),
            ),
            (
                "agent.tool_result",
                format!(
                    r##"{{"type":"agent.tool_result","id":"sevt_{i}c","processed_at":"2026-11-24T12:00:00.000003Z","tool_use_id":"sevt_{i}b","content":[{{"type":"text","text":"# Customer notes\n\n## Size\n- Size: medium\n"}}],"is_error":false}}"##
                ),
            ),
            (
                "agent.message",
                format!(
                    r#"{{"type":"agent.message","id":"sevt_{i}d","processed_at":"2026-11-24T12:00:00.000004Z","content":[{{"type":"text","text":"From your notes I remember: size medium; budget under $200. Here are three jackets in earth tones under $200."}}]}}"#
                ),
            ),
            (
                "session.status_idle",
                format!(
                    r#"{{"type":"session.status_idle","id":"sevt_{i}e","processed_at":"2026-11-24T12:00:00.000005Z","stop_reason":{{"type":"end_turn"}}}}"#
                ),
            ),
        ];
        for (name, data) in frames {
            out.extend_from_slice(format!("event: {name}\ndata: {data}\n\n").as_bytes());
        }
        out.extend_from_slice(b"event: ping\ndata: {\"type\":\"ping\"}\n\n");
        i += 1;
    }
    out
}

/// One event whose single `data:` line is `len` bytes long.
pub fn one_long_line(len: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 32);
    out.extend_from_slice(b"event: blob\ndata: ");
    out.extend(std::iter::repeat_n(b'x', len));
    out.extend_from_slice(b"\n\n");
    out
}

/// The same stream with its line endings rotated through `\n`, `\r\n` and `\r`.
pub fn mixed_line_endings(stream: &[u8]) -> Vec<u8> {
    let endings: [&[u8]; 3] = [b"\n", b"\r\n", b"\r"];
    let mut out = Vec::with_capacity(stream.len() + stream.len() / 16);
    for (i, line) in stream.split(|&b| b == b'\n').enumerate() {
        if i > 0 {
            out.extend_from_slice(endings[i % 3]);
        }
        out.extend_from_slice(line);
    }
    out
}

/// An agent with the agent toolset (every tool always allowed), an environment, and a session with
/// `store_id` attached read-write: the fixture most end-to-end tests start from.
pub async fn session_on_store(
    client: &crate::Client,
    store_id: &str,
    agent_name: &str,
    model: &str,
) -> crate::Result<crate::types::Session> {
    use crate::types::{
        Access, AgentRef, AgentToolset, CreateAgent, CreateEnvironment, CreateSession,
        PermissionPolicy, ResourceParams, Tool,
    };
    let mut agent = CreateAgent::new(agent_name, model);
    agent.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
        PermissionPolicy::AlwaysAllow(Default::default()),
    ))]);
    let agent = client.agents().create(&agent).await?;
    let env = client
        .environments()
        .create(&CreateEnvironment {
            name: agent_name.to_string(),
            ..Default::default()
        })
        .await?;
    let mut params = CreateSession::new(AgentRef::Id(agent.id), env.id);
    params.resources = Some(vec![ResourceParams::memory_store(
        store_id,
        Access::ReadWrite,
        None,
    )]);
    client.sessions().create(&params).await
}

/// Every memory (with content) and every version (with content) of a store, all pages.
pub async fn store_contents(
    client: &crate::Client,
    store_id: &str,
) -> crate::Result<(
    Vec<crate::types::MemoryListItem>,
    Vec<crate::types::MemoryVersion>,
)> {
    use crate::types::{ListMemories, ListMemoryVersions, View};
    use futures::TryStreamExt;
    let stores = client.memory_stores();
    let memories = stores
        .memories()
        .list_all(
            store_id,
            &ListMemories {
                view: Some(View::Full),
                limit: Some(20),
                ..Default::default()
            },
        )
        .try_collect()
        .await?;
    let versions = stores
        .memory_versions()
        .list_all(
            store_id,
            &ListMemoryVersions {
                view: Some(View::Full),
                limit: Some(20),
                ..Default::default()
            },
        )
        .try_collect()
        .await?;
    Ok((memories, versions))
}
