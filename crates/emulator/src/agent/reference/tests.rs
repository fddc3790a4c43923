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

const SEED_VISIT_1: &str = "Hi! I'm looking for a new jacket. A few things about me: I wear a size medium, I only buy vegan leather (no animal leather please), my budget is usually under $200, and I love earth tones. What would you suggest?";
const SEED_VISIT_2: &str = "Hey, I'm back! I need a bag for work. Any recommendations?";
const NOTES: &str = "/mnt/memory/shopper/preferences.md";

/// Every mention of leather is vegan, or negated.
fn leather_ok(text: &str) -> bool {
    let low = text.to_lowercase();
    let mut rest = low.as_str();
    while let Some(pos) = rest.find("leather") {
        let before = &rest[..pos];
        if !(before.ends_with("vegan ") || before.ends_with("no animal ")) {
            return false;
        }
        rest = &rest[pos + 7..];
    }
    true
}

#[test]
fn learns_on_first_visit_and_recalls_in_a_new_session() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("shopper")];

    let reply = visit(&agent, &mut sb, &mounts, SEED_VISIT_1);
    assert_eq!(sb.said, vec!["Let me check your notes."]);
    assert_eq!(sb.names(), vec!["bash", "write"]);
    assert_eq!(
        sb.files[NOTES],
        "# Customer notes\n\n## Size\n- Size: medium\n\n## Materials\n- Vegan leather only\n- No animal leather\n\n## Budget\n- Budget: under $200\n\n## Colors\n- Colors: earth tones\n\n## Recommended\n- Moto jacket in camel vegan leather — $149\n- Bomber jacket in olive recycled nylon — $119\n- Trench coat in rust organic cotton — $89\n"
    );
    assert!(reply.contains(
        "I've noted that: size medium; vegan leather only; budget under $200; earth tones; no animal leather."
    ));
    assert!(reply.contains("Here are my suggestions for a jacket:\n1. Moto jacket in camel vegan leather, size medium — $149"));
    assert!(!reply.contains("From your notes I remember:"));
    assert!(leather_ok(&reply), "{reply}");

    sb.take_calls();
    let reply = visit(&agent, &mut sb, &mounts, SEED_VISIT_2);
    assert_eq!(sb.names(), vec!["bash", "read", "edit"]);
    assert_eq!(sb.calls[0].1["command"], "find /mnt/memory/shopper -type f");
    assert_eq!(sb.calls[1].1["file_path"], NOTES);
    assert!(reply.starts_with("Welcome back!\n\nFrom your notes I remember: size medium; vegan leather only; no animal leather; budget under $200; earth tones."), "{reply}");
    assert!(reply.contains("1. Structured tote in camel vegan leather — $149"));
    assert!(reply.contains("2. Laptop backpack in olive canvas — $119"));
    assert!(leather_ok(&reply), "{reply}");
    assert!(!reply.contains("I've noted that"));
}

#[test]
fn knowledge_update_replaces_the_old_value_with_an_edit() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("shopper")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I wear a size medium and my budget is $150.",
    );
    assert_eq!(sb.writes().len(), 1);
    assert_eq!(sb.writes()[0].0, "write");
    sb.take_calls();

    let reply = visit(&agent, &mut sb, &mounts, "I'm a large now.");
    assert!(reply.contains("I've noted that: size large."), "{reply}");
    assert!(!reply.contains("medium"));
    let writes: Vec<_> = sb.writes().into_iter().cloned().collect();
    assert_eq!(writes.len(), 1);
    assert_eq!(writes[0].0, "edit");
    assert_eq!(writes[0].1["old_string"], "\n## Size\n- Size: medium\n");
    assert_eq!(writes[0].1["new_string"], "\n## Size\n- Size: large\n");
    assert!(sb.files[NOTES].contains("Size: large"));
    assert!(!sb.files[NOTES].contains("medium"));

    let reply = visit(&agent, &mut sb, &mounts, "What size do I wear?");
    assert!(reply.contains("Your size is large."), "{reply}");
    assert!(!reply.contains("medium"));
    let reply = visit(&agent, &mut sb, &mounts, "Can you suggest a jacket?");
    assert!(reply.contains("size large — $"), "{reply}");
    assert!(!reply.contains("medium"));
}

