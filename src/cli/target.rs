//! Where commands send their requests: an embedded emulator, a URL, or the live API.

use anyhow::Context;
use cma_client::Client;
use cma_client::types::{
    Access, AgentRef, AgentToolset, CreateAgent, CreateEnvironment, CreateMemoryStore, CreateSession, PermissionPolicy,
    ResourceParams, Tool,
};

pub enum Target {
    Local { emulator: cma_emulator::RunningEmulator, client: Client },
    Remote { client: Client },
}

impl Target {
    /// `local`, `live` or a base URL.
    pub async fn connect(spec: &str) -> anyhow::Result<Self> {
        match spec {
            "local" => {
                let emulator = cma_emulator::Emulator::start(cma_emulator::EmulatorConfig::default())
                    .await
                    .context("starting the embedded emulator")?;
                let client = Client::builder().base_url(emulator.base_url()).api_key("emulator").build()?;
                Ok(Target::Local { emulator, client })
            }
            "live" => {
                if std::env::var_os("ANTHROPIC_API_KEY").is_none() && std::env::var_os("ANTHROPIC_AUTH_TOKEN").is_none() {
                    return Err(super::UsageError("--target live needs ANTHROPIC_API_KEY (or ANTHROPIC_AUTH_TOKEN) in the environment".into()).into());
                }
                Ok(Target::Remote { client: Client::builder().base_url(cma_client::config::DEFAULT_BASE_URL).build()? })
            }
            url if url.starts_with("http://") || url.starts_with("https://") => {
                Ok(Target::Remote { client: Client::builder().base_url(url).build()? })
            }
            other => Err(super::UsageError(format!("unknown target {other:?}: use local, live or an http(s) URL")).into()),
        }
    }

    pub fn client(&self) -> &Client {
        match self {
            Target::Local { client, .. } | Target::Remote { client } => client,
        }
    }

    pub async fn shutdown(self) {
        if let Target::Local { emulator, .. } = self {
            emulator.shutdown().await;
        }
    }
}

/// An agent, an environment, a store and one session per concurrent worker.
pub struct BenchFixture {
    pub agent_id: String,
    pub environment_id: String,
    pub store_id: String,
    pub session_ids: Vec<String>,
}

impl BenchFixture {
    pub async fn create(client: &Client, model: &str, sessions: usize) -> anyhow::Result<Self> {
        let tag = format!("cma-bench-{}", std::process::id());
        let env = client
            .environments()
            .create(&CreateEnvironment { name: tag.clone(), ..Default::default() })
            .await
            .context("creating the benchmark environment")?;
        let mut agent = CreateAgent::new(tag.clone(), model);
        agent.tools = Some(vec![Tool::AgentToolset20260401(AgentToolset::all(PermissionPolicy::AlwaysAllow(Default::default())))]);
        let agent = client.agents().create(&agent).await.context("creating the benchmark agent")?;
        let store = client
            .memory_stores()
            .create(&CreateMemoryStore { name: format!("{tag} preferences"), ..Default::default() })
            .await
            .context("creating the benchmark memory store")?;
        let mut fixture = Self { agent_id: agent.id, environment_id: env.id, store_id: store.id, session_ids: Vec::new() };
        for _ in 0..sessions {
            let mut params = CreateSession::new(AgentRef::Id(fixture.agent_id.clone()), fixture.environment_id.clone());
            params.resources = Some(vec![ResourceParams::memory_store(fixture.store_id.clone(), Access::ReadWrite, None)]);
            match client.sessions().create(&params).await {
                Ok(s) => fixture.session_ids.push(s.id),
                Err(e) => {
                    fixture.cleanup(client).await;
                    return Err(e).context("creating a benchmark session");
                }
            }
        }
        Ok(fixture)
    }

    /// Best effort: a failure here is logged, not fatal, since the measurements are already taken.
    pub async fn cleanup(&self, client: &Client) {
        let idle_wait = std::time::Duration::from_secs(10);
        for id in &self.session_ids {
            let _ = client.sessions().wait_for_idle(id, idle_wait).await;
            if let Err(e) = client.sessions().archive(id).await {
                tracing::warn!(session = %id, error = %e, "could not archive a benchmark session");
            }
        }
        if let Err(e) = client.memory_stores().delete(&self.store_id).await {
            tracing::warn!(store = %self.store_id, error = %e, "could not delete the benchmark store");
        }
        let _ = client.agents().archive(&self.agent_id).await;
        let _ = client.environments().archive(&self.environment_id).await;
    }
}
