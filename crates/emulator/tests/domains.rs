//! The reference agent on domains it has never seen: every case of the corpus in
//! `tests/domains/*.toml` runs through the emulator's HTTP API (stores, sessions, SSE turns)
//! once per paraphrase, and must pass; nothing in a reply or a note may be invented; and the
//! regressing models must fail the recall cases.
//!
//! Corpus format (one file per domain):
//!
//! ```toml
//! domain = "vet clinic"
//! [policy]                      # optional: a read_only store shared by every customer
//! path = "/policies.md"
//! content = "..."
//! [[cases]]
//! name = "learn the pet's name"
//! kind = "learn"                # learn | recall | update | forget | abstain | policy | isolation
//! [[cases.steps]]
//! customer = "a"                # each customer has a read_write store of their own
//! session = 1                   # steps with the same customer and session share a session
//! say = ["paraphrase 1", "paraphrase 2", "paraphrase 3"]
//! reply_contains = ["Biscuit"]  # also: reply_lacks, reply_matches (regex),
//!                               # memory_contains, memory_lacks (the customer's store)
//! ```
//!
//! Run `k` of a case says paraphrase `k` of every step (modulo its length), so every paraphrase
//! is exercised; then run `k` again with step `i` saying paraphrase `k + i`, so each statement
//! also meets a differently worded question. A case runs twice as many times as its longest
//! `say` list.

#![allow(clippy::unwrap_used)]

mod common;

use cma_client::turn::{TurnOptions, run_turn};
use cma_client::types::*;
use common::*;
use regex::Regex;
use serde::Deserialize;
use std::collections::BTreeSet;
use std::path::PathBuf;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Domain {
    domain: String,
    #[serde(default)]
    policy: Option<Seed>,
    cases: Vec<Case>,
}

#[derive(Debug, Deserialize, Clone)]
#[serde(deny_unknown_fields)]
struct Seed {
    path: String,
    content: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    kind: String,
    steps: Vec<Step>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    #[serde(default = "customer_a")]
    customer: String,
    session: u32,
    say: Vec<String>,
    #[serde(default)]
    reply_contains: Vec<String>,
    #[serde(default)]
    reply_lacks: Vec<String>,
    #[serde(default)]
    reply_matches: Option<String>,
    #[serde(default)]
    memory_contains: Vec<String>,
    #[serde(default)]
    memory_lacks: Vec<String>,
}

fn customer_a() -> String {
    "a".to_string()
}

/// The kinds every domain has.
const KINDS: &[&str] = &[
    "learn",
    "recall",
    "update",
    "forget",
    "abstain",
    "policy",
    "isolation",
];

/// The kinds of phrasing added with issue 22, each in at least [`PHRASING_DOMAINS`] domains:
/// several questions in one message, an open request in other words, a subject with no fact
/// against a partial overlap, a fact sharing a word outside the question's subject, a fragment
/// or imperative of preference, and odd input ("forget it", ten clauses, nested quotes).
const PHRASING_KINDS: &[&str] = &[
    "several",
    "open",
    "subject",
    "overlap",
    "fragment",
    "bad_input",
];
const PHRASING_DOMAINS: usize = 4;

/// Kinds whose cases recall across sessions, so the regressing models must fail them.
const RECALL_KINDS: &[&str] = &["recall", "update", "several", "open", "overlap", "fragment"];

fn corpus() -> Vec<(PathBuf, Domain)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/domains");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let text = std::fs::read_to_string(&p).unwrap();
            let d: Domain =
                toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p, d)
        })
        .collect()
}

/// One message and its reply in a run.
#[derive(Debug, Clone)]
struct Exchange {
    domain: String,
    case: String,
    kind: String,
    run: usize,
    shift: usize,
    message: String,
    reply: String,
    /// Every text the customer or a seeded store gave in this run (for the "nothing invented"
    /// check).
    inputs: String,
    /// The customer's store after the step.
    memory: String,
    failures: Vec<String>,
}

struct Harness {
    env: Env,
    agent: Agent,
    environment: Environment,
}

