//! Fixtures that drive a running API through the client: a session on a store, and everything a
//! store holds. Shared by the emulator's tests and the workspace's (`tests/durability.rs` includes
//! this file by path).

/// An agent with the agent toolset (every tool always allowed), an environment, and a session with
/// `store_id` attached read-write: the fixture most end-to-end tests start from.
pub async fn session_on_store(
    client: &cma_client::Client,
    store_id: &str,
    agent_name: &str,
    model: &str,
) -> cma_client::Result<cma_client::types::Session> {
    use cma_client::types::{
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
    client: &cma_client::Client,
    store_id: &str,
) -> cma_client::Result<(
    Vec<cma_client::types::MemoryListItem>,
    Vec<cma_client::types::MemoryVersion>,
)> {
    use cma_client::types::{ListMemories, ListMemoryVersions, View};
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
