//! A fake model whose decisions are the reference agent's rules, driven purely through the wire
//! protocol (test-only). A request whose last message is a new user turn starts the reference
//! agent in a thread, with a [`Tools`] whose every call becomes a `tool_use` / `tool_calls`
//! response and blocks until a later request carries the result for that tool use id; when the
//! agent replies, the response is its text with `end_turn` / `stop`.
//!
//! The agent knows only what crossed the wire: its mounts are parsed from the memory section of
//! the system prompt (so a prompt missing a store's path or access fails the run), its history
//! from the earlier messages, its tool results from the tool result blocks.
#![allow(dead_code, clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::{Mutex, mpsc};
use std::time::Duration;

use cma_client::types::Access;
use cma_emulator::agent::reference::{ReferenceAgent, Regression};
use cma_emulator::agent::{
    AgentBehavior, Exchange, Mount, ToolOutput, Tools, TurnInput, TurnOutcome,
};
use serde_json::Value;

use super::{Either, Proto, Step, Stop, text_of_content, tool_id};

/// How long either side waits for the other (the emulator to send a tool result, the agent to
/// decide) before giving up on the turn.
const WAIT: Duration = Duration::from_secs(60);

/// What the agent decided next.
enum Decision {
    Tool {
        said: Vec<String>,
        name: String,
        input: Value,
    },
    Done {
        said: Vec<String>,
        reply: String,
    },
}

/// A turn in progress, waiting for the result of one tool use.
struct Run {
    results: mpsc::Sender<ToolOutput>,
    decisions: tokio::sync::mpsc::Receiver<Decision>,
}

/// What a request asks of the model.
enum Ask {
    NewTurn {
        system: String,
        model: String,
        history: Vec<Exchange>,
        message: String,
    },
    ToolResult {
        id: String,
        output: ToolOutput,
    },
}

pub struct ReferenceModel {
    agent: ReferenceAgent,
    /// Turns in progress by the id of the tool use they wait on.
    pending: Mutex<HashMap<String, Run>>,
}

impl ReferenceModel {
    pub fn new(regression: Option<Regression>) -> Self {
        ReferenceModel {
            agent: regression.map_or_else(ReferenceAgent::default, ReferenceAgent::with_regression),
            pending: Mutex::new(HashMap::new()),
        }
    }

    /// The response to request number `call`: the agent's next tool use, or its reply; a 400
    /// for a request the protocol does not allow here.
    pub async fn step(&self, proto: Proto, call: usize, body: &Value) -> Step {
        let ask = match proto {
            Proto::Anthropic => ask_anthropic(body),
            Proto::OpenAi => ask_openai(body),
        };
        let run = match ask {
            Ok(Ask::NewTurn {
                system,
                model,
                history,
                message,
            }) => match parse_memory_section(&system) {
                Ok((system, mounts)) => {
                    let custom = custom_tool_names(proto, body);
                    self.start(system, mounts, model, history, message, custom)
                }
                Err(e) => return refuse(&e),
            },
            Ok(Ask::ToolResult { id, output }) => {
                let Some(run) = self.pending.lock().unwrap().remove(&id) else {
                    return refuse(&format!("no turn waits for tool use {id:?}"));
                };
                if run.results.send(output).is_err() {
                    return refuse("the agent's turn ended before its tool result arrived");
                }
                run
            }
            Err(e) => return refuse(&e),
        };
        self.next(run, proto, call).await
    }

    fn start(
        &self,
        system: Option<String>,
        mounts: Vec<Mount>,
        model: String,
        history: Vec<Exchange>,
        message: String,
        custom_tools: Vec<String>,
    ) -> Run {
        let (results_tx, results) = mpsc::channel();
        // Capacity 1 suffices: the agent decides again only after the previous decision was
        // answered by a tool result, so the buffer is always empty when it sends.
        let (decisions_tx, decisions) = tokio::sync::mpsc::channel(1);
        let agent = self.agent.clone();
        std::thread::spawn(move || {
            let input = TurnInput {
                model: &model,
                system: system.as_deref(),
                mounts: &mounts,
                files: &[],
                history: &history,
                message: &message,
                custom_tools: &custom_tools,
                memory_guidance: false,
            };
            let mut tools = WireTools {
                said: Vec::new(),
                decisions: decisions_tx,
                results,
                gone: false,
            };
            let reply = match agent.run_turn(&input, &mut tools) {
                TurnOutcome::Reply(r) => r,
                other => format!("(the reference agent did not reply: {other:?})"),
            };
            let said = std::mem::take(&mut tools.said);
            let _ = tools.decisions.try_send(Decision::Done { said, reply });
        });
        Run {
            results: results_tx,
            decisions,
        }
    }

