//! The reference agent: a **deterministic rule-based agent, not a language model**.
//!
//! It exists so that recall suites run offline and deterministically against the emulator, and so
//! that a check can be shown to fail on a regressing agent ([`Regression`]). It behaves like the
//! shopping assistant in Anthropic's "Build agents that remember your users" cookbook, using only
//! the agent toolset ([`Tools`]) and its reply:
//!
//! 1. **Reads memory** at the start of a session: `bash find <mount> -type f` for every mounted
//!    store, then `read` for each file. On later turns of a session it re-reads its own notes file
//!    (`<mount>/preferences.md` in each `read_write` store), and everything again when the message
//!    asks, forgets or requests something.
//! 2. **Learns** first-person facts from the message (size, budget, materials, colours, style,
//!    brands, name, location, diet, allergies, shoe size, birthday, pets, job, likes, dislikes,
//!    "my X is Y", reply format) and keeps them in `preferences.md` in every `read_write` store:
//!    `# Customer notes`, then one `## Topic` section of `- line`s per topic. It creates the file
//!    with `write` and changes it section by section with `edit`; a new statement on a
//!    single-valued topic replaces the old one. Nothing new learned → no write.
//! 3. **Forgets** a topic, or everything, on request (`edit`, or `bash rm` when the file would be
//!    empty), in its notes and in the customer's other `read_write` files.
//! 4. **Replies** with fixed phrases (listed in the private `reply::phrases` module): the
//!    remembered facts it applies, direct answers or "I don't know your … yet — you haven't told
//!    me.", and for shopping requests three
//!    suggestions that respect size, budget, materials and colours, plus matching lines from
//!    `read_only` stores ("From the catalog: …") and related past purchases.
//!
//! The agent keeps **no state** between turns or sessions: everything it knows comes from the turn
//! input and from what its tool calls return, so customer isolation and the regressions are real.

use super::{AgentBehavior, Mount, Tools, TurnInput, TurnOutcome};
use cma_client::types::Access;
use serde_json::json;

macro_rules! re {
    ($vis:vis $name:ident, $pat:expr) => {
        $vis static $name: std::sync::LazyLock<regex::Regex> =
            std::sync::LazyLock::new(|| regex::Regex::new($pat).expect("static regex"));
    };
}

mod doc;
mod learn;
mod reply;
mod topics;
mod understand;
mod vocab;

#[cfg(test)]
mod tests;

use doc::{Doc, Op, Origin, plan_edits};
use reply::{CatalogLine, Knowledge};

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

fn is_purchase_label(s: &str) -> bool {
    let l = s.to_lowercase();
    ["purchase", "order", "bought"]
        .iter()
        .any(|w| l.contains(w))
}

/// Adds the sections of `doc` whose topic the overlay does not have yet (purchase lists excluded).
fn merge(overlay: &mut Doc, doc: &Doc, purchase_file: bool) {
    for s in &doc.sections {
        if purchase_file || is_purchase_label(&s.heading) {
            continue;
        }
        if s.items.is_empty() || overlay.section(&s.key()).is_some() {
            continue;
        }
        overlay.sections.push(s.clone());
    }
}

/// The non-heading lines before a file's first section (a file of plain lines has only these).
fn preamble_lines(doc: &Doc) -> Vec<String> {
    doc.preamble
        .iter()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .map(|l| {
            l.trim()
                .trim_start_matches(['-', '*', '+'])
                .trim()
                .to_string()
        })
        .collect()
}

