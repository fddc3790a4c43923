//! The reference agent: a **deterministic rule-based agent, not a language model**.
//!
//! It exists so that recall suites run offline and deterministically against the emulator, and so
//! that a check can be shown to fail on a regressing agent ([`Regression`]). It knows no domain:
//! it holds no product, price or catalogue, only grammar (pronouns, auxiliaries, prepositions,
//! discourse markers, question words) and a Snowball stemmer. Each turn, using only the agent
//! toolset ([`Tools`]) and its reply:
//!
//! 1. **Reads** every mounted store: `bash find <mount> -type f`, then `read` for each file (at
//!    most 64 per store).
//! 2. **Learns** every first-person statement about the customer, in any clause ("by the way,
//!    I'm a size 9", "heads up: my home airport is SFO", "I always want an aisle seat", "I'm
//!    Cust0042x"), as one line in the customer's own words turned to the second person ("You
//!    always want an aisle seat."), so every value they said is in memory verbatim; a standing
//!    instruction ("please always answer in bullet points") or a fragment of preference ("No
//!    calls after 8pm.", "Weekends only.", "… Email only, please.") is kept as said. The lines live in
//!    `preferences.md` in every `read_write` store, under `# Customer notes`. A new fact about
//!    the same subject replaces the old line in place. Subjects come from grammar: the noun
//!    phrase of "my X is …" (head noun, its modifiers, a possessor, the first word of the
//!    predicate), the object of want/prefer/like/need/avoid (with polarity), the phrase after
//!    "I'm", or another verb and its object, all compared by Snowball stem: "my level is B1"
//!    replaces "my Portuguese level is A2", "I wear a size large" replaces "I wear a size small",
//!    "I prefer window seats" replaces "I always want an aisle seat" but not "I never want a
//!    middle seat"; "also"/"too" adds instead. The file is created with `write` and changed with
//!    one `edit` per turn; nothing new → no write.
//! 3. **Forgets** on request: "forget my allergy information" removes the lines whose words
//!    match (stems, so allergy ~ allergic) from its notes and the customer's other `read_write`
//!    files; "forget everything" deletes them (`bash rm`); "forget it" / "never mind" deletes
//!    nothing.
//! 4. **Recalls** for each question or request: the facts and the lines of other store files
//!    (seeded, shared, read-only; a `##` heading lends its words to its lines) and of the
//!    session's mounted files (`file` resources, read with `read`, quoted like read-only store
//!    files) that share a stemmed content word with it are quoted ("From my notes:", "From the
//!    reference files:"); light words ("use", "last", "time", `grammar::LIGHT_WORDS`) never
//!    match on their own. A question about "my X" takes facts about X or sharing a word outside
//!    the phrase (so "my dog's birthday" does not get the dog's name, but "hills for my run"
//!    gets the hills). An open request ("any recommendations?", "plan my week", "book me
//!    something", "I'm looking for …", or any question made of grammar and words naming memory:
//!    "what do you know about us?", "what have you got on file for me?") quotes every fact.
//!    Every question of a message is answered: one about the customer whose subject ("which
//!    locksmith did I use?", "my gate code") no note is about gets "I don't have that noted."
//!    whatever else is quoted, as does a question nothing matches; when several were asked, the
//!    unanswered ones are named. A need ("I need a bag for work") quotes what matches and
//!    otherwise stays quiet.
//! 5. **Invents nothing**: every name, number, price or date in a reply or a note was said by
//!    the customer or is in a mounted store; the fixed phrases are in the private
//!    `reply::phrases` module.
//!
//! Only the start of a message ([`MAX_MESSAGE_CHARS`] characters, cut after a whole sentence)
//! is read for meaning, and a clause longer than 300 characters is not kept as a fact.
//!
//! What it cannot do, being rules and not a model: it knows no synonyms ("books" does not find
//! "novels", "buy" does not find "purchases"), so it recalls by shared words only; it cannot
//! link a bare value to its attribute ("I'm a large now" is a new fact, not a new size); it does
//! not recommend, book or calculate anything, only quote; and it reads English grammar only
//! (other scripts get a reply but nothing is learned).
//!
//! The agent keeps **no state** between turns or sessions: everything it knows comes from the turn
//! input and from what its tool calls return, so customer isolation and the regressions are real.
//! Within a session, when memory cannot carry facts (a regression, or no `read_write` store), it
//! takes them from the session's earlier messages, as any chat model would.

use super::{AgentBehavior, Mount, ToolCall, Tools, TurnInput, TurnOutcome};
use cma_types::Access;
use serde_json::json;

mod facts;
mod grammar;
mod intent;
mod notes;
mod reply;
mod text;

