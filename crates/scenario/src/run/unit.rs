//! One unit: a customer's script in one repeat — its stores, one session per visit, every turn
//! through `run_turn`, and every check judged at its place in the script.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use chrono::Utc;
use cma_client::turn::{SessionTurns, Turn, TurnEnd, TurnOptions};
use cma_client::types::{
    AgentRef, CreateMemory, CreateMemoryStore, CreateSession, ListMemories, ListMemoryVersions,
    MemoryListItem, ResourceParams, UserMessage, View,
};
use futures::TryStreamExt;

use super::answer::Answers;
use super::{RUN_KEY, Shared, plan::Unit};
use crate::check::{CheckSpec, Evidence, evaluate};
use crate::outcome::{CheckResult, UnitReport, VisitRecord};
use crate::record::{MemoryFile, StoreSnapshot, StoreState, TurnRecord, TurnStatus, slug};
use crate::scenario::{Scenario, StoreSpec};
use crate::template::Customer;
use crate::usage::UnitUsage;

/// A bound on reading one store (all its pages).
const READ_TIMEOUT: Duration = Duration::from_secs(60);
/// A bound on creating a store or a session, or seeding one memory.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);
/// Added to `--turn-timeout` for the outer guard around `run_turn`.
const TURN_GRACE: Duration = Duration::from_secs(15);

/// The API's limit on one metadata value.
const MAX_METADATA_VALUE_CHARS: usize = 512;

/// Who a store a run creates belongs to. It goes into the store's `metadata`, which the agent
/// never sees: the store is named as the scenario names it, so its mount is the one the service
/// would show (`/mnt/memory/<slug of that name>`), not one carrying the run's bookkeeping.
pub(crate) struct StoreOwner<'a> {
    pub run_id: &'a str,
    pub scenario: &'a str,
    /// `None`: a store the scenario's customers share.
    pub customer: Option<&'a str>,
    /// 1-based.
    pub repeat: usize,
    pub repeats: usize,
}

impl StoreOwner<'_> {
    /// `cma_run`, `cma_scenario`, `cma_customer` (not for a shared store), `cma_repeat` and
    /// `cma_store` (the scenario's key), each value cut to the API's 512 characters.
    pub fn metadata(&self, key: &str) -> BTreeMap<String, String> {
        let cut = |s: &str| s.chars().take(MAX_METADATA_VALUE_CHARS).collect::<String>();
        let mut meta = BTreeMap::from([
            (RUN_KEY.to_string(), cut(self.run_id)),
            ("cma_scenario".to_string(), cut(self.scenario)),
            ("cma_repeat".to_string(), self.repeat.to_string()),
            ("cma_store".to_string(), cut(key)),
        ]);
        if let Some(c) = self.customer {
            meta.insert("cma_customer".to_string(), cut(c));
        }
        meta
    }

    /// `<scenario>-<owner>-<store name>`, slugged: unique within the run (unlike the store's
    /// name, which customers share), so it names the store's history file.
    pub fn label(&self, name: &str) -> String {
        let owner = owner(self.customer.unwrap_or("shared"), self.repeat, self.repeats);
        slug(&format!("{}-{owner}-{name}", self.scenario))
    }
}

/// The owner part of a store name: the customer (or `shared`), with the repeat when repeating.
pub(crate) fn owner(base: &str, repeat: usize, repeats: usize) -> String {
    if repeats > 1 {
        format!("{base}-r{repeat}")
    } else {
        base.to_string()
    }
}

/// Creates a store and seeds its memories; records it for clean-up first thing.
pub(crate) async fn create_store(
    sh: &Shared<'_>,
    spec: &StoreSpec,
    owner: &StoreOwner<'_>,
) -> Result<StoreState, String> {
    let client = &sh.client;
    let params = CreateMemoryStore {
        name: spec.name.clone(),
        description: spec.description.clone(),
        metadata: Some(owner.metadata(&spec.key)),
    };
    let store = tokio::time::timeout(CALL_TIMEOUT, client.memory_stores().create(&params))
        .await
        .map_err(|_| format!("creating store `{}` timed out", spec.key))?
        .map_err(|e| format!("creating store `{}`: {e}", spec.key))?;
    sh.ledger.add_store(&store.id);
    for m in &spec.memories {
        let memory = CreateMemory {
            path: m.path.clone(),
            content: Some(m.content.clone()),
        };
        tokio::time::timeout(
            CALL_TIMEOUT,
            client
                .memory_stores()
                .memories()
                .create(&store.id, &memory, None),
        )
        .await
        .map_err(|_| format!("seeding {} in store `{}` timed out", m.path, spec.key))?
        .map_err(|e| format!("seeding {} in store `{}`: {e}", m.path, spec.key))?;
    }
    Ok(StoreState {
        key: spec.key.clone(),
        store_id: store.id,
        // Known once a session mounts it: read from the session's resources.
        mount_path: String::new(),
        name: spec.name.clone(),
        label: owner.label(&spec.name),
        access: spec.access,
        shared: spec.shared,
        snapshot: None,
    })
}