#[test]
fn aggregates_facts_from_several_visits() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("shopper")];
    visit(&agent, &mut sb, &mounts, "My name is Ana.");
    visit(&agent, &mut sb, &mounts, "I live in Lisbon.");
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I avoid wool; my favorite color is navy.",
    );
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I'm allergic to peanuts and shellfish.",
    );
    let reply = visit(&agent, &mut sb, &mounts, "What do you know about me?");
    assert_eq!(
        reply,
        "From your notes I remember: name Ana; location Lisbon; no wool; navy; allergic to peanuts; allergic to shellfish."
    );
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "Hi! Where do I live? And what's my name?",
    );
    assert!(reply.starts_with("Hi Ana!"), "{reply}");
    assert!(reply.contains("You live in Lisbon."));
    assert!(reply.contains("Your name is Ana."));
    let reply = visit(&agent, &mut sb, &mounts, "I'd love a sweater suggestion");
    assert!(!reply.to_lowercase().contains(" wool "), "{reply}");
    assert!(reply.contains("navy"));
}

#[test]
fn abstains_when_never_told() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("shopper")];
    visit(&agent, &mut sb, &mounts, "I wear a size medium.");
    let reply = visit(&agent, &mut sb, &mounts, "What's my budget?");
    assert_eq!(reply, "I don't know your budget yet — you haven't told me.");
    let reply = visit(&agent, &mut sb, &mounts, "What's my favorite sport?");
    assert_eq!(
        reply,
        "I don't know your favorite sport yet — you haven't told me."
    );
    let reply = visit(&agent, &mut sb, &mounts, "Do you remember my name?");
    assert_eq!(reply, "I don't know your name yet — you haven't told me.");
    let reply = visit(&agent, &mut sb, &mounts, "What did I buy last time?");
    assert!(reply.starts_with("I don't know your past purchases"));
    // Questions are never stored.
    assert!(!sb.files[NOTES].contains("budget"));
    assert!(!sb.files[NOTES].to_lowercase().contains("sport"));
}

#[test]
fn forgets_a_topic_and_then_everything() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("shopper")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "My budget is under $300. I wear a size small. I have a dog named Rex.",
    );
    sb.take_calls();
    let reply = visit(&agent, &mut sb, &mounts, "Please forget my budget.");
    assert_eq!(reply, "I've forgotten your budget.");
    assert!(!sb.files[NOTES].contains("$300"));
    assert_eq!(sb.writes()[0].0, "edit");
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "What's my budget? Suggest a jacket.",
    );
    assert!(reply.contains("I don't know your budget yet"), "{reply}");
    assert!(!reply.contains("300"));
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "Forget that I have a dog named Rex",
    );
    assert!(
        reply.starts_with("I've forgotten what you told me about"),
        "{reply}"
    );
    assert!(!sb.files[NOTES].contains("Rex"));
    let reply = visit(&agent, &mut sb, &mounts, "forget everything about me");
    assert_eq!(reply, "I've forgotten everything I had noted about you.");
    assert!(!sb.files.contains_key(NOTES));
    assert!(
        sb.calls
            .iter()
            .any(|(n, i)| n == "bash" && i["command"] == format!("rm {NOTES}"))
    );
    let reply = visit(&agent, &mut sb, &mounts, "what size do I wear?");
    assert_eq!(reply, "I don't know your size yet — you haven't told me.");
    let reply = visit(&agent, &mut sb, &mounts, "forget my address");
    assert_eq!(reply, "I don't have anything noted about your address.");
}