#[cfg(test)]
mod tests;

use intent::{Forget, Intent};
use notes::{Learned, Notes, plan_edit};
use reply::Knowledge;
pub use text::MAX_MESSAGE_CHARS;

/// The notes file the agent keeps in each `read_write` store.
pub const NOTES_FILE: &str = "preferences.md";

/// At most this many files are read from one store per turn.
const MAX_FILES: usize = 64;

/// A deliberately broken variant, for showing that recall checks catch regressions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regression {
    /// Reads memory and recalls what is stored (e.g. seeded files) but never writes or edits
    /// anything (`emulator:forgetful`).
    NeverWrites,
    /// Never reads memory, so it cannot recall earlier sessions; still writes what it learns in the
    /// current session, overwriting its notes file with only those facts (`emulator:amnesiac`).
    NeverReads,
}

/// The deterministic rule-based reference agent (see the module docs).
#[derive(Debug, Clone, Default)]
pub struct ReferenceAgent {
    regression: Option<Regression>,
}

impl ReferenceAgent {
    pub fn with_regression(regression: Regression) -> Self {
        ReferenceAgent {
            regression: Some(regression),
        }
    }
}

impl AgentBehavior for ReferenceAgent {
    fn run_turn(&self, input: &TurnInput<'_>, tools: &mut dyn Tools) -> TurnOutcome {
        TurnOutcome::Reply(self.turn(input, tools))
    }
}

/// A memory file read this turn.
struct File {
    mount: usize,
    path: String,
    content: String,
}

fn notes_path(m: &Mount) -> String {
    format!("{}/{NOTES_FILE}", m.path.trim_end_matches('/'))
}

fn writable(m: &Mount) -> bool {
    m.access == Access::ReadWrite
}

/// Quotes a path for the sandbox shell when it needs it.
fn shell_path(p: &str) -> String {
    if p.chars()
        .all(|c| c.is_alphanumeric() || "/._-+@".contains(c))
    {
        p.to_string()
    } else {
        format!("'{}'", p.replace('\'', r"'\''"))
    }
}

/// `read` may answer in `cat -n` form ("     1\tline"); returns the plain text.
fn strip_line_numbers(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.is_empty() {
        return text.to_string();
    }
    let mut expected = 1usize;
    let mut out = Vec::with_capacity(lines.len());
    for l in &lines {
        let t = l.trim_start();
        let digits = t.chars().take_while(char::is_ascii_digit).count();
        let number = t[..digits].parse::<usize>().ok();
        match (number, t[digits..].strip_prefix('\t')) {
            (Some(n), Some(rest)) if n == expected => {
                out.push(rest);
                expected += 1;
            }
            _ => return text.to_string(),
        }
    }
    let mut s = out.join("\n");
    if text.ends_with('\n') {
        s.push('\n');
    }
    s
}