/// Reads a store's memories (full) and versions (full when `full_versions`, else basic),
/// oldest version first.
pub(crate) async fn read_store(
    sh: &Shared<'_>,
    store_id: &str,
    full_versions: bool,
) -> Result<StoreSnapshot, String> {
    let stores = sh.client.memory_stores();
    let read = async {
        let items: Vec<MemoryListItem> = stores
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
        let view = if full_versions {
            View::Full
        } else {
            View::Basic
        };
        let limit = if full_versions { 20 } else { 100 };
        let mut versions: Vec<_> = stores
            .memory_versions()
            .list_all(
                store_id,
                &ListMemoryVersions {
                    view: Some(view),
                    limit: Some(limit),
                    ..Default::default()
                },
            )
            .try_collect()
            .await?;
        versions.sort_by(|a: &cma_client::types::MemoryVersion, b| {
            a.created_at
                .cmp(&b.created_at)
                .then_with(|| a.id.cmp(&b.id))
        });
        let mut memories: Vec<MemoryFile> = items
            .into_iter()
            .filter_map(|i| match i {
                MemoryListItem::Memory(m) => Some(MemoryFile {
                    path: m.path,
                    content: m.content.unwrap_or_default(),
                }),
                _ => None,
            })
            .collect();
        memories.sort_by(|a, b| a.path.cmp(&b.path));
        Ok::<_, cma_client::Error>(StoreSnapshot { memories, versions })
    };
    match tokio::time::timeout(READ_TIMEOUT, read).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => Err(format!("reading store {store_id} timed out")),
    }
}

/// Reads every store into `stores[i].snapshot` (`None` where the read failed).
async fn refresh(
    sh: &Shared<'_>,
    stores: &mut [StoreState],
    full_versions: bool,
    problems: &mut Vec<String>,
) {
    let reads = futures::future::join_all(
        stores
            .iter()
            .map(|s| read_store(sh, &s.store_id, full_versions)),
    )
    .await;
    for (s, r) in stores.iter_mut().zip(reads) {
        match r {
            Ok(snap) => s.snapshot = Some(snap),
            Err(e) => {
                problems.push(format!("store `{}`: {e}", s.key));
                s.snapshot = None;
            }
        }
    }
}

/// Everything judging needs besides the turns.
struct Judge<'a> {
    sh: &'a Shared<'a>,
    customer: &'a Customer,
    customers: &'a [Customer],
}

/// What judging produces: verdicts, and problems reading stores.
#[derive(Default)]
struct Tally {
    results: Vec<CheckResult>,
    problems: Vec<String>,
}

impl Judge<'_> {
    async fn run(
        &self,
        checks: &[CheckSpec],
        turns: &[TurnRecord],
        sessions: &[String],
        stores: &mut [StoreState],
        tally: &mut Tally,
    ) {
        if checks.is_empty() {
            return;
        }
        let finished = turns.iter().all(TurnRecord::finished);
        if finished && checks.iter().any(|c| c.check.needs_store_state()) {
            refresh(self.sh, stores, false, &mut tally.problems).await;
        }
        for c in checks {
            let ev = Evidence {
                turns,
                sessions,
                stores,
                customer: self.customer,
                customers: self.customers,
            };
            let verdict = match (&c.check, &self.sh.grader) {
                (crate::Check::LlmRubric { rubric }, Some(grader))
                    if turns.iter().all(TurnRecord::finished) =>
                {
                    let expected = crate::check::expected(&c.check);
                    grader
                        .judge(expected, rubric, &crate::check::eval::replies(&ev))
                        .await
                }
                _ => evaluate(&c.check, &ev),
            };
            tally.results.push(CheckResult {
                id: c.id.clone(),
                label: c.label.clone(),
                kind: c.check.kind(),
                verdict,
            });
        }
    }
}