#[test]
fn customers_are_isolated() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let alice = [rw("alice")];
    let bob = [rw("bob")];
    visit(
        &agent,
        &mut sb,
        &alice,
        "I'm Alice. I wear a size small and I love pastels. My budget is $90.",
    );
    visit(&agent, &mut sb, &bob, "My name is Bob and I wear XL.");
    let before_bob = sb.files["/mnt/memory/bob/preferences.md"].clone();
    let reply = visit(
        &agent,
        &mut sb,
        &bob,
        "What do you know about me? Suggest a top.",
    );
    for leak in ["Alice", "small", "pastel", "blush", "$90"] {
        assert!(!reply.contains(leak), "{leak} leaked into {reply}");
    }
    assert!(reply.contains("size extra large"));
    let reply = visit(&agent, &mut sb, &alice, "What's my name and size?");
    assert!(
        reply.contains("Your name is Alice.") && reply.contains("Your size is small."),
        "{reply}"
    );
    assert!(!reply.contains("Bob"));
    assert!(sb.calls.iter().all(|(_, i)| {
        let target = i
            .get("file_path")
            .or_else(|| i.get("command"))
            .map(Value::to_string)
            .unwrap_or_default();
        !(target.contains("/alice") && target.contains("/bob"))
    }));
    assert!(!sb.files["/mnt/memory/alice/preferences.md"].contains("Bob"));
    assert!(sb.files["/mnt/memory/bob/preferences.md"].starts_with(before_bob.trim_end()));
}

#[test]
fn uses_a_read_only_catalog_and_never_writes_it() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    sb.files.insert(
        "/mnt/memory/catalog/bags.md".into(),
        "# Catalog\n\n## Work bags\n- Structured tote in camel vegan leather, $149\n- Leather briefcase, $180\n- Canvas messenger, $320\n\n## Jackets\n- Olive moto jacket, $150\n".into(),
    );
    sb.files.insert(
        "/mnt/memory/catalog/promos.md".into(),
        "Work bags: Nylon commuter tote, $99\n".into(),
    );
    let mounts = [rw("shopper"), ro("catalog")];
    visit(&agent, &mut sb, &mounts, SEED_VISIT_1);
    let reply = visit(&agent, &mut sb, &mounts, SEED_VISIT_2);
    assert!(
        reply.contains("From the catalog: Work bags: Structured tote in camel vegan leather, $149; Work bags: Nylon commuter tote, $99."),
        "{reply}"
    );
    assert!(
        !reply.contains("briefcase"),
        "animal leather offered: {reply}"
    );
    assert!(!reply.contains("$320"), "over budget: {reply}");
    assert!(leather_ok(&reply));
    for (name, input) in &sb.calls {
        let target = input
            .get("file_path")
            .or_else(|| input.get("command"))
            .map(Value::to_string)
            .unwrap_or_default();
        if matches!(name.as_str(), "write" | "edit") || target.contains("rm ") {
            assert!(
                !target.contains("/catalog"),
                "wrote to the catalog: {name} {input}"
            );
        }
    }
    assert!(!sb.files.contains_key("/mnt/memory/catalog/preferences.md"));
}

#[test]
fn uses_seeded_purchase_history() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    sb.files.insert(
        "/mnt/memory/shopper/purchase-history.md".into(),
        "## Recent purchases\n- Canvas tote, olive, $89 (Jan 2026)\n- Wool beanie, rust, $34 (Dec 2025)\n".into(),
    );
    let mounts = [rw("shopper")];
    let reply = visit(&agent, &mut sb, &mounts, "What did I buy last time?");
    assert_eq!(
        reply,
        "Your past purchases: Canvas tote, olive, $89 (Jan 2026); Wool beanie, rust, $34 (Dec 2025)."
    );
    let reply = visit(&agent, &mut sb, &mounts, "I need a bag for work.");
    assert!(
        reply.contains("You previously bought: Canvas tote, olive, $89 (Jan 2026)."),
        "{reply}"
    );
    assert!(!reply.contains("beanie"));
    // Seeded files are not the agent's notes: nothing was learned, so only the recommendation is kept.
    assert!(
        sb.files
            .contains_key("/mnt/memory/shopper/purchase-history.md")
    );
}