    async fn next(&self, mut run: Run, proto: Proto, call: usize) -> Step {
        let decision = match tokio::time::timeout(WAIT, run.decisions.recv()).await {
            Ok(Some(d)) => d,
            Ok(None) => return refuse("the agent's thread ended without a decision"),
            Err(_) => return refuse("the agent decided nothing in time"),
        };
        let (said, last) = match decision {
            Decision::Tool { said, name, input } => (said, Some((name, input))),
            Decision::Done { said, reply } => {
                let mut text = said;
                text.push(reply);
                (text, None)
            }
        };
        let mut items: Vec<Either> = match proto {
            Proto::Anthropic => said.into_iter().map(Either::Text).collect(),
            // One assistant message has one text: the emulator joins agent messages the same way.
            Proto::OpenAi if said.is_empty() => Vec::new(),
            Proto::OpenAi => vec![Either::Text(said.join("\n\n"))],
        };
        let Some((name, input)) = last else {
            return Step::Ordered(items, Stop::End);
        };
        let id = tool_id(proto, call, items.len());
        items.push(Either::Tool(name, input));
        self.pending.lock().unwrap().insert(id, run);
        Step::Ordered(items, Stop::Tools)
    }
}

/// The request's tools that are not the agent toolset's: the agent's custom tools, which the
/// reference agent calls when the customer's message names one.
fn custom_tool_names(proto: Proto, body: &Value) -> Vec<String> {
    let name = |t: &Value| match proto {
        Proto::Anthropic => t["name"].as_str().map(str::to_string),
        Proto::OpenAi => t["function"]["name"].as_str().map(str::to_string),
    };
    body["tools"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(name)
        .filter(|n| !cma_emulator::TOOLSET_TOOLS.contains(&n.as_str()))
        .collect()
}

fn refuse(why: &str) -> Step {
    Step::Raw {
        status: 400,
        headers: vec![],
        body: serde_json::json!({ "type": "error", "error": { "type": "invalid_request_error", "message": format!("reference model: {why}") } }).to_string(),
    }
}

/// The reference agent's tools: each call is handed to the HTTP side as a tool use and answered
/// by the tool result of a later request.
struct WireTools {
    said: Vec<String>,
    decisions: tokio::sync::mpsc::Sender<Decision>,
    results: mpsc::Receiver<ToolOutput>,
    /// The model side stopped answering: every later call fails at once.
    gone: bool,
}

impl Tools for WireTools {
    fn call(&mut self, name: &str, input: Value) -> ToolOutput {
        let lost = |text: &str| ToolOutput {
            is_error: true,
            text: text.into(),
        };
        if self.gone {
            return lost("the model server stopped this turn");
        }
        let decision = Decision::Tool {
            said: std::mem::take(&mut self.said),
            name: name.into(),
            input,
        };
        if self.decisions.try_send(decision).is_err() {
            self.gone = true;
            return lost("the model server stopped this turn");
        }
        match self.results.recv_timeout(WAIT) {
            Ok(out) => out,
            Err(_) => {
                self.gone = true;
                lost("no tool result arrived")
            }
        }
    }

    fn say(&mut self, text: &str) {
        self.said.push(text.into());
    }
}

/// The agent's own system text and its mounts, from a system prompt as
/// `cma_emulator::agent::prompt::render` writes it: `## <path>` then `- name:`,
/// `- description:`, `- access:`, `- instructions:` lines per store. A store without a path or
/// an access is an error.
pub fn parse_memory_section(prompt: &str) -> Result<(Option<String>, Vec<Mount>), String> {
    let (system, section) = if let Some(rest) = prompt.strip_prefix("# Memory\n") {
        ("", rest)
    } else if let Some((before, rest)) = prompt.split_once("\n\n# Memory\n") {
        (before, rest)
    } else {
        (prompt, "")
    };
    let system = Some(system.to_string()).filter(|s| !s.is_empty());
    let mut mounts: Vec<(Mount, bool)> = Vec::new();
    for line in section.lines() {
        if let Some(path) = line.strip_prefix("## ") {
            if !path.starts_with("/mnt/memory/") {
                return Err(format!("a store's mount path is {path:?}"));
            }
            mounts.push((
                Mount {
                    path: path.to_string(),
                    store_name: String::new(),
                    store_description: String::new(),
                    access: Access::ReadWrite,
                    instructions: None,
                },
                false,
            ));
            continue;
        }
        let Some((m, has_access)) = mounts.last_mut() else {
            continue;
        };
        if let Some(v) = line.strip_prefix("- name: ") {
            m.store_name = v.to_string();
        } else if let Some(v) = line.strip_prefix("- description: ") {
            m.store_description = v.to_string();
        } else if let Some(v) = line.strip_prefix("- instructions: ") {
            m.instructions = Some(v.to_string());
        } else if let Some(v) = line.strip_prefix("- access: ") {
            m.access = match v {
                "read_write" => Access::ReadWrite,
                "read_only" => Access::ReadOnly,
                other => return Err(format!("{}: access {other:?}", m.path)),
            };
            *has_access = true;
        }
    }
    if let Some((m, _)) = mounts.iter().find(|(_, has_access)| !has_access) {
        return Err(format!("{}: the memory section gives no access", m.path));
    }
    Ok((system, mounts.into_iter().map(|(m, _)| m).collect()))
}

/// Turns as the wire shows them: each user text opens an exchange, and the text of an assistant
/// message that ends its turn (no tool use) is the agent's reply.
struct Exchanges(Vec<Exchange>);

impl Exchanges {
    fn user(&mut self, text: String) {
        self.0.push(Exchange {
            user: text,
            agent: String::new(),
        });
    }

    fn reply(&mut self, text: String) {
        if let Some(e) = self.0.last_mut() {
            e.agent = text;
        }
    }

    /// The last exchange is the new turn: its text, and the earlier ones as history.
    fn new_turn(mut self, system: String, model: String) -> Result<Ask, String> {
        let last = self.0.pop().ok_or("no user message")?;
        Ok(Ask::NewTurn {
            system,
            model,
            history: self.0,
            message: last.user,
        })
    }
}

fn ask_anthropic(body: &Value) -> Result<Ask, String> {
    let msgs = body["messages"].as_array().ok_or("no messages")?;
    let mut turns = Exchanges(Vec::new());
    for m in msgs {
        let blocks = m["content"].as_array().cloned().unwrap_or_default();
        let uses_tools = blocks
            .iter()
            .any(|b| b["type"] == "tool_use" || b["type"] == "tool_result");
        let text = text_of_content(&m["content"]);
        match m["role"].as_str() {
            Some("user") if !uses_tools => turns.user(text),
            Some("assistant") if !uses_tools => turns.reply(text),
            _ => {}
        }
    }
    let last = msgs.last().ok_or("no messages")?;
    if last["role"] != "user" {
        return Err("the last message is not the user's".into());
    }
    let results: Vec<&Value> = last["content"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|b| b["type"] == "tool_result")
        .collect();
    match results.as_slice() {
        [] => turns.new_turn(
            text_of_content(&body["system"]),
            body["model"].as_str().unwrap_or("").into(),
        ),
        [r] => Ok(Ask::ToolResult {
            id: r["tool_use_id"].as_str().unwrap_or("").into(),
            output: ToolOutput {
                is_error: r["is_error"] == true,
                text: text_of_content(&r["content"]),
            },
        }),
        more => Err(format!(
            "{} tool results, the agent makes one call at a time",
            more.len()
        )),
    }
}

fn ask_openai(body: &Value) -> Result<Ask, String> {
    let msgs = body["messages"].as_array().ok_or("no messages")?;
    let mut system = String::new();
    let mut turns = Exchanges(Vec::new());
    for m in msgs {
        let text = text_of_content(&m["content"]);
        match m["role"].as_str() {
            Some("system") => system = text,
            Some("user") => turns.user(text),
            Some("assistant") if m["tool_calls"].as_array().is_none_or(Vec::is_empty) => {
                turns.reply(text)
            }
            _ => {}
        }
    }
    let last = msgs.last().ok_or("no messages")?;
    match last["role"].as_str() {
        Some("user") => turns.new_turn(system, body["model"].as_str().unwrap_or("").into()),
        Some("tool") => {
            let text = text_of_content(&last["content"]);
            Ok(Ask::ToolResult {
                id: last["tool_call_id"].as_str().unwrap_or("").into(),
                // The role has no error flag; the emulator says it in the text.
                output: ToolOutput {
                    is_error: text.starts_with("Error"),
                    text,
                },
            })
        }
        other => Err(format!("the last message's role is {other:?}")),
    }
}
