//! Behaviour tests over an in-memory sandbox that records every tool call.

#![allow(clippy::unwrap_used)]

use super::super::{AgentBehavior, Exchange, Mount, ToolOutput, Tools, TurnInput, TurnOutcome};
use super::Access;
use super::{ReferenceAgent, Regression};
use serde_json::Value;
use std::collections::BTreeMap;

/// A fake sandbox: files by absolute path, read-only mount prefixes, and a log of calls.
#[derive(Default)]
struct Sandbox {
    files: BTreeMap<String, String>,
    read_only: Vec<String>,
    calls: Vec<(String, Value)>,
    said: Vec<String>,
    /// Answer `read` in `cat -n` form, as some sandboxes do.
    numbered: bool,
}

fn ok(text: impl Into<String>) -> ToolOutput {
    ToolOutput {
        is_error: false,
        text: text.into(),
    }
}

fn err(text: &str) -> ToolOutput {
    ToolOutput {
        is_error: true,
        text: text.to_string(),
    }
}

impl Sandbox {
    fn ro(&self, path: &str) -> bool {
        self.read_only
            .iter()
            .any(|p| path.starts_with(&format!("{p}/")))
    }

    fn unquote(s: &str) -> String {
        s.trim_matches('\'').replace(r"'\''", "'")
    }

    fn bash(&mut self, command: &str) -> ToolOutput {
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["find", dir, "-type", "f"] => {
                let prefix = format!("{}/", Self::unquote(dir));
                let list: Vec<&str> = self
                    .files
                    .keys()
                    .filter(|k| k.starts_with(&prefix))
                    .map(String::as_str)
                    .collect();
                ok(list.join("\n"))
            }
            ["rm", file] => {
                let f = Self::unquote(file);
                if self.ro(&f) {
                    return err("rm: Read-only file system");
                }
                match self.files.remove(&f) {
                    Some(_) => ok(""),
                    None => err("rm: No such file or directory"),
                }
            }
            ["mkdir", "-p", _] => ok(""),
            _ => err("unsupported command"),
        }
    }
}

impl Tools for Sandbox {
    fn call(&mut self, name: &str, input: Value) -> ToolOutput {
        self.calls.push((name.to_string(), input.clone()));
        let s = |k: &str| {
            input
                .get(k)
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string()
        };
        match name {
            "bash" => self.bash(&s("command")),
            "read" => match self.files.get(&s("file_path")) {
                Some(c) if self.numbered => ok(c
                    .lines()
                    .enumerate()
                    .map(|(n, l)| format!("{:>6}\t{l}\n", n + 1))
                    .collect::<String>()),
                Some(c) => ok(c.clone()),
                None => err("File does not exist."),
            },
            "write" => {
                let path = s("file_path");
                if self.ro(&path) {
                    return err("Read-only file system");
                }
                self.files.insert(path, s("content"));
                ok("File written")
            }
            "edit" => {
                let path = s("file_path");
                if self.ro(&path) {
                    return err("Read-only file system");
                }
                let (old, new) = (s("old_string"), s("new_string"));
                let Some(content) = self.files.get_mut(&path) else {
                    return err("File does not exist.");
                };
                if old.is_empty() || content.matches(&old).count() != 1 {
                    return err("old_string must occur exactly once");
                }
                *content = content.replacen(&old, &new, 1);
                ok("File edited")
            }
            _ => err("unknown tool"),
        }
    }

    fn say(&mut self, text: &str) {
        self.said.push(text.to_string());
    }
}

impl Sandbox {
    fn names(&self) -> Vec<&str> {
        self.calls.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn writes(&self) -> Vec<&(String, Value)> {
        self.calls
            .iter()
            .filter(|(n, i)| {
                n == "write"
                    || n == "edit"
                    || (n == "bash"
                        && i.get("command")
                            .and_then(Value::as_str)
                            .is_some_and(|c| c.starts_with("rm ")))
            })
            .collect()
    }

    fn take_calls(&mut self) -> Vec<(String, Value)> {
        std::mem::take(&mut self.calls)
    }
}

fn mount(slug: &str, access: Access) -> Mount {
    Mount {
        path: format!("/mnt/memory/{slug}"),
        store_name: slug.to_string(),
        store_description: String::new(),
        access,
        instructions: None,
    }
}

fn rw(slug: &str) -> Mount {
    mount(slug, Access::ReadWrite)
}

fn ro(slug: &str) -> Mount {
    mount(slug, Access::ReadOnly)
}

/// Runs one session (several turns) and returns the replies.
fn session(
    agent: &ReferenceAgent,
    sb: &mut Sandbox,
    mounts: &[Mount],
    messages: &[&str],
) -> Vec<String> {
    for m in mounts {
        if m.access == Access::ReadOnly && !sb.read_only.contains(&m.path) {
            sb.read_only.push(m.path.clone());
        }
    }
    let mut history: Vec<Exchange> = Vec::new();
    let mut replies = Vec::new();
    for msg in messages {
        let input = TurnInput {
            model: "claude-sonnet-4-6",
            system: None,
            mounts,
            history: &history,
            message: msg,
        };
        let TurnOutcome::Reply(reply) = agent.run_turn(&input, sb) else {
            panic!("the reference agent always replies");
        };
        history.push(Exchange {
            user: (*msg).to_string(),
            agent: reply.clone(),
        });
        replies.push(reply);
    }
    replies
}

fn visit(agent: &ReferenceAgent, sb: &mut Sandbox, mounts: &[Mount], message: &str) -> String {
    session(agent, sb, mounts, &[message]).remove(0)
}

const NOTES: &str = "/mnt/memory/me/preferences.md";

#[test]
fn debug_dump() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    for msg in [
        "Hi, I'm Ana. I live in Lisbon, I wear a size 32 and my budget is under $120.",
        "Heads up: my home airport is SFO. I always want an aisle seat.",
        "I'm a size 9 by the way",
        "My Portuguese level is A2",
        "my level is B1 now",
        "my home airport is SEA now",
        "I'm allergic to penicillin and I love science fiction.",
        "What's my home airport?",
        "Do I have any allergies?",
        "What's my blood type?",
        "Book me something to Tokyo",
        "Forget my allergy information",
        "What do you remember about me?",
        "I'm Cust0042x",
        "forget everything",
        "What do you remember about me?",
    ] {
        let r = visit(&agent, &mut sb, &mounts, msg);
        println!(">>> {msg}\n{r}\n--- notes:\n{}\n", sb.files.get(NOTES).cloned().unwrap_or_default());
    }
    println!("{:#?}", sb.names());
}