#[test]
fn claude_written_notes_are_understood_and_updated() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let claude = "# Shopper Preferences\n\n## Sizes\n- Tops/Jackets: Medium\n\n## Style\n- Loves earth tones (browns, tans, olive, terracotta, camel, rust, etc.)\n- Interested in jackets\n\n## Budget\n- Usually under $200\n\n## Materials\n- VEGAN LEATHER ONLY — absolutely no animal leather\n- (No other material restrictions noted yet)\n\n## Favorite Brands\n- None noted yet\n\n## Other Notes\n- First visit; preferences collected 2026-04-23\n";
    sb.files.insert(NOTES.into(), claude.into());
    let mounts = [rw("shopper")];
    let reply = visit(&agent, &mut sb, &mounts, SEED_VISIT_2);
    assert!(
        reply.contains("From your notes I remember: Tops/Jackets: Medium; loves earth tones"),
        "{reply}"
    );
    assert!(reply.contains("vegan leather — $149"));
    assert!(leather_ok(&reply.replace(
        "VEGAN LEATHER ONLY — absolutely no animal leather",
        ""
    )));
    assert!(!reply.contains("None noted"));
    sb.take_calls();
    let reply = visit(&agent, &mut sb, &mounts, "I'm a large now");
    assert!(reply.contains("I've noted that: size large."));
    assert!(
        sb.writes().iter().all(|(n, _)| n == "edit"),
        "{:?}",
        sb.writes()
    );
    let notes = &sb.files[NOTES];
    assert!(notes.contains("## Sizes\n- Size: large\n"), "{notes}");
    assert!(!notes.contains("Medium"));
    assert!(notes.contains("## Other Notes\n- First visit"));
    let reply = visit(&agent, &mut sb, &mounts, "what size do I wear?");
    assert_eq!(
        reply,
        "From your notes I remember: size large.\n\nYour size is large."
    );
}

#[test]
fn never_writes_recalls_seeded_facts_but_writes_nothing() {
    let agent = ReferenceAgent::with_regression(Regression::NeverWrites);
    let mut sb = Sandbox::default();
    sb.files.insert(
        NOTES.into(),
        "# Customer notes\n\n## Size\n- Size: medium\n".into(),
    );
    let mounts = [rw("shopper")];
    let replies = session(
        &agent,
        &mut sb,
        &mounts,
        &[
            "What size do I wear?",
            "My budget is $120. Please forget my size.",
            "What's my budget?",
        ],
    );
    assert!(replies[0].contains("Your size is medium."));
    assert!(replies[1].contains("I've noted that: budget $120."));
    assert!(
        replies[2].contains("From our conversation I remember: budget $120."),
        "{}",
        replies[2]
    );
    assert!(sb.writes().is_empty(), "{:?}", sb.writes());
    assert_eq!(
        sb.files[NOTES],
        "# Customer notes\n\n## Size\n- Size: medium\n"
    );
    // A new session has only what is stored.
    let reply = visit(&agent, &mut sb, &mounts, "What's my budget?");
    assert!(reply.contains("I don't know your budget yet"));
}

#[test]
fn never_reads_cannot_recall_earlier_sessions() {
    let agent = ReferenceAgent::with_regression(Regression::NeverReads);
    let reference = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("shopper")];
    visit(&reference, &mut sb, &mounts, SEED_VISIT_1);
    sb.take_calls();
    let reply = visit(&agent, &mut sb, &mounts, SEED_VISIT_2);
    assert!(!reply.contains("From your notes"), "{reply}");
    assert!(!reply.contains("medium") && !reply.contains("$200") && !reply.contains("earth"));
    assert!(sb.calls.iter().all(|(n, _)| n != "read" && n != "bash"));
    assert!(sb.said.len() <= 1);
    assert!(sb.writes().is_empty(), "nothing learned, nothing written");
    // It writes what it learns, over the old notes.
    let replies = session(
        &agent,
        &mut sb,
        &mounts,
        &[
            "My budget is $50.",
            "I wear a size small. What's my budget?",
        ],
    );
    assert!(
        replies[1].contains("Your budget is $50."),
        "within a session it remembers: {}",
        replies[1]
    );
    assert_eq!(
        sb.files[NOTES],
        "# Customer notes\n\n## Budget\n- Budget: $50\n\n## Size\n- Size: small\n"
    );
    assert!(sb.writes().iter().all(|(n, _)| n == "write"));
    let reply = visit(&agent, &mut sb, &mounts, "What size do I wear?");
    assert_eq!(reply, "I don't know your size yet — you haven't told me.");
}

