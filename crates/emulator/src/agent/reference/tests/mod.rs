//! Behaviour tests over an in-memory sandbox that records every tool call.
//! (The eight-domain corpus over HTTP is in `tests/domains.rs`.)

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
            "glob" if s("pattern") == "**/*" => {
                let prefix = format!("{}/", s("path"));
                let list: Vec<&str> = self
                    .files
                    .keys()
                    .filter(|k| k.starts_with(&prefix))
                    .map(String::as_str)
                    .collect();
                if list.is_empty() {
                    ok("No files found")
                } else {
                    ok(list.join("\n"))
                }
            }
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
            files: &[],
            history: &history,
            message: msg,
            custom_tools: &[],
            memory_guidance: false,
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

fn notes(sb: &Sandbox) -> String {
    sb.files.get(NOTES).cloned().unwrap_or_default()
}

#[test]
fn keeps_every_value_the_customer_said_verbatim() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    let messages = [
        "I always want an aisle seat.",
        "Heads up: my home airport is SFO.",
        "I'm a size 9 by the way",
        "I love science fiction and my budget is $30.",
        "I'm Cust0042x",
        "Quick update: I'm allergic to penicillin.",
        "I can only come in on weekends.",
        "I never eat pork.",
    ];
    for m in messages {
        visit(&agent, &mut sb, &mounts, m);
    }
    let n = notes(&sb);
    for value in [
        "aisle seat",
        "SFO",
        "size 9",
        "science fiction",
        "$30",
        "Cust0042x",
        "penicillin",
        "weekends",
        "never eat pork",
    ] {
        assert!(n.contains(value), "{value:?} missing from:\n{n}");
    }
    // Second person, one line each, under the title; markers are not part of the facts.
    assert!(
        n.starts_with("# Customer notes\n\n- You always want an aisle seat.\n"),
        "{n}"
    );
    assert!(n.contains("- Your home airport is SFO.\n"), "{n}");
    assert!(n.contains("- You're a size 9.\n"), "{n}");
    assert!(n.contains("- Your name is Cust0042x.\n"), "{n}");
    assert!(
        !n.to_lowercase().contains("heads up") && !n.contains("by the way"),
        "{n}"
    );
}

#[test]
fn first_visit_writes_once_and_later_visits_edit_in_place() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    let reply = visit(&agent, &mut sb, &mounts, "My Portuguese level is A2.");
    assert_eq!(sb.said, vec!["Let me check your notes."]);
    assert_eq!(sb.names(), vec!["glob", "write"]);
    assert!(reply.contains("Portuguese level is A2"), "{reply}");

    sb.take_calls();
    let reply = visit(&agent, &mut sb, &mounts, "my level is B1 now");
    assert!(reply.contains("your level is B1"), "{reply}");
    let writes: Vec<_> = sb.writes().into_iter().cloned().collect();
    assert_eq!(writes.len(), 1, "{writes:?}");
    assert_eq!(writes[0].0, "edit");
    assert_eq!(
        writes[0].1["old_string"],
        "- Your Portuguese level is A2.\n"
    );
    assert_eq!(writes[0].1["new_string"], "- Your level is B1.\n");
    assert!(!notes(&sb).contains("A2"));

    sb.take_calls();
    visit(
        &agent,
        &mut sb,
        &mounts,
        "Heads up: my home airport is SFO.",
    );
    visit(&agent, &mut sb, &mounts, "My home airport is SEA now.");
    let n = notes(&sb);
    assert!(n.contains("SEA") && !n.contains("SFO"), "{n}");
    assert_eq!(
        sb.writes().iter().filter(|(n, _)| n == "edit").count(),
        2,
        "one edit per update"
    );

    // Nothing new, nothing written.
    sb.take_calls();
    visit(&agent, &mut sb, &mounts, "My home airport is SEA.");
    visit(&agent, &mut sb, &mounts, "What's my level?");
    assert!(sb.writes().is_empty(), "{:?}", sb.writes());
}

#[test]
fn preferences_update_by_head_noun_and_polarity() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    visit(&agent, &mut sb, &mounts, "I always want an aisle seat.");
    visit(&agent, &mut sb, &mounts, "I never want a middle seat.");
    let n = notes(&sb);
    assert!(n.contains("aisle seat") && n.contains("middle seat"), "{n}");
    visit(&agent, &mut sb, &mounts, "I prefer window seats now.");
    let n = notes(&sb);
    assert!(n.contains("window seats") && !n.contains("aisle"), "{n}");
    assert!(n.contains("middle seat"), "other polarity, other seat: {n}");
    // "also" adds.
    visit(&agent, &mut sb, &mounts, "My cat's name is Miso.");
    visit(&agent, &mut sb, &mounts, "My dog's name is Rex.");
    visit(&agent, &mut sb, &mounts, "I'm allergic to penicillin.");
    visit(&agent, &mut sb, &mounts, "I'm also allergic to latex.");
    let n = notes(&sb);
    for v in ["Miso", "Rex", "penicillin", "latex"] {
        assert!(n.contains(v), "{v}: {n}");
    }
}