impl ReferenceAgent {
    fn turn(&self, input: &TurnInput<'_>, tools: &mut dyn Tools) -> String {
        let intent = intent::understand(input.message);
        let reads = self.regression != Some(Regression::NeverReads);
        let writes = self.regression != Some(Regression::NeverWrites);

        // Mounts, each path once.
        let mut mounts: Vec<&Mount> = Vec::new();
        for m in input.mounts {
            if !mounts.iter().any(|x| x.path == m.path) {
                mounts.push(m);
            }
        }
        let has_rw = mounts.iter().any(|m| writable(m));

        let files = if reads {
            if input.history.is_empty() && !mounts.is_empty() {
                tools.say("Let me check your notes.");
            }
            read_all(&mounts, tools)
        } else {
            Vec::new()
        };
        let is_notes =
            |f: &File| writable(mounts[f.mount]) && f.path == notes_path(mounts[f.mount]);
        let mounted_files = if reads {
            read_mounted_files(input.files, tools)
        } else {
            Vec::new()
        };

        // ---- what is known: the customer's notes (all read_write stores, merged) ...
        let mut known = Notes::default();
        for f in files.iter().filter(|f| is_notes(f)) {
            for fact in Notes::parse(&f.content).facts() {
                known.learn(&fact);
            }
        }
        // ... and, when memory cannot carry them, what was said earlier in this session.
        let replay = !(reads && writes && has_rw);
        // Only replaying and the amnesiac write read the earlier messages; understanding them
        // all costs a turn time that grows with the session, so the usual agent skips it.
        let history: Vec<Intent> = if replay || (writes && !reads) {
            input
                .history
                .iter()
                .map(|e| intent::understand(&e.user))
                .collect()
        } else {
            Vec::new()
        };
        if replay {
            for past in &history {
                apply(&mut known, past);
            }
        }
        let (learned, forgot) = apply(&mut known, &intent);

        let forgets_all = intent.forget.contains(&Forget::All);
        let mut customer_lines = Vec::new();
        let mut reference_lines = Vec::new();
        for f in files.iter().filter(|f| !is_notes(f)) {
            if writable(mounts[f.mount]) {
                let mut other = Notes::parse(&f.content);
                for request in &intent.forget {
                    if let Forget::Some { targets, .. } = request {
                        other.forget(targets);
                    }
                }
                if !forgets_all {
                    customer_lines.extend(notes::quotable_lines(&other.render()));
                }
            } else {
                reference_lines.extend(notes::quotable_lines(&f.content));
            }
        }
        for content in &mounted_files {
            reference_lines.extend(notes::quotable_lines(content));
        }

        // ---- custom tools the message names, answered by the client
        let calls = custom_calls(input.message, input.custom_tools);
        let tool_lines = if calls.is_empty() {
            Vec::new()
        } else {
            let outputs = tools.call_all(calls.clone());
            // The answers are read by the next model request.
            tools.next_model_request();
            calls
                .iter()
                .zip(outputs)
                .map(|(c, out)| {
                    let verb = if out.is_error { "failed" } else { "returned" };
                    format!("{} {verb}: {}", c.name, out.text.trim())
                })
                .collect()
        };

        let knowledge = Knowledge {
            facts: known.facts(),
            customer_lines,
            reference_lines,
            learned,
            forgot,
        };
        let composed = reply::compose(&intent, &knowledge);
        let text = if tool_lines.is_empty() {
            composed
        } else if composed.trim().is_empty() {
            tool_lines.join("\n")
        } else {
            format!("{}\n\n{composed}", tool_lines.join("\n"))
        };

        // ---- write
        if writes {
            for (mi, m) in mounts.iter().enumerate() {
                if !writable(m) {
                    continue;
                }
                let path = notes_path(m);
                if reads {
                    let existing = files.iter().find(|f| f.mount == mi && f.path == path);
                    let old = existing.map_or("", |f| f.content.as_str());
                    let before = Notes::parse(old);
                    let mut notes = before.clone();
                    apply(&mut notes, &intent);
                    // Unchanged notes are not rewritten, even when not in this agent's layout.
                    if notes != before {
                        save(tools, &path, existing.is_some(), old, &notes.render());
                    }
                    // Forgetting reaches the customer's other files in this store too.
                    if !intent.forget.is_empty() {
                        for f in files.iter().filter(|f| f.mount == mi && f.path != path) {
                            let mut other = Notes::parse(&f.content);
                            let new = if forgets_all {
                                String::new()
                            } else {
                                for request in &intent.forget {
                                    if let Forget::Some { targets, .. } = request {
                                        other.forget(targets);
                                    }
                                }
                                if other.is_empty() {
                                    String::new()
                                } else if other == Notes::parse(&f.content) {
                                    f.content.clone()
                                } else {
                                    other.render()
                                }
                            };
                            save(tools, &f.path, true, &f.content, &new);
                        }
                    }
                } else {
                    // Amnesiac: only this session's facts, written over whatever was there.
                    let mut before = Notes::default();
                    for past in &history {
                        apply(&mut before, past);
                    }
                    let mut session = before.clone();
                    apply(&mut session, &intent);
                    let (old, new) = (before.render(), session.render());
                    if old == new {
                        continue;
                    }
                    if new.is_empty() {
                        rm(tools, &path);
                    } else {
                        tools.call("write", json!({ "file_path": path, "content": new }));
                    }
                }
            }
        }
        text
    }
}

/// Each fact of a message and what learning it did.
type LearnedFacts = Vec<(facts::Fact, Learned)>;
/// Each forget request of a message and the facts it removed.
type Forgotten = Vec<(Forget, Vec<String>)>;

/// Applies a message's forget requests, then its facts; returns what each did.
fn apply(notes: &mut Notes, intent: &Intent) -> (LearnedFacts, Forgotten) {
    let mut forgot = Vec::new();
    for request in &intent.forget {
        let removed = match request {
            Forget::All => {
                let all: Vec<String> = notes.facts().into_iter().map(|f| f.text).collect();
                *notes = Notes::default();
                all
            }
            Forget::Some { targets, .. } => notes.forget(targets),
        };
        forgot.push((request.clone(), removed));
    }
    let learned = intent
        .facts
        .iter()
        .map(|f| (f.clone(), notes.learn(f)))
        .collect();
    (learned, forgot)
}

