//! The reply: what was noted, updated or forgotten, and what is recalled — only ever the
//! customer's own words and lines of mounted store files, joined by fixed phrases that carry no
//! values of their own.

use super::facts::Fact;
use super::intent::{Forget, Intent};
use super::notes::Learned;
use super::text::{self, any_match, lower_first};
use std::collections::BTreeSet;

/// The fixed phrases of replies (none holds a name, number, price or date).
pub(super) mod phrases {
    pub const NOTED: &str = "Noted:";
    pub const UPDATED: &str = "Updated:";
    pub const FROM_NOTES: &str = "From my notes:";
    pub const FROM_FILES: &str = "From the reference files:";
    pub const NOT_NOTED: &str = "I don't have that noted.";
    pub const NOTHING_YET: &str = "I don't have anything noted about you yet.";
    pub const FORGOT_ALL: &str = "Done: I've forgotten everything you told me.";
    pub const FORGOT: &str = "Done: I've forgotten";
    pub const NOTHING_TO_FORGET: &str = "I had nothing noted about";
    pub const HOW_CAN_I_HELP: &str = "How can I help?";
}

/// At most this many lines of each kind are quoted in one reply.
const MAX_QUOTED: usize = 25;
/// Quoted store lines are cut to this many characters.
const MAX_LINE_CHARS: usize = 300;

/// Everything a reply is built from.
#[derive(Debug, Default)]
pub(super) struct Knowledge {
    /// The customer's facts after this turn's changes.
    pub facts: Vec<Fact>,
    /// Lines of the customer's other files in `read_write` stores (seeded memories).
    pub customer_lines: Vec<String>,
    /// Lines of `read_only` store files (policies, shared knowledge).
    pub reference_lines: Vec<String>,
    /// What this turn learned, in order.
    pub learned: Vec<(Fact, Learned)>,
    /// Each forget request of this turn and the facts it removed.
    pub forgot: Vec<(Forget, Vec<String>)>,
}

fn bullets(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("- {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn cut(line: &str) -> String {
    match line.char_indices().nth(MAX_LINE_CHARS) {
        Some((i, _)) => format!("{}…", &line[..i]),
        None => line.to_string(),
    }
}

fn listed(label: &str, items: &[String]) -> Option<String> {
    match items {
        [] => None,
        [one] => Some(format!("{label} {}", lower_first(one))),
        many => Some(format!(
            "{label}\n{}",
            bullets(&many.iter().map(|m| lower_first(m)).collect::<Vec<_>>())
        )),
    }
}

pub(super) fn compose(intent: &Intent, k: &Knowledge) -> String {
    let mut parts: Vec<String> = Vec::new();

    let of = |want: Learned| -> Vec<String> {
        k.learned
            .iter()
            .filter(|(_, l)| *l == want)
            .map(|(f, _)| f.text.clone())
            .collect()
    };
    let noted: Vec<String> = k
        .learned
        .iter()
        .filter(|(_, l)| matches!(l, Learned::Added | Learned::Unchanged))
        .map(|(f, _)| f.text.clone())
        .collect();
    parts.extend(listed(phrases::NOTED, &noted));
    parts.extend(listed(phrases::UPDATED, &of(Learned::Updated)));

    for (request, removed) in &k.forgot {
        parts.push(match request {
            Forget::All => phrases::FORGOT_ALL.to_string(),
            Forget::Some { phrase, .. } if removed.is_empty() => {
                format!("{} {}.", phrases::NOTHING_TO_FORGET, phrase.trim()).replace(" .", ".")
            }
            Forget::Some { phrase, .. } => format!("{} {}.", phrases::FORGOT, phrase.trim()),
        });
    }

    if intent.asks {
        parts.push(recall(intent, k));
    }

    if parts.is_empty() {
        parts.push(phrases::HOW_CAN_I_HELP.to_string());
    }
    parts.join("\n\n")
}

fn recall(intent: &Intent, k: &Knowledge) -> String {
    let matches = |stems: &BTreeSet<String>| any_match(stems, &intent.query);
    let facts: Vec<String> = k
        .facts
        .iter()
        .filter(|f| intent.open || matches(&f.stems()))
        .map(|f| f.text.clone())
        .take(MAX_QUOTED)
        .collect();
    let mut mine: Vec<String> = facts;
    for l in &k.customer_lines {
        if mine.len() >= MAX_QUOTED {
            break;
        }
        if (intent.open || matches(&text::content_stems(l))) && !mine.contains(l) {
            mine.push(cut(l));
        }
    }
    let reference: Vec<String> = k
        .reference_lines
        .iter()
        .filter(|l| matches(&text::content_stems(l)))
        .map(|l| cut(l))
        .take(MAX_QUOTED)
        .collect();

    let mut out: Vec<String> = Vec::new();
    if !mine.is_empty() {
        out.push(format!("{}\n{}", phrases::FROM_NOTES, bullets(&mine)));
    }
    if !reference.is_empty() {
        out.push(format!("{}\n{}", phrases::FROM_FILES, bullets(&reference)));
    }
    if out.is_empty() {
        out.push(
            if intent.open {
                phrases::NOTHING_YET
            } else {
                phrases::NOT_NOTED
            }
            .to_string(),
        );
    }
    out.join("\n\n")
}