#[test]
fn recalls_matching_facts_and_abstains_without_inventing() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "Hi, I'm Ana. My home airport is SFO, I always want an aisle seat and I'm allergic to penicillin.",
    );
    // A new session: recall comes from memory only.
    let reply = visit(&agent, &mut sb, &mounts, "Do I have any allergies?");
    assert!(reply.contains("penicillin"), "{reply}");
    assert!(!reply.contains("SFO"), "{reply}");
    let reply = visit(&agent, &mut sb, &mounts, "What's my home airport?");
    assert!(
        reply.contains("SFO") && !reply.contains("penicillin"),
        "{reply}"
    );
    let reply = visit(&agent, &mut sb, &mounts, "What's my blood type?");
    assert!(reply.contains("I don't have that noted."), "{reply}");
    assert!(!reply.contains("SFO") && !reply.contains("Ana"), "{reply}");
    for open in [
        "Any recommendations for me?",
        "Plan my week.",
        "What do you remember about me?",
        "Book me something to Tokyo.",
    ] {
        let reply = visit(&agent, &mut sb, &mounts, open);
        for v in ["Ana", "SFO", "aisle seat", "penicillin"] {
            assert!(reply.contains(v), "{open}: {v} missing: {reply}");
        }
        assert!(!reply.contains('$'), "{open}: {reply}");
    }
}

#[test]
fn forgets_by_stem_and_everything_removes_the_file() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I'm allergic to peanuts. My home airport is SFO.",
    );
    sb.take_calls();
    let reply = visit(&agent, &mut sb, &mounts, "Forget my allergy information.");
    assert!(
        reply.contains("forgotten your allergy information"),
        "{reply}"
    );
    let n = notes(&sb);
    assert!(!n.contains("peanuts") && n.contains("SFO"), "{n}");
    assert_eq!(sb.writes().len(), 1);
    assert_eq!(sb.writes()[0].0, "edit");

    let reply = visit(&agent, &mut sb, &mounts, "Forget my shoe size.");
    assert!(
        reply.contains("I had nothing noted about your shoe size."),
        "{reply}"
    );

    sb.take_calls();
    let reply = visit(&agent, &mut sb, &mounts, "Please forget everything.");
    assert!(reply.contains("forgotten everything"), "{reply}");
    assert!(!sb.files.contains_key(NOTES));
    assert_eq!(sb.writes()[0].1["command"], format!("rm {NOTES}"));
    let reply = visit(&agent, &mut sb, &mounts, "What do you remember about me?");
    assert!(
        reply.contains("I don't have anything noted about you yet."),
        "{reply}"
    );
}

#[test]
fn quotes_read_only_policy_lines_and_never_writes_them() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let policy = "/mnt/memory/policy/returns.md";
    sb.files.insert(
        policy.into(),
        "# Returns\n- Returns accepted within 30 days with receipt\n- Gift cards are final sale\n"
            .into(),
    );
    let mounts = [rw("me"), ro("policy")];
    let replies = session(
        &agent,
        &mut sb,
        &mounts,
        &["I'm a size 9 by the way", "Can I return them?"],
    );
    assert!(
        replies[1].contains("Returns accepted within 30 days with receipt"),
        "{}",
        replies[1]
    );
    assert!(!replies[1].contains("Gift cards"), "{}", replies[1]);
    assert!(
        sb.calls.iter().all(|(n, i)| !(n == "write" || n == "edit")
            || i["file_path"].as_str() != Some(policy)),
    );
    assert!(!notes(&sb).contains("30 days"));
}

#[test]
fn seeded_customer_files_are_recalled_and_forgotten() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox {
        numbered: true,
        ..Default::default()
    };
    let profile = "/mnt/memory/me/profile.md";
    sb.files.insert(
        profile.into(),
        "# Profile\n- Shoe size: 9\n- Loyalty tier: gold\n".into(),
    );
    let mounts = [rw("me")];
    let reply = visit(&agent, &mut sb, &mounts, "What shoe size am I?");
    assert!(reply.contains("Shoe size: 9"), "{reply}");
    assert!(!reply.contains("gold"), "{reply}");
    let reply = visit(&agent, &mut sb, &mounts, "What do you remember about me?");
    assert!(
        reply.contains("Shoe size: 9") && reply.contains("gold"),
        "{reply}"
    );
    visit(&agent, &mut sb, &mounts, "Forget my loyalty tier.");
    assert_eq!(sb.files[profile], "# Profile\n- Shoe size: 9\n");
    visit(&agent, &mut sb, &mounts, "Forget everything about me.");
    assert!(!sb.files.contains_key(profile));
}

