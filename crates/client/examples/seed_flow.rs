//! The cookbook's flow with this client: a store, an environment, an agent, a session with the
//! memory resource, one turn, and the store's memories with their content.
//!
//!     ANTHROPIC_BASE_URL=http://127.0.0.1:4010 cargo run -p cma-client --example seed_flow

use cma_client::types::*;
use cma_client::{Client, TurnOptions, run_turn};

#[tokio::main]
async fn main() -> cma_client::Result<()> {
    let client = Client::from_env()?; // ANTHROPIC_API_KEY, ANTHROPIC_BASE_URL

    let store = client
        .memory_stores()
        .create(&CreateMemoryStore {
            name: "Shopper Preferences".into(),
            description: Some("Personal shopping preferences for a single customer.".into()),
            ..Default::default()
        })
        .await?;

    let env = client
        .environments()
        .create(&CreateEnvironment {
            name: "shopping-demo".into(),
            ..Default::default()
        })
        .await?;

    let mut agent = CreateAgent::new("Personal Shopper", "claude-sonnet-4-6");
    agent.system = Some("You are a personal shopping assistant. Remember what you learn.".into());
    agent.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(
        PermissionPolicy::AlwaysAllow(Default::default()),
    ))]);
    let agent = client.agents().create(&agent).await?;

    let mut session =
        CreateSession::new(AgentRef::version(&agent.id, Some(agent.version)), &env.id);
    session.resources = Some(vec![ResourceParams::memory_store(
        &store.id,
        Access::ReadWrite,
        Some("This customer's preferences. Check it at the start of every conversation.".into()),
    )]);
    let session = client.sessions().create(&session).await?;

    // Opens the stream before sending, ends on any idle stop reason, reconnects and backfills.
    let turn = run_turn(
        &client,
        &session.id,
        "Hi! I wear a size medium, only buy vegan leather and my budget is under $200.",
        &TurnOptions::default(),
    )
    .await?;
    println!("{}", turn.reply);
    for tool in &turn.tool_uses {
        println!("  [memory] {}: {:?}", tool.name, tool.memory_paths);
    }

    let params = ListMemories {
        view: Some(View::Full),
        ..Default::default()
    };
    for item in client
        .memory_stores()
        .memories()
        .list(&store.id, &params)
        .await?
        .data
    {
        if let MemoryListItem::Memory(memory) = item {
            println!(
                "=== {} ===\n{}",
                memory.path,
                memory.content.unwrap_or_default()
            );
        }
    }

    client
        .sessions()
        .wait_for_idle(&session.id, std::time::Duration::from_secs(10))
        .await?;
    client.sessions().archive(&session.id).await?;
    client.memory_stores().delete(&store.id).await?;
    client.agents().archive(&agent.id).await?;
    client.environments().archive(&env.id).await?;
    Ok(())
}