/// The custom tools `message` names (whole words, each once, in the order named), each with
/// the JSON object that follows its name (after optional spaces or a colon), else `{}`.
pub fn custom_calls(message: &str, names: &[String]) -> Vec<ToolCall> {
    let is_word = |c: char| c.is_alphanumeric() || c == '_' || c == '-';
    let mut found: Vec<(usize, ToolCall)> = Vec::new();
    for name in names.iter().filter(|n| !n.is_empty()) {
        let at = message.match_indices(name.as_str()).find(|(i, _)| {
            let before = message[..*i].chars().next_back();
            let after = message[i + name.len()..].chars().next();
            !before.is_some_and(is_word) && !after.is_some_and(is_word)
        });
        let Some((i, _)) = at else { continue };
        let rest =
            message[i + name.len()..].trim_start_matches(|c: char| c.is_whitespace() || c == ':');
        let input = serde_json::Deserializer::from_str(rest)
            .into_iter::<serde_json::Value>()
            .next()
            .and_then(Result::ok)
            .filter(|v| rest.starts_with('{') && v.is_object())
            .unwrap_or_else(|| json!({}));
        found.push((i, ToolCall::new(name.clone(), input)));
    }
    found.sort_by_key(|(i, _)| *i);
    found.into_iter().map(|(_, c)| c).collect()
}

/// What `glob` answers for an empty listing.
const NO_FILES: &str = "No files found";

/// Lists and reads every file of every mount (at most [`MAX_FILES`] per mount): one batch of
/// listings, then one batch of reads, so calls that need confirming are asked together.
fn read_all(mounts: &[&Mount], tools: &mut dyn Tools) -> Vec<File> {
    let dirs: Vec<&str> = mounts
        .iter()
        .map(|m| m.path.trim_end_matches('/'))
        .collect();
    let listings = tools.call_all(
        dirs.iter()
            .map(|dir| {
                // `glob`, not `find` in `bash`: listing needs no shell (a real one costs a
                // sandbox start).
                ToolCall::new("glob", json!({ "pattern": "**/*", "path": dir }))
            })
            .collect(),
    );
    let mut wanted: Vec<(usize, String)> = Vec::new();
    for (mi, (dir, listing)) in dirs.iter().zip(listings).enumerate() {
        if listing.is_error || listing.text == NO_FILES {
            continue;
        }
        let prefix = format!("{dir}/");
        let mut paths: Vec<String> = listing
            .text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| {
                if l.starts_with('/') {
                    l.to_string()
                } else {
                    format!("{prefix}{}", l.trim_start_matches("./"))
                }
            })
            .filter(|p| p.starts_with(&prefix))
            .collect();
        paths.sort();
        paths.dedup();
        wanted.extend(paths.into_iter().take(MAX_FILES).map(|p| (mi, p)));
    }
    if wanted.is_empty() {
        return Vec::new();
    }
    let reads = tools.call_all(
        wanted
            .iter()
            .map(|(_, p)| ToolCall::new("read", json!({ "file_path": p })))
            .collect(),
    );
    wanted
        .into_iter()
        .zip(reads)
        .filter(|(_, out)| !out.is_error)
        .map(|((mount, path), out)| File {
            mount,
            path,
            content: strip_line_numbers(&out.text),
        })
        .collect()
}

/// Reads each mounted file (each path once, at most [`MAX_FILES`]); unreadable ones are skipped.
fn read_mounted_files(paths: &[String], tools: &mut dyn Tools) -> Vec<String> {
    let mut seen: Vec<&str> = Vec::new();
    let mut out = Vec::new();
    for p in paths {
        if seen.contains(&p.as_str()) || seen.len() >= MAX_FILES {
            continue;
        }
        seen.push(p);
        let read = tools.call("read", json!({ "file_path": p }));
        if !read.is_error {
            out.push(strip_line_numbers(&read.text));
        }
    }
    out
}

fn rm(tools: &mut dyn Tools, path: &str) {
    tools.call(
        "bash",
        json!({ "command": format!("rm {}", shell_path(path)) }),
    );
}

/// Brings a file from `old` to `new`: nothing when equal, `rm` when empty, one `edit` when a
/// unique stretch of lines can carry the change, else one `write`.
fn save(tools: &mut dyn Tools, path: &str, exists: bool, old: &str, new: &str) {
    if (exists && old == new) || (!exists && new.is_empty()) {
        return;
    }
    if new.is_empty() {
        rm(tools, path);
        return;
    }
    if exists && let Some((old_string, new_string)) = plan_edit(old, new) {
        let out = tools.call(
            "edit",
            json!({ "file_path": path, "old_string": old_string, "new_string": new_string }),
        );
        if !out.is_error {
            return;
        }
    }
    tools.call("write", json!({ "file_path": path, "content": new }));
}