#[test]
fn regressions_never_write_or_never_read() {
    let mounts = [rw("me")];
    let forgetful = ReferenceAgent::with_regression(Regression::NeverWrites);
    let mut sb = Sandbox::default();
    let replies = session(
        &forgetful,
        &mut sb,
        &mounts,
        &["My home airport is SFO.", "What's my home airport?"],
    );
    assert!(
        replies[1].contains("SFO"),
        "within a session: {}",
        replies[1]
    );
    assert!(sb.writes().is_empty());
    let reply = visit(&forgetful, &mut sb, &mounts, "What's my home airport?");
    assert!(!reply.contains("SFO"), "{reply}");

    let amnesiac = ReferenceAgent::with_regression(Regression::NeverReads);
    let mut sb = Sandbox::default();
    visit(&amnesiac, &mut sb, &mounts, "My home airport is SFO.");
    assert!(notes(&sb).contains("SFO"));
    let reply = visit(&amnesiac, &mut sb, &mounts, "What's my home airport?");
    assert!(!reply.contains("SFO"), "{reply}");
    assert!(
        sb.names()
            .iter()
            .all(|n| !["read", "bash", "glob"].contains(n))
    );
}

#[test]
fn no_store_and_no_history_means_no_memory() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let replies = session(
        &agent,
        &mut sb,
        &[],
        &["I'm vegetarian.", "Am I vegetarian?"],
    );
    assert!(replies[1].contains("vegetarian"), "{}", replies[1]);
    assert!(sb.calls.is_empty());
    let reply = visit(&agent, &mut sb, &[], "Am I vegetarian?");
    assert!(reply.contains("I don't have that noted."), "{reply}");
}

#[test]
fn bad_input_gets_a_reply_and_writes_nothing() {
    let agent = ReferenceAgent::default();
    let long = "a".repeat(100 * 1024);
    let first_person_flood = "I like tea. ".repeat(10_000);
    let inputs: Vec<&str> = vec![
        "",
        "   \n\t ",
        "?!?!... ,,, ;;; ---",
        long.as_str(),
        "我喜欢科幻小说。我的名字是李雷。",
        "Я люблю чай",
        "مرحبا، اسمي علي",
        "🙂🙃🎉🔥",
        "# Heading\n\n**bold** _it_ `code`\n\n```\nfn main() {}\n```\n- [link](http://x)",
        r#"{"name": "x", "items": [1, 2, {"a": null}], "nested": {"deep": [true]}}"#,
        "\u{0}\u{1}\u{7f}",
    ];
    for input in inputs {
        let mut sb = Sandbox::default();
        let reply = visit(&agent, &mut sb, &[rw("me")], input);
        assert!(!reply.trim().is_empty(), "{input:?}");
        assert!(sb.writes().is_empty(), "{input:?}: {:?}", sb.writes());
    }
    // A long message is read only up to its first part: one fact, bounded notes.
    let mut sb = Sandbox::default();
    visit(&agent, &mut sb, &[rw("me")], &first_person_flood);
    assert_eq!(notes(&sb), "# Customer notes\n\n- You like tea.\n");
}

#[test]
fn stateless_between_agents_and_turns() {
    // Two agents, one store: the second knows what the first wrote, and nothing else.
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    visit(
        &ReferenceAgent::default(),
        &mut sb,
        &mounts,
        "My gate code is 4471.",
    );
    let reply = visit(
        &ReferenceAgent::default(),
        &mut sb,
        &mounts,
        "What's my gate code?",
    );
    assert!(reply.contains("4471"), "{reply}");
    let mut other = Sandbox::default();
    let reply = visit(
        &ReferenceAgent::default(),
        &mut other,
        &[rw("you")],
        "What's my gate code?",
    );
    assert!(!reply.contains("4471"), "{reply}");
}

#[test]
fn a_thousand_customers_each_get_only_their_own_facts() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let customer = |i: usize| {
        (
            format!("Cust{i:04}x"),
            format!("Town{i:04}"),
            format!("{}", 1000 + i),
            format!("${}", 5000 + i),
        )
    };
    for i in 0..1000 {
        let (name, city, size, budget) = customer(i);
        visit(
            &agent,
            &mut sb,
            &[rw(&format!("c{i}"))],
            &format!(
                "Hi, I'm {name}. I live in {city}, I wear a size {size} and my budget is under {budget}."
            ),
        );
    }
    let value = regex::Regex::new(r"Cust\d{4}x|Town\d{4}|\b1\d{3}\b|\$5\d{3}").unwrap();
    for i in 0..1000 {
        let (name, city, size, budget) = customer(i);
        let mine = [&name, &city, &size, &budget];
        let reply = visit(
            &agent,
            &mut sb,
            &[rw(&format!("c{i}"))],
            "What do you know about me?",
        );
        let notes = &sb.files[&format!("/mnt/memory/c{i}/preferences.md")];
        for v in mine {
            assert!(reply.contains(v.as_str()), "{name}: {v} missing: {reply}");
            assert!(notes.contains(v.as_str()), "{name}: {v} missing: {notes}");
        }
        for text in [&reply, notes] {
            for m in value.find_iter(text) {
                assert!(
                    mine.iter().any(|v| v.as_str() == m.as_str()),
                    "{name} sees {}",
                    m.as_str()
                );
            }
        }
    }
}