impl Harness {
    async fn new(model: &str) -> Harness {
        let env = start().await;
        let agent = env.agent(model).await;
        let environment = env.environment().await;
        Harness {
            env,
            agent,
            environment,
        }
    }

    async fn session(&self, stores: &[(&str, Access)]) -> Session {
        let mut p = CreateSession::new(
            AgentRef::Id(self.agent.id.clone()),
            self.environment.id.clone(),
        );
        p.resources = Some(
            stores
                .iter()
                .map(|(id, a)| ResourceParams::memory_store(*id, *a, None))
                .collect(),
        );
        t(self.env.client.sessions().create(&p)).await.unwrap()
    }

    async fn contents(&self, store: &str) -> Vec<(String, String)> {
        let p = ListMemories {
            view: Some(View::Full),
            limit: Some(20),
            ..Default::default()
        };
        let page = t(self.env.client.memory_stores().memories().list(store, &p))
            .await
            .unwrap();
        page.data
            .into_iter()
            .filter_map(|i| match i {
                MemoryListItem::Memory(m) => Some((m.path, m.content.unwrap_or_default())),
                _ => None,
            })
            .collect()
    }

    async fn memory_text(&self, store: &str) -> String {
        self.contents(store)
            .await
            .into_iter()
            .map(|(p, c)| format!("{p}:\n{c}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Runs paraphrase `run` of every step of `case`; returns every exchange with its failures.
    async fn run_case(
        &self,
        domain: &Domain,
        case: &Case,
        run: usize,
        shift: usize,
    ) -> Vec<Exchange> {
        let policy_store = match &domain.policy {
            Some(seed) => {
                let s = self.env.store(&format!("{} policies", domain.domain)).await;
                self.env.memory(&s.id, &seed.path, &seed.content).await;
                Some(s.id)
            }
            None => None,
        };
        let mut customers: Vec<(String, String)> = Vec::new();
        let mut inputs = domain
            .policy
            .as_ref()
            .map(|s| s.content.clone())
            .unwrap_or_default();
        let mut sessions: Vec<((String, u32), String)> = Vec::new();
        let mut out = Vec::new();
        for (index, step) in case.steps.iter().enumerate() {
            let store = match customers.iter().find(|(c, _)| *c == step.customer) {
                Some((_, id)) => id.clone(),
                None => {
                    let s = self.env.store(&format!("customer {}", step.customer)).await;
                    customers.push((step.customer.clone(), s.id.clone()));
                    s.id
                }
            };
            let key = (step.customer.clone(), step.session);
            let session = match sessions.iter().find(|(k, _)| *k == key) {
                Some((_, id)) => id.clone(),
                None => {
                    let mut stores = vec![(store.as_str(), Access::ReadWrite)];
                    if let Some(p) = &policy_store {
                        stores.push((p.as_str(), Access::ReadOnly));
                    }
                    let s = self.session(&stores).await;
                    sessions.push((key, s.id.clone()));
                    s.id
                }
            };
            let message = step.say[(run + index * shift) % step.say.len()].clone();
            inputs.push('\n');
            inputs.push_str(&message);
            let turn = t(run_turn(
                &self.env.client,
                &session,
                &message,
                &TurnOptions::default(),
            ))
            .await
            .unwrap();
            assert!(turn.ended_normally(), "{}: turn did not end", case.name);
            let reply = turn.reply.clone();
            let memory = self.memory_text(&store).await;
            let mut failures = Vec::new();
            for v in &step.reply_contains {
                if !reply.contains(v.as_str()) {
                    failures.push(format!("reply lacks {v:?}"));
                }
            }
            for v in &step.reply_lacks {
                if reply.contains(v.as_str()) {
                    failures.push(format!("reply holds {v:?}"));
                }
            }
            if let Some(re) = &step.reply_matches
                && !Regex::new(re).unwrap().is_match(&reply)
            {
                failures.push(format!("reply does not match /{re}/"));
            }
            for v in &step.memory_contains {
                if !memory.contains(v.as_str()) {
                    failures.push(format!("memory lacks {v:?}"));
                }
            }
            for v in &step.memory_lacks {
                if memory.contains(v.as_str()) {
                    failures.push(format!("memory holds {v:?}"));
                }
            }
            out.push(Exchange {
                domain: domain.domain.clone(),
                case: case.name.clone(),
                kind: case.kind.clone(),
                run,
                shift,
                message,
                reply,
                inputs: inputs.clone(),
                memory,
                failures,
            });
        }
        // A read-only store is never written.
        if let (Some(p), Some(seed)) = (&policy_store, &domain.policy) {
            let after = self.contents(p).await;
            if after != vec![(seed.path.clone(), seed.content.clone())]
                && let Some(last) = out.last_mut()
            {
                last.failures
                    .push(format!("the read-only store changed: {after:?}"));
            }
        }
        out
    }

    async fn run_all(&self, only_kinds: Option<&[&str]>) -> Vec<Vec<Exchange>> {
        let mut runs = Vec::new();
        for (_, domain) in corpus() {
            for case in &domain.cases {
                if only_kinds.is_some_and(|k| !k.contains(&case.kind.as_str())) {
                    continue;
                }
                let n = case.steps.iter().map(|s| s.say.len()).max().unwrap_or(0);
                for shift in [0, 1] {
                    for run in 0..n {
                        runs.push(self.run_case(&domain, case, run, shift).await);
                    }
                }
            }
        }
        runs
    }
}

fn describe(e: &Exchange) -> String {
    format!(
        "[{}] case {:?} ({}), run {} shift {}\n  message: {}\n  reply: {}\n  memory: {}\n  failures: {:?}",
        e.domain,
        e.case,
        e.kind,
        e.run,
        e.shift,
        e.message,
        e.reply.replace('\n', "\n         "),
        e.memory.replace('\n', "\n          "),
        e.failures
    )
}

#[test]
fn corpus_covers_twelve_domains_every_kind_and_three_paraphrases() {
    let corpus = corpus();
    let domains: BTreeSet<&str> = corpus.iter().map(|(_, d)| d.domain.as_str()).collect();
    assert!(domains.len() >= 12, "only {} domains", domains.len());
    for k in PHRASING_KINDS {
        let with: Vec<&str> = corpus
            .iter()
            .filter(|(_, d)| d.cases.iter().any(|c| c.kind == *k))
            .map(|(_, d)| d.domain.as_str())
            .collect();
        assert!(with.len() >= PHRASING_DOMAINS, "{k}: only in {with:?}");
    }
    assert!(!domains.iter().any(|d| d.contains("shop")), "{domains:?}");
    for (path, d) in &corpus {
        let kinds: BTreeSet<&str> = d.cases.iter().map(|c| c.kind.as_str()).collect();
        for k in KINDS {
            assert!(kinds.contains(k), "{}: no {k} case", path.display());
        }
        for c in &d.cases {
            assert!(
                KINDS.contains(&c.kind.as_str()) || PHRASING_KINDS.contains(&c.kind.as_str()),
                "{}: kind {}",
                c.name,
                c.kind
            );
            for s in &c.steps {
                assert!(
                    s.say.len() >= 3,
                    "{}: {:?}: fewer than 3 paraphrases of {:?}",
                    path.display(),
                    c.name,
                    s.say
                );
                let distinct: BTreeSet<&String> = s.say.iter().collect();
                assert_eq!(
                    distinct.len(),
                    s.say.len(),
                    "{}: repeated paraphrase",
                    c.name
                );
            }
            let checks: usize = c
                .steps
                .iter()
                .map(|s| {
                    s.reply_contains.len()
                        + s.reply_lacks.len()
                        + s.memory_contains.len()
                        + s.memory_lacks.len()
                        + usize::from(s.reply_matches.is_some())
                })
                .sum();
            assert!(
                checks > 0,
                "{}: case {:?} checks nothing",
                path.display(),
                c.name
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_case_passes_on_the_reference_agent() {
    let h = Harness::new("claude-sonnet-4-6").await;
    let runs = h.run_all(None).await;
    let failed: Vec<String> = runs
        .iter()
        .flatten()
        .filter(|e| !e.failures.is_empty())
        .map(describe)
        .collect();
    assert!(
        failed.is_empty(),
        "{} of {} exchanges failed:\n{}",
        failed.len(),
        runs.iter().map(Vec::len).sum::<usize>(),
        failed.join("\n\n")
    );
    let total: usize = runs.len();
    assert!(total >= 12 * 7 * 3 * 2, "only {total} runs");
}

/// Names, numbers and amounts in `text` that do not appear in `inputs`: every token with a digit
/// or a currency mark, and every capitalised word that does not start a line, a sentence or a
/// quoted bullet (except "I" forms).
fn invented(text: &str, inputs: &str) -> Vec<String> {
    let token =
        Regex::new(r"[$€£¥]?[\p{L}\p{N}][\p{L}\p{N}'’.,-]*[\p{L}\p{N}]|[\p{L}\p{N}]").unwrap();
    let given: BTreeSet<&str> = token
        .find_iter(inputs)
        .map(|m| m.as_str().trim_end_matches(['.', ',']))
        .collect();
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.trim_start().trim_start_matches("- ").trim_start();
        let mut sentence_start = true;
        let mut last_end = 0;
        for m in token.find_iter(line) {
            let between = &line[last_end..m.start()];
            if between.contains(['.', '!', '?']) {
                sentence_start = true;
            }
            last_end = m.end();
            let w = m.as_str().trim_end_matches(['.', ',']);
            let first = std::mem::replace(&mut sentence_start, false);
            let has_value = w.chars().any(|c| c.is_ascii_digit() || "$€£¥".contains(c));
            let capital = w.chars().next().is_some_and(char::is_uppercase);
            let pronoun = ["I", "I'm", "I've", "I'd", "I'll"].contains(&w);
            if (has_value || (capital && !first && !pronoun)) && !given.contains(w) {
                out.push(w.to_string());
            }
        }
    }
    out
}

#[test]
fn the_invented_check_catches_invented_values() {
    let inputs = "My budget is $30 and my name is Ana.";
    assert_eq!(
        invented("Noted: your budget is $30.", inputs),
        Vec::<String>::new()
    );
    assert_eq!(
        invented("Try the Moto jacket — $149", inputs),
        vec!["Moto", "$149"]
    );
    assert_eq!(
        invented("Welcome back, Ana! You have 3 visits.", inputs),
        vec!["3"]
    );
    assert_eq!(
        invented("- Everyday tote\nFrom my notes: Bob", inputs),
        vec!["Bob"]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_in_a_reply_or_a_note_is_invented() {
    let h = Harness::new("claude-sonnet-4-6").await;
    let runs = h.run_all(None).await;
    let mut bad = Vec::new();
    let mut checked = 0;
    for e in runs.iter().flatten() {
        checked += 1;
        let in_reply = invented(&e.reply, &e.inputs);
        // Store paths are the harness's, not the agent's.
        let notes: String = e
            .memory
            .lines()
            .filter(|l| !l.starts_with('/'))
            .collect::<Vec<_>>()
            .join("\n");
        let in_memory = invented(&notes, &e.inputs);
        if !in_reply.is_empty() || !in_memory.is_empty() {
            bad.push(format!(
                "{}\n  invented in reply: {in_reply:?}, in memory: {in_memory:?}",
                describe(e)
            ));
        }
    }
    assert!(checked > 0);
    assert!(bad.is_empty(), "{}", bad.join("\n\n"));
}

/// The checks can fail: on the regressing models every run of a case that recalls across
/// sessions ([`RECALL_KINDS`]) fails at least one check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn recall_cases_fail_on_the_regressing_models() {
    for model in ["emulator:forgetful", "emulator:amnesiac"] {
        let h = Harness::new(model).await;
        let runs = h.run_all(Some(RECALL_KINDS)).await;
        assert!(runs.len() >= 12 * 2 * 3 * 2, "{model}: {} runs", runs.len());
        let passed: Vec<String> = runs
            .iter()
            .filter(|run| run.iter().all(|e| e.failures.is_empty()))
            .map(|run| describe(&run[run.len() - 1]))
            .collect();
        assert!(
            passed.is_empty(),
            "{model}: {} of {} recall runs passed:\n{}",
            passed.len(),
            runs.len(),
            passed.join("\n\n")
        );
    }
}
