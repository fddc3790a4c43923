//! What a message asks for: facts to keep, things to forget, and what to recall.

use super::facts::{self, Class, Fact};
use super::grammar::*;
use super::text::{self, Clause, any_match, second_person, stem, words};
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
    /// What each question or request is about.
    pub queries: Vec<Query>,
}

/// What one question or request is about.
#[derive(Debug, Clone, Default)]
pub(super) struct Query {
    /// Stems of its content words.
    pub stems: BTreeSet<String>,
    /// Head nouns of its "my …" phrases ("my dog's birthday" → birthday): when there are any, a
    /// fact must match one of them, so a fact about the dog's name does not answer a question
    /// about its birthday.
    pub heads: BTreeSet<String>,
}

impl Query {
    /// Whether a fact or a line of the customer's own files (with these stems) answers it.
    pub fn about(&self, stems: &BTreeSet<String>) -> bool {
        if self.heads.is_empty() {
            any_match(stems, &self.stems)
        } else {
            any_match(stems, &self.heads)
        }
    }

    /// Whether a line of a reference file (with these stems) bears on it.
    pub fn mentions(&self, stems: &BTreeSet<String>) -> bool {
        any_match(stems, &self.stems)
    }
}

pub(super) fn understand(message: &str) -> Intent {
    let mut intent = Intent::default();
    for clause in text::clauses(message) {
        if clause.is_forget() {
            intent.forget.push(forget_request(&clause));
            continue;
        }
        // "I'm looking for a gift": a request for suggestions, not a fact about the customer.
        let looking = {
            let lower = clause.text.to_lowercase();
            [
                "i'm looking for",
                "i am looking for",
                "im looking for",
                "looking for",
            ]
            .iter()
            .any(|p| lower.starts_with(p))
        };
        let requests_advice = looking
            || text::content_stems(&clause.text)
                .iter()
                .any(|s| OPEN_STEMS.iter().any(|o| s.starts_with(o)));
        if let Some(f) = facts::from_clause(&clause).filter(|_| !requests_advice) {
            // "I need a bag for work": a need is also a quiet question about that thing.
            let needs = matches!(
                f.subject.as_ref().map(|s| &s.class),
                Some(Class::Preference { negative: false })
            ) && clause
                .words()
                .iter()
                .any(|w| matches!(w.lower.as_str(), "need" | "want" | "needs" | "wants"));
            if needs {
                let stems: BTreeSet<String> = text::content_stems(&clause.text)
                    .into_iter()
                    .filter(|s| !FRAME_WORDS.iter().any(|w| stem(w) == *s))
                    .collect();
                // Answered only when something matches (`asks` stays false): never with "I
                // don't have that noted".
                intent.queries.push(Query {
                    stems,
                    heads: BTreeSet::new(),
                });
            }
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
            let about_me = lower
                .windows(2)
                .any(|p| p == ["about", "me"] || p == ["on", "me"]);
            let arrange = lower.iter().any(|w| ARRANGE_WORDS.contains(w))
                && lower
                    .iter()
                    .any(|w| matches!(*w, "me" | "something" | "anything" | "us"));
            // "What do you remember?", "Who am I?": about the customer, naming nothing.
            let recalls_all = content.is_empty()
                && lower.iter().any(|w| {
                    MEMORY_WORDS.contains(w)
                        || matches!(*w, "i" | "me" | "my" | "we" | "us" | "our")
                });
            if about_me
                || looking
                || arrange
                || recalls_all
                || stems
                    .iter()
                    .any(|s| OPEN_STEMS.iter().any(|o| s.starts_with(o)))
            {
                intent.open = true;
            }
            let query = if specific.is_empty() {
                content
            } else {
                specific
            };
            intent.queries.push(Query {
                stems: query.iter().map(|w| stem(w)).collect(),
                heads: my_heads(&ws).into_iter().collect(),
            });
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
        return if rest.is_empty() || rest.iter().any(|w| EVERYTHING.contains(&w.lower.as_str())) {
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

/// Head nouns of the "my …" phrases of a question.
fn my_heads(ws: &[text::Word]) -> Vec<String> {
    let mut heads = Vec::new();
    for (i, w) in ws.iter().enumerate() {
        if w.lower != "my" && w.lower != "our" {
            continue;
        }
        let mut head = None;
        for x in ws[i + 1..].iter().take(4) {
            if text::is_stop(&x.lower) || text::is_value(x) {
                break;
            }
            if !(x.lower.ends_with("'s") || x.lower.ends_with('\'')) {
                head = Some(stem(&x.lower));
            }
        }
        heads.extend(head);
    }
    heads
}