#[test]
fn instructions_headings_needs_and_several_questions() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    sb.files.insert(
        "/mnt/memory/me/history.md".into(),
        "## Recent purchases\n- Canvas tote, olive, $89 (Jan 2026)\n\n## Repairs\n- Boiler serviced (May 2025)\n".into(),
    );
    let mounts = [rw("me")];
    // A section heading lends its words to its lines; the other section stays out.
    let reply = visit(&agent, &mut sb, &mounts, "What did I purchase last time?");
    assert!(
        reply.contains("Canvas tote, olive, $89 (Jan 2026)"),
        "{reply}"
    );
    assert!(!reply.contains("Boiler"), "{reply}");

    // A standing instruction is kept verbatim and followed.
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "Please always answer in bullet points.",
    );
    assert!(notes(&sb).contains("- Please always answer in bullet points.\n"));
    assert!(reply.contains("Noted:\n- Please always answer"), "{reply}");
    let reply = visit(&agent, &mut sb, &mounts, "I wear a size small.");
    assert!(
        reply.contains("Noted:\n- you wear a size small."),
        "{reply}"
    );

    // The same phrase with another last word is an update.
    visit(&agent, &mut sb, &mounts, "I wear a size large now.");
    let n = notes(&sb);
    assert!(n.contains("size large") && !n.contains("size small"), "{n}");
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I have a black dog. I have a black cat.",
    );
    let n = notes(&sb);
    assert!(n.contains("black dog") && n.contains("black cat"), "{n}");

    // A need is answered from memory when something matches, and is never an abstention.
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "I need the boiler repairs checked again.",
    );
    assert!(reply.contains("Boiler serviced (May 2025)"), "{reply}");
    let reply = visit(&agent, &mut sb, &mounts, "I need a plumber on Friday.");
    assert!(!reply.contains("don't have"), "{reply}");

    // Each question is answered on its own terms.
    visit(&agent, &mut sb, &mounts, "My budget is $300.");
    visit(&agent, &mut sb, &mounts, "Please forget my budget.");
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "What's my budget? And what size do I wear?",
    );
    assert!(
        reply.contains("size large") && !reply.contains("$300"),
        "{reply}"
    );
}

#[test]
fn a_household_speaking_as_we_is_one_customer() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    let reply = visit(
        &agent,
        &mut sb,
        &mounts,
        "We're vegetarian and our anniversary is on 12 May.",
    );
    assert!(reply.contains("you're vegetarian"), "{reply}");
    let n = notes(&sb);
    assert!(
        n.contains("- You're vegetarian.\n") && n.contains("- Your anniversary is on 12 May.\n"),
        "{n}"
    );
    visit(
        &agent,
        &mut sb,
        &mounts,
        "Our anniversary is on 14 May now.",
    );
    let n = notes(&sb);
    assert!(n.contains("14 May") && !n.contains("12 May"), "{n}");
    let reply = visit(&agent, &mut sb, &mounts, "When is our anniversary?");
    assert!(
        reply.contains("14 May") && !reply.contains("vegetarian"),
        "{reply}"
    );
}

#[test]
fn a_trailing_remark_stays_with_its_clause() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "I've got a bad knee, so no jumping please. I'm reading Dune right now.",
    );
    let n = notes(&sb);
    assert!(
        n.contains("- You've got a bad knee, so no jumping.\n"),
        "{n}"
    );
    assert!(n.contains("- You're reading Dune.\n"), "{n}");
    // A question about what the customer liked, with nothing liked on file, abstains.
    let reply = visit(&agent, &mut sb, &mounts, "What did I love?");
    assert!(reply.contains("I don't have that noted."), "{reply}");
}

#[test]
fn a_one_word_value_after_is_is_updated_in_place() {
    let agent = ReferenceAgent::default();
    let mut sb = Sandbox::default();
    let mounts = [rw("me")];
    visit(
        &agent,
        &mut sb,
        &mounts,
        "My size is medium and my budget is $150.",
    );
    visit(&agent, &mut sb, &mounts, "My size is large now.");
    let n = notes(&sb);
    assert!(n.contains("- Your size is large.\n"), "{n}");
    assert!(!n.contains("medium") && n.contains("$150"), "{n}");
}

mod phrasing;