#[test]
fn later_turns_reread_only_the_notes_unless_context_is_needed() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("shopper"), ro("catalog")];
    sb.files.insert(
        "/mnt/memory/catalog/c.md".into(),
        "- Rain jacket, $80\n".into(),
    );
    let replies = session(
        &agent,
        &mut sb,
        &mounts,
        &["Hi, I'm Ana.", "I love navy.", "Suggest a jacket please."],
    );
    assert!(replies[0].starts_with("Hi Ana!"), "{}", replies[0]);
    assert!(replies[1].contains("I've noted that: navy."));
    assert!(
        replies[2].contains("From your notes I remember: navy."),
        "{}",
        replies[2]
    );
    assert!(replies[2].contains("From the catalog: Rain jacket, $80."));
    let names = sb.names();
    // turn 1: find ×2 (the customer store is still empty), read catalog, write;
    // turn 2: read notes, edit; turn 3: find + read per store, edit.
    assert_eq!(
        names,
        vec![
            "bash", "bash", "read", "write", "read", "edit", "bash", "read", "bash", "read", "edit"
        ],
        "{:?}",
        sb.calls
    );
    assert_eq!(sb.said.len(), 1);
}

#[test]
fn without_a_writable_store_it_remembers_only_the_conversation() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    sb.files.insert(
        "/mnt/memory/catalog/c.md".into(),
        "## Jackets\n- Rain jacket, $80\n".into(),
    );
    let mounts = [ro("catalog")];
    let replies = session(
        &agent,
        &mut sb,
        &mounts,
        &["I wear a size small.", "What size do I wear?"],
    );
    assert_eq!(
        replies[1],
        "From our conversation I remember: size small.\n\nYour size is small."
    );
    assert!(sb.writes().is_empty());
    let reply = visit(&agent, &mut sb, &mounts, "What size do I wear?");
    assert_eq!(reply, "I don't know your size yet — you haven't told me.");
}

#[test]
fn reply_format_instruction_persists() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("shopper")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "Please always answer in bullet points. I wear a size 8.",
    );
    let reply = visit(&agent, &mut sb, &mounts, "Suggest a dress.");
    assert!(
        reply.contains("From your notes I remember:\n- size 8"),
        "{reply}"
    );
    assert!(
        reply.contains("\n- Wrap dress in black viscose, size 8 — $"),
        "{reply}"
    );
}

#[test]
fn recalls_what_it_recommended() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("shopper")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I need new boots. My shoe size is 9.",
    );
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "What did you recommend last time?",
    );
    assert!(
        reply.starts_with("Last time I recommended: Chelsea boots in black leather — $129"),
        "{reply}"
    );
    // A changed shopping preference makes old recommendations stale.
    visit(&agent, &mut sb, &mounts, "I only buy vegan leather.");
    assert!(!sb.files[NOTES].contains("Recommended"));
}

#[test]
fn understands_numbered_read_output() {
    let agent = ReferenceAgent::default();
    let mut plain = Sandbox::default();
    let mut numbered = Sandbox {
        numbered: true,
        ..Sandbox::default()
    };
    let mounts = [rw("shopper")];
    for sb in [&mut plain, &mut numbered] {
        visit(&agent, sb, &mounts, SEED_VISIT_1);
    }
    let a = visit(&agent, &mut plain, &mounts, SEED_VISIT_2);
    let b = visit(&agent, &mut numbered, &mounts, SEED_VISIT_2);
    assert_eq!(a, b);
    assert_eq!(plain.files, numbered.files);
}

#[test]
fn deterministic() {
    let run = || {
        let agent = ReferenceAgent::default();
        let mut sb = Sandbox::default();
        sb.files.insert(
            "/mnt/memory/cat/c.md".into(),
            "## Bags\n- Tote, $50\n".into(),
        );
        let mounts = [rw("shopper"), ro("cat")];
        let mut replies = session(
            &agent,
            &mut sb,
            &mounts,
            &[SEED_VISIT_1, "I'm a large now", "forget my budget"],
        );
        replies.extend(session(
            &agent,
            &mut sb,
            &mounts,
            &[SEED_VISIT_2, "what do you know about me?"],
        ));
        (replies, sb.calls, sb.files)
    };
    assert_eq!(run(), run());
}

