//! What a message asks for: facts to keep, things to forget, and what to recall.

use super::facts::{self, Fact};
use super::text::{self, Clause, second_person, stem, words};
use std::collections::BTreeSet;

/// A request to forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Forget {
    /// Everything about the customer.
    All,
    /// The facts matching these stems; `phrase` is what the customer called them, in the second
    /// person ("your allergy information").
    Some {
        targets: BTreeSet<String>,
        phrase: String,
    },
}

/// Everything the agent takes from one message.
#[derive(Debug, Clone, Default)]
pub(super) struct Intent {
    pub facts: Vec<Fact>,
    pub forget: Vec<Forget>,
    /// The message asks or requests something.
    pub asks: bool,
    /// An open request ("any recommendations?", "what do you remember about me?"): recall all.
    pub open: bool,
    /// Stems of what the questions are about.
    pub query: BTreeSet<String>,
}

/// Words that name memory in general rather than one subject of it.
const GENERIC: &[&str] = &[
    "about", "all", "anything", "data", "detail", "details", "everything", "file", "files",
    "history", "info", "information", "me", "memory", "note", "notes", "preference",
    "preferences", "profile", "record", "records", "stuff", "whatever", "what", "you", "know",
    "said", "told", "ever", "thing", "things", "else",
];
/// Words that make a forget request cover everything when nothing more specific is named.
const EVERYTHING: &[&str] = &[
    "everything", "all", "me", "my", "anything", "data", "notes", "information", "info",
    "profile", "memory", "whatever",
];
/// Stems of requests that want everything the agent knows applied.
const OPEN_STEMS: &[&str] = &["recommend", "suggest", "plan", "idea", "surpris", "advic", "advis"];
const ARRANGE_WORDS: &[&str] = &[
    "book", "reserve", "arrange", "find", "get", "pick", "choose", "organise", "organize",
    "schedule", "order", "sort",
];
const MEMORY_WORDS: &[&str] = &["remember", "know", "noted", "recall", "have", "stored", "kept"];

pub(super) fn understand(message: &str) -> Intent {
    let mut intent = Intent::default();
    for clause in text::clauses(message) {
        if clause.is_forget() {
            intent.forget.push(forget_request(&clause));
            continue;
        }
        let requests_advice = text::content_stems(&clause.text)
            .iter()
            .any(|s| OPEN_STEMS.iter().any(|o| s.starts_with(o)));
        if let Some(f) = facts::from_clause(&clause).filter(|_| !requests_advice) {
            if !intent.facts.iter().any(|x| x.text == f.text) {
                intent.facts.push(f);
            }
            continue;
        }
        if clause.question || requests_advice {
            intent.asks = true;
            let ws = words(&clause.text);
            let lower: Vec<&str> = ws.iter().map(|w| w.lower.as_str()).collect();
            let content: Vec<&str> = lower
                .iter()
                .copied()
                .filter(|w| !text::is_stop(w) && w.chars().any(char::is_alphanumeric))
                .collect();
            let specific: Vec<&str> = content
                .iter()
                .copied()
                .filter(|w| !text::is_frame(w))
                .collect();
            let stems: BTreeSet<String> = specific.iter().map(|w| stem(w)).collect();
            let about_me = lower.windows(2).any(|p| p == ["about", "me"] || p == ["on", "me"]);
            let arrange = lower.iter().any(|w| ARRANGE_WORDS.contains(w))
                && lower
                    .iter()
                    .any(|w| matches!(*w, "me" | "something" | "anything" | "us"));
            let recalls_all = specific.is_empty() && lower.iter().any(|w| MEMORY_WORDS.contains(w));
            if about_me
                || arrange
                || recalls_all
                || stems.iter().any(|s| OPEN_STEMS.iter().any(|o| s.starts_with(o)))
            {
                intent.open = true;
            }
            let query = if specific.is_empty() { content } else { specific };
            intent.query.extend(query.iter().map(|w| stem(w)));
        }
    }
    intent
}

fn forget_request(clause: &Clause) -> Forget {
    let ws = clause.words();
    let verb_at = ws
        .iter()
        .position(|w| {
            matches!(
                w.lower.as_str(),
                "forget" | "delete" | "erase" | "wipe" | "remove" | "clear"
            )
        })
        .map_or(0, |i| i + 1);
    let rest = &ws[verb_at..];
    let targets: BTreeSet<String> = rest
        .iter()
        .filter(|w| !text::is_stop(&w.lower) && !GENERIC.contains(&w.lower.as_str()))
        .map(|w| stem(&w.lower))
        .collect();
    if targets.is_empty() {
        return if rest.is_empty()
            || rest
                .iter()
                .any(|w| EVERYTHING.contains(&w.lower.as_str()))
        {
            Forget::All
        } else {
            Forget::Some {
                targets,
                phrase: String::new(),
            }
        };
    }
    let phrase = rest
        .iter()
        .map(|w| w.text.as_str())
        .skip_while(|w| matches!(w.to_lowercase().as_str(), "about" | "that" | "the"))
        .collect::<Vec<_>>()
        .join(" ");
    Forget::Some {
        targets,
        phrase: second_person(&phrase),
    }
}