fn record_turn(
    visit: usize,
    turn: usize,
    user: &str,
    session_id: &str,
    result: Result<Result<Turn, cma_client::Error>, tokio::time::error::Elapsed>,
    timeout: Duration,
) -> TurnRecord {
    let incomplete = |reason: String| TurnRecord {
        session_id: Some(session_id.to_string()),
        ..TurnRecord::not_run(visit, turn, user, reason)
    };
    let t = match result {
        Err(_) => {
            return incomplete(format!(
                "timed out after {} without going idle",
                secs(timeout)
            ));
        }
        Ok(Err(e)) => return incomplete(format!("error: {e}")),
        Ok(Ok(t)) => t,
    };
    let status = match t.end {
        TurnEnd::Idle => TurnStatus::Idle,
        TurnEnd::TurnTimeout => TurnStatus::Incomplete {
            reason: format!("timed out after {} without going idle", secs(timeout)),
        },
        TurnEnd::GapTimeout => TurnStatus::Incomplete {
            reason: format!("no event for {}", secs(timeout)),
        },
        TurnEnd::Terminated => TurnStatus::Incomplete {
            reason: "the session terminated".into(),
        },
        TurnEnd::Deleted => TurnStatus::Incomplete {
            reason: "the session was deleted".into(),
        },
        TurnEnd::Unanswered { reason } => TurnStatus::Incomplete {
            reason: format!("the session waits on a call the scenario cannot answer: {reason}"),
        },
        other => TurnStatus::Incomplete {
            reason: format!("the turn ended without going idle ({other:?})"),
        },
    };
    TurnRecord {
        visit,
        turn,
        user: user.to_string(),
        session_id: Some(session_id.to_string()),
        status,
        reply: t.reply,
        stop_reason: t.stop_reason.as_ref().map(|s| s.type_name().to_string()),
        tool_uses: t.tool_uses,
        events: t.events,
        timings: Some(t.timings),
    }
}

fn secs(d: Duration) -> String {
    let s = d.as_secs_f64();
    if s.fract() == 0.0 {
        format!("{s:.0} s")
    } else {
        format!("{s:.1} s")
    }
}