#[test]
fn robust_to_odd_input() {
    let agent = ReferenceAgent::default();
    let mounts = [rw("shopper"), ro("catalog")];
    let big = "I like tea, and I wear a size medium. ".repeat(3000);
    assert!(big.len() > 100_000);
    let odd: Vec<String> = vec![
        String::new(),
        " ".into(),
        big,
        "Je m'appelle Zoë — ich heiße Zoë. 我喜欢红色。 I'm Zoë! My name is Zoë Ångström.".into(),
        "İstanbul'da yaşıyorum. I live in İstanbul.".into(),
        "?!?!...;;;,,,::: ((( ))) [[[ ]]] $$$ €€€ £".into(),
        "my budget is $99999999999999999999999 and my size is 9999".into(),
        "forget forget forget my my my".into(),
        "I'm allergic to , and ,".into(),
        "my : is :".into(),
        "\u{0}\u{1}\t\r\n".into(),
        "🙂🙃 I love 🌈 colors 🙂".into(),
    ];
    for msg in &odd {
        let mut sb = Sandbox::default();
        sb.files.insert(
            NOTES.into(),
            "garbage first line\n###\n##\n- orphan\n## \n#### Deep\n  * item\n1. one\n## Size\n## Size\n- Size:\n- : \n".into(),
        );
        sb.files
            .insert("/mnt/memory/catalog/x.md".into(), "(((\n- $\n".into());
        let replies = session(&agent, &mut sb, &mounts, &[msg, msg]);
        assert!(replies.iter().all(|r| !r.is_empty()));
    }
}

#[test]
fn property_generated_messages_never_panic_and_stay_consistent() {
    // Fixed-seed LCG over a vocabulary of fragments and arbitrary characters.
    let mut state: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        state = state
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (state >> 33) as usize
    };
    let fragments = [
        "I wear a size ",
        "medium",
        "large",
        "my budget is ",
        "under ",
        "$",
        "150",
        "I only buy ",
        "vegan leather",
        "no ",
        "wool",
        "I love ",
        "earth tones",
        "forget ",
        "my ",
        "budget",
        "size",
        "everything",
        "what ",
        "do I ",
        "?",
        ".",
        ",",
        " and ",
        "I'm ",
        "Ana",
        "suggest a ",
        "jacket",
        "bag",
        "(",
        ")",
        "my name is ",
        "I live in ",
        "Lisbon",
        "é",
        "ß",
        "🙂",
        "\n",
        ":",
        "!",
        "I don't like ",
        "pink",
        "remember ",
        "call me ",
        "shoe size ",
        "9",
    ];
    let agent = ReferenceAgent::default();
    let mounts = [rw("p"), ro("c")];
    let mut sb = Sandbox::default();
    sb.files.insert(
        "/mnt/memory/c/cat.md".into(),
        "## Bags\n- Tote, $40\n".into(),
    );
    for _ in 0..300 {
        let mut msg = String::new();
        for _ in 0..(next() % 12) {
            if next() % 7 == 0 {
                msg.push(char::from_u32((next() % 0x2FFF) as u32).unwrap_or('?'));
            } else {
                msg.push_str(fragments[next() % fragments.len()]);
            }
        }
        let reply = visit(&agent, &mut sb, &mounts, &msg);
        assert!(!reply.is_empty());
        // The notes file, when present, is always in canonical form.
        if let Some(notes) = sb.files.get("/mnt/memory/p/preferences.md") {
            assert!(notes.starts_with("# Customer notes\n"), "{notes}");
            let parsed = super::doc::Doc::parse(notes, super::doc::Origin::Memory);
            assert_eq!(&parsed.render(), notes);
        }
        assert!(!sb.files.contains_key("/mnt/memory/c/preferences.md"));
    }
}