impl ReferenceAgent {
    fn turn(&self, input: &TurnInput<'_>, tools: &mut dyn Tools) -> String {
        let u = understand::understand(input.message);
        let reads = self.regression != Some(Regression::NeverReads);
        let writes = self.regression != Some(Regression::NeverWrites);

        // Mounts, each path once.
        let mut mounts: Vec<&Mount> = Vec::new();
        for m in input.mounts {
            if !mounts.iter().any(|x| x.path == m.path) {
                mounts.push(m);
            }
        }

        // ---- read
        let mut files: Vec<File> = Vec::new();
        if reads && !mounts.is_empty() {
            let first = input.history.is_empty();
            if first {
                tools.say("Let me check your notes.");
            }
            if first || u.needs_context() {
                for (mi, m) in mounts.iter().enumerate() {
                    let dir = m.path.trim_end_matches('/');
                    let listing = tools.call(
                        "bash",
                        json!({ "command": format!("find {} -type f", shell_path(dir)) }),
                    );
                    if listing.is_error {
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
                    for p in paths.into_iter().take(MAX_FILES) {
                        let out = tools.call("read", json!({ "file_path": p }));
                        if !out.is_error {
                            files.push(File {
                                mount: mi,
                                path: p,
                                content: strip_line_numbers(&out.text),
                            });
                        }
                    }
                }
            } else {
                for (mi, m) in mounts.iter().enumerate() {
                    if !writable(m) {
                        continue;
                    }
                    let p = notes_path(m);
                    let out = tools.call("read", json!({ "file_path": p }));
                    if !out.is_error {
                        files.push(File {
                            mount: mi,
                            path: p,
                            content: strip_line_numbers(&out.text),
                        });
                    }
                }
            }
        }

        // ---- what is known
        let has_rw = mounts.iter().any(|m| writable(m));
        let mut overlay = Doc::default();
        let mut purchases: Vec<String> = Vec::new();
        let mut catalog: Vec<CatalogLine> = Vec::new();
        // Own notes first, then the customer's other files.
        for own in [true, false] {
            for f in &files {
                let m = mounts[f.mount];
                if !writable(m) || (f.path == notes_path(m)) != own {
                    continue;
                }
                let doc = Doc::parse(&f.content, Origin::Memory);
                let purchase_file = is_purchase_label(&f.path);
                if !own {
                    for s in &doc.sections {
                        if purchase_file || is_purchase_label(&s.heading) {
                            purchases.extend(s.items.iter().map(|i| i.text.clone()));
                        }
                    }
                    if purchase_file {
                        purchases.extend(preamble_lines(&doc));
                    }
                }
                merge(&mut overlay, &doc, purchase_file);
            }
        }
        for f in &files {
            if writable(mounts[f.mount]) {
                continue;
            }
            let doc = Doc::parse(&f.content, Origin::Memory);
            for l in preamble_lines(&doc) {
                catalog.push(CatalogLine {
                    heading: None,
                    line: l,
                });
            }
            for s in &doc.sections {
                for i in &s.items {
                    catalog.push(CatalogLine {
                        heading: Some(s.heading.clone()),
                        line: i.text.clone(),
                    });
                }
            }
        }
        purchases.dedup();

        // Within a session the conversation itself is remembered when memory is not (the
        // regressions, or no writable store).
        let history_ops: Vec<Op> = input
            .history
            .iter()
            .flat_map(|e| understand::understand(&e.user).ops)
            .collect();
        let replay = !(reads && writes && has_rw);
        if replay {
            for op in &history_ops {
                overlay.apply(op, Origin::Conversation);
            }
        }
        let mut learned: Vec<String> = Vec::new();
        let mut forgot = Vec::new();
        for op in &u.ops {
            let changed = overlay.apply(op, Origin::ThisTurn);
            match op {
                Op::Learn(f) if changed => {
                    let p = topics::phrase(&f.topic, &f.text);
                    if !learned.contains(&p) {
                        learned.push(p);
                    }
                }
                // Forgetting everything also removes the customer's other files (purchases).
                Op::Forget(f) => forgot.push((
                    f.clone(),
                    changed || (matches!(f, doc::Forget::All) && !purchases.is_empty()),
                )),
                _ => {}
            }
        }

        // ---- reply
        let knowledge = Knowledge {
            overlay,
            purchases,
            catalog,
            learned,
            forgot,
        };
        let (text, recommended) = reply::compose(&u, &knowledge);

        // ---- write
        if writes {
            let mut ops = u.ops.clone();
            if reads && let Some(lines) = recommended {
                ops.push(Op::Recommend(lines));
            }
            for (mi, m) in mounts.iter().enumerate() {
                if !writable(m) {
                    continue;
                }
                let path = notes_path(m);
                if reads {
                    let existing = files.iter().find(|f| f.mount == mi && f.path == path);
                    let content = existing.map_or("", |f| f.content.as_str());
                    let old = Doc::parse(content, Origin::Memory);
                    let mut new = old.clone();
                    for op in &ops {
                        new.apply(op, Origin::ThisTurn);
                    }
                    save(tools, &path, existing.is_some(), content, &old, &new);
                    // Forgetting also reaches the customer's other files in this store.
                    if u.ops.iter().any(|o| matches!(o, Op::Forget(_))) {
                        for f in files.iter().filter(|f| f.mount == mi && f.path != path) {
                            let old = Doc::parse(&f.content, Origin::Memory);
                            let mut new = old.clone();
                            let mut cleared = false;
                            for op in u.ops.iter().filter(|o| matches!(o, Op::Forget(_))) {
                                if matches!(op, Op::Forget(doc::Forget::All)) {
                                    cleared = true;
                                }
                                new.apply(op, Origin::ThisTurn);
                            }
                            if cleared {
                                tools.call(
                                    "bash",
                                    json!({ "command": format!("rm {}", shell_path(&f.path)) }),
                                );
                            } else {
                                save(tools, &f.path, true, &f.content, &old, &new);
                            }
                        }
                    }
                } else {
                    // Amnesiac: only this session's facts, written over whatever was there.
                    let mut session = Doc::default();
                    for op in &history_ops {
                        session.apply(op, Origin::Conversation);
                    }
                    let before = session.clone();
                    for op in &ops {
                        session.apply(op, Origin::ThisTurn);
                    }
                    if session.same_text(&before) {
                        continue;
                    }
                    if session.is_empty() {
                        tools.call(
                            "bash",
                            json!({ "command": format!("rm {}", shell_path(&path)) }),
                        );
                    } else {
                        tools.call(
                            "write",
                            json!({ "file_path": path, "content": session.render() }),
                        );
                    }
                }
            }
        }
        text
    }
}

/// Brings a file from `old` to `new`: nothing when equal, `rm` when empty, section `edit`s when
/// the file is in canonical form, else one `write`.
fn save(tools: &mut dyn Tools, path: &str, exists: bool, content: &str, old: &Doc, new: &Doc) {
    if (exists && old.same_text(new)) || (!exists && new.is_empty()) {
        return;
    }
    if new.is_empty() {
        tools.call(
            "bash",
            json!({ "command": format!("rm {}", shell_path(path)) }),
        );
        return;
    }
    if exists && let Some(edits) = plan_edits(content, old, new) {
        let mut ok = true;
        for (old_string, new_string) in edits {
            let out = tools.call(
                "edit",
                json!({ "file_path": path, "old_string": old_string, "new_string": new_string }),
            );
            if out.is_error {
                ok = false;
                break;
            }
        }
        if ok {
            return;
        }
    }
    tools.call(
        "write",
        json!({ "file_path": path, "content": new.render() }),
    );
}