pub(crate) async fn run_unit(
    sh: &Shared<'_>,
    scenario: &Scenario,
    scenario_index: usize,
    unit: Unit,
) -> UnitReport {
    let script = &scenario.scripts[unit.customer];
    let customers = scenario.customers();
    let judge = Judge {
        sh,
        customer: &script.customer,
        customers: &customers,
    };
    let mut tally = Tally::default();
    let started_at = Utc::now();
    let clock = Instant::now();
    // Why the rest of the script is not run, once something stopped it.
    let mut halt: Option<String> = None;

    // Stores: the customer's own, plus the scenario's shared ones for this repeat.
    let mut stores: Vec<StoreState> = Vec::new();
    let owner = StoreOwner {
        run_id: &sh.run_id,
        scenario: &scenario.name,
        customer: Some(&script.customer.id),
        repeat: unit.repeat,
        repeats: sh.repeats,
    };
    for spec in &script.stores {
        if spec.shared {
            match sh
                .shared_stores
                .get(&(scenario_index, unit.repeat, spec.key.clone()))
            {
                Some(s) => stores.push(s.clone()),
                None => halt = Some(format!("shared store `{}` was not created", spec.key)),
            }
            continue;
        }
        match create_store(sh, spec, &owner).await {
            Ok(s) => stores.push(s),
            Err(e) => {
                halt = Some(e);
                break;
            }
        }
    }
    let agent = sh.agent_for(scenario_index, &script.agent);
    if agent.is_none() && halt.is_none() {
        halt = Some("the scenario's agent was not created".into());
    }

    let mut all_turns: Vec<TurnRecord> = Vec::new();
    let mut sessions: Vec<String> = Vec::new();
    let mut visits: Vec<VisitRecord> = Vec::new();
    for (vi, visit) in script.visits.iter().enumerate() {
        let v = vi + 1;
        let first_turn = all_turns.len();
        let mut session_id: Option<String> = None;
        if halt.is_none()
            && let Some((agent_id, version)) = &agent
        {
            let mut params = CreateSession::new(
                AgentRef::version(agent_id.clone(), Some(*version)),
                sh.environment_id.clone(),
            );
            params.resources = Some(
                stores
                    .iter()
                    .map(|s| {
                        let instructions = script
                            .stores
                            .iter()
                            .find(|sp| sp.key == s.key)
                            .and_then(|sp| sp.instructions.clone());
                        ResourceParams::memory_store(s.store_id.clone(), s.access, instructions)
                    })
                    .collect(),
            );
            params.metadata = Some(BTreeMap::from([
                (RUN_KEY.to_string(), sh.run_id.clone()),
                ("cma_scenario".to_string(), scenario.name.clone()),
                ("cma_customer".to_string(), script.customer.id.clone()),
                ("cma_visit".to_string(), v.to_string()),
            ]));
            params.title = Some(format!(
                "{} / {} / visit {v}",
                scenario.name, script.customer.id
            ));
            match tokio::time::timeout(CALL_TIMEOUT, sh.client.sessions().create(&params)).await {
                Ok(Ok(session)) => {
                    sh.ledger.add_session(&session.id);
                    for r in session.memory_stores() {
                        if let (Some(s), Some(mount)) = (
                            stores.iter_mut().find(|s| s.store_id == r.memory_store_id),
                            &r.mount_path,
                        ) {
                            s.mount_path = mount.trim_end_matches('/').to_string();
                        }
                    }
                    sessions.push(session.id.clone());
                    session_id = Some(session.id);
                }
                Ok(Err(e)) => halt = Some(format!("visit {v}: creating the session: {e}")),
                Err(_) => halt = Some(format!("visit {v}: creating the session timed out")),
            }
        }

        for (ti, turn) in visit.turns.iter().enumerate() {
            let t = ti + 1;
            let record = match (&halt, &session_id) {
                (None, Some(sid)) => {
                    let options = TurnOptions {
                        turn_timeout: sh.turn_timeout,
                        gap_timeout: sh.turn_timeout,
                        max_reconnects: 3,
                    };
                    let answers = Answers {
                        visit: &visit.tool_answers,
                        scenario: &script.tool_answers,
                        confirm: script.confirm,
                    };
                    let mut answer = |calls: &[_]| answers.answer(calls);
                    let result = tokio::time::timeout(
                        sh.turn_timeout + TURN_GRACE,
                        SessionTurns::new(&sh.client, sid.as_str()).run_turn_answering(
                            UserMessage::text(&turn.user),
                            &options,
                            &mut answer,
                        ),
                    )
                    .await;
                    let record = record_turn(v, t, &turn.user, sid, result, sh.turn_timeout);
                    if let Some(reason) = record.problem() {
                        sh.ledger.mark_stuck(sid);
                        halt = Some(format!("visit {v} turn {t}: {reason}"));
                    }
                    record
                }
                _ => TurnRecord::not_run(
                    v,
                    t,
                    &turn.user,
                    format!("not run: {}", halt.as_deref().unwrap_or("no session")),
                ),
            };
            all_turns.push(record);
            let scope = session_id.clone().into_iter().collect::<Vec<_>>();
            let here = all_turns.len() - 1;
            judge
                .run(
                    &turn.checks,
                    &all_turns[here..],
                    &scope,
                    &mut stores,
                    &mut tally,
                )
                .await;
        }

        // The visit is over: wait for idle and archive its session, then judge the visit.
        if let Some(sid) = &session_id {
            if sh.keep {
                let _ = tokio::time::timeout(
                    Duration::from_secs(20),
                    sh.client
                        .sessions()
                        .wait_for_idle(sid, Duration::from_secs(15)),
                )
                .await;
            } else {
                sh.ledger.retire_session(&sh.client, sid).await;
            }
        }
        let scope = session_id.clone().into_iter().collect::<Vec<_>>();
        judge
            .run(
                &visit.checks,
                &all_turns[first_turn..],
                &scope,
                &mut stores,
                &mut tally,
            )
            .await;
        visits.push(VisitRecord {
            visit: v,
            name: visit.name.clone(),
            session_id,
            turns: all_turns[first_turn..].to_vec(),
        });
    }
    judge
        .run(
            &script.checks,
            &all_turns,
            &sessions,
            &mut stores,
            &mut tally,
        )
        .await;

    // Final state of the customer's own stores (full versions, for the history report), then
    // delete them.
    let mut own: Vec<StoreState> = stores.iter().filter(|s| !s.shared).cloned().collect();
    refresh(sh, &mut own, true, &mut tally.problems).await;
    if !sh.keep {
        for s in &own {
            sh.ledger.delete_store(&sh.client, &s.store_id).await;
        }
    }
    let shared = stores.iter().filter(|s| s.shared).map(|s| StoreState {
        snapshot: None,
        ..s.clone()
    });
    let final_stores: Vec<StoreState> = own.into_iter().chain(shared).collect();

    let mut error = halt;
    if !tally.problems.is_empty() {
        let joined = tally.problems.join("; ");
        error = Some(match error {
            Some(e) => format!("{e}; {joined}"),
            None => joined,
        });
    }
    let usage = UnitUsage::of(&visits);
    UnitReport {
        variant: None,
        scenario: scenario.name.clone(),
        customer: script.customer.clone(),
        repeat: unit.repeat,
        started_at,
        duration_ms: clock.elapsed().as_secs_f64() * 1000.0,
        stores: final_stores,
        visits,
        checks: tally.results,
        error,
        usage,
    }
}
