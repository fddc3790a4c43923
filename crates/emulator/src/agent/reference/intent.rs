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
    /// "Forget it": the customer dropped what they were saying.
    pub dismissed: bool,
}

/// What one question or request is about.
#[derive(Debug, Clone, Default)]
pub(super) struct Query {
    /// Stems of its content words (light words only when it has no other).
    pub stems: BTreeSet<String>,
    /// Head nouns of its "my …" phrases ("my dog's birthday" → birthday): a fact that matches
    /// only the rest of such a phrase (the dog) does not answer it.
    pub heads: BTreeSet<String>,
    /// Stems of its content words outside its "my …" phrases ("hills" in "which hills for my
    /// run?"): a fact sharing one is quoted whatever the phrase's head.
    pub others: BTreeSet<String>,
    /// What it asks for, when it asks about the customer ("my locker", "which locksmith did
    /// I use"): when no note matches one of these, the reply says it is not noted, whatever else
    /// it quotes.
    pub subject: BTreeSet<String>,
    /// A question or request, which gets an answer or an abstention; an implied need ("I need
    /// a bag") is answered only when something matches.
    pub asked: bool,
    /// An open request ("what do you know about us?"): everything known answers it.
    pub open: bool,
    /// The clause as asked, in the second person, to name it when several go unanswered.
    pub text: String,
}

impl Query {
    /// Whether a fact or a line of the customer's own files (with these stems) answers it.
    pub fn about(&self, stems: &BTreeSet<String>) -> bool {
        if self.heads.is_empty() {
            any_match(stems, &self.stems)
        } else {
            any_match(stems, &self.heads) || any_match(stems, &self.others)
        }
    }

    /// Whether a line of a reference file (with these stems) bears on it.
    pub fn mentions(&self, stems: &BTreeSet<String>) -> bool {
        any_match(stems, &self.stems)
    }

    /// Whether a fact or a customer line (with these stems) is about what it asks for.
    pub fn has_subject_in(&self, stems: &BTreeSet<String>) -> bool {
        any_match(stems, &self.subject)
    }
}

/// At most this many questions of one message are answered (a flood gets the first ones).
const MAX_QUERIES: usize = 12;

fn is_light(stem_: &str) -> bool {
    LIGHT_WORDS.iter().any(|w| stem(w) == stem_)
}

/// The stems that identify a subject: without light words, unless nothing else is left.
fn significant(stems: BTreeSet<String>) -> BTreeSet<String> {
    let heavy: BTreeSet<String> = stems.iter().filter(|s| !is_light(s)).cloned().collect();
    if heavy.is_empty() { stems } else { heavy }
}

pub(super) fn understand(message: &str) -> Intent {
    let mut intent = Intent::default();
    for clause in text::clauses(message) {
        if clause.is_forget() || dismissal(&clause) {
            // "Forget it", "forget about that": never mind — nothing is deleted.
            if dismissal(&clause) {
                intent.dismissed = true;
            } else {
                intent.forget.push(forget_request(&clause));
            }
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
                    stems: significant(stems),
                    ..Query::default()
                });
            }
            if !intent.facts.iter().any(|x| x.text == f.text) {
                intent.facts.push(f);
            }
            continue;
        }
        if clause.question || requests_advice {
            intent.asks = true;
            if intent.queries.iter().filter(|q| q.asked).count() < MAX_QUERIES {
                let query = question(&clause, looking, requests_advice);
                intent.open |= query.open;
                intent.queries.push(query);
            }
        }
    }
    intent
}

/// What a question or request asks for.
fn question(clause: &Clause, looking: bool, requests_advice: bool) -> Query {
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
    let about_me = lower
        .windows(2)
        .any(|p| matches!(p[0], "about" | "on") && matches!(p[1], "me" | "us"));
    let arrange = lower.iter().any(|w| ARRANGE_WORDS.contains(w))
        && lower
            .iter()
            .any(|w| matches!(*w, "me" | "something" | "anything" | "us"));
    // An open request by its form: nothing but grammar and words naming memory, about the
    // speaker or naming memory ("what do you know about us?", "remind me what I've told you",
    // "what have you got on file for me?", "who am I?").
    let names_memory = lower.iter().any(|w| MEMORY_NAMES.contains(w));
    let names_speaker = lower.iter().any(|w| SPEAKER.contains(w));
    let recalls_all =
        content.iter().all(|w| GENERIC.contains(w)) && (names_memory || names_speaker);
    let stems: BTreeSet<String> = specific.iter().map(|w| stem(w)).collect();
    let open = about_me
        || looking
        || arrange
        || recalls_all
        || stems
            .iter()
            .any(|s| OPEN_STEMS.iter().any(|o| s.starts_with(o)));
    let query: Vec<&str> = if specific.is_empty() {
        content
    } else {
        specific
    };
    // Words naming memory ("what's on file about my dog?") do not name the subject.
    let named: Vec<&str> = query
        .iter()
        .copied()
        .filter(|w| !GENERIC.contains(w))
        .collect();
    let query = if named.is_empty() { query } else { named };
    let stems = significant(query.iter().map(|w| stem(w)).collect());
    let phrases = my_phrases(&ws);
    let heads: BTreeSet<String> = phrases.iter().map(|p| p.head.clone()).collect();
    let in_phrases: BTreeSet<String> = phrases
        .iter()
        .flat_map(|p| p.words.iter().cloned())
        .collect();
    let others: BTreeSet<String> = stems
        .iter()
        .filter(|s| !in_phrases.contains(*s))
        .cloned()
        .collect();
    let wh = if names_speaker {
        wh_phrase(&ws)
    } else {
        BTreeSet::new()
    };
    let subject = if open || requests_advice {
        BTreeSet::new()
    } else if !wh.is_empty() {
        // "Which bus does my daughter take?" asks for the bus.
        wh
    } else if !heads.is_empty() {
        // A light or memory-naming head ("my usual order", "my purchase history") lends the
        // subject to the rest of its phrase.
        phrases
            .iter()
            .flat_map(|p| {
                if is_light(&p.head) || GENERIC.iter().any(|g| stem(g) == p.head) {
                    p.words.clone()
                } else {
                    vec![p.head.clone()]
                }
            })
            .filter(|s| !is_light(s))
            .collect()
    } else {
        BTreeSet::new()
    };
    Query {
        stems,
        heads,
        others,
        subject,
        asked: true,
        open,
        text: second_person(&clause.text),
    }
}

/// A forget verb whose object is only a pointing pronoun ("forget it", "never mind that").
fn dismissal(clause: &Clause) -> bool {
    let ws = clause.words();
    let lower: Vec<&str> = ws.iter().map(|w| w.lower.as_str()).collect();
    if matches!(lower.as_slice(), ["never", "mind", ..] | ["nevermind", ..]) {
        return true;
    }
    let Some(verb) = ws
        .iter()
        .position(|w| FORGET_START.contains(&w.lower.as_str()))
    else {
        return false;
    };
    let rest = &ws[verb + 1..];
    !rest.is_empty() && rest.iter().all(|w| DISMISSALS.contains(&w.lower.as_str()))
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

/// A "my …" phrase of a question: its head noun and all its word stems (possessors too).
struct MyPhrase {
    head: String,
    words: Vec<String>,
}

/// The "my …" phrases of a question.
fn my_phrases(ws: &[text::Word]) -> Vec<MyPhrase> {
    let mut out = Vec::new();
    for (i, w) in ws.iter().enumerate() {
        if w.lower != "my" && w.lower != "our" {
            continue;
        }
        let mut head = None;
        let mut all = Vec::new();
        for x in ws[i + 1..].iter().take(4) {
            if text::is_stop(&x.lower) || text::is_value(x) {
                break;
            }
            let s = stem(&x.lower);
            all.push(s.clone());
            if !(x.lower.ends_with("'s") || x.lower.ends_with('\'')) {
                head = Some(s);
            }
        }
        if let Some(head) = head {
            out.push(MyPhrase { head, words: all });
        }
    }
    out
}

/// "Which locksmith did I use?", "what kind of boiler do I have?": the stems of the noun
/// phrase after the question word (a leading "kind of" skipped), without light words.
fn wh_phrase(ws: &[text::Word]) -> BTreeSet<String> {
    let Some(at) = ws
        .iter()
        .position(|w| WH_DETERMINERS.contains(&w.lower.as_str()))
    else {
        return BTreeSet::new();
    };
    ws[at + 1..]
        .iter()
        .skip_while(|w| KIND_NOUNS.contains(&w.lower.as_str()) && !text::is_value(w))
        .take_while(|w| !text::is_stop(&w.lower) && !text::is_value(w))
        .take(4)
        .map(|w| stem(&w.lower))
        .filter(|s| !is_light(s) && !GENERIC.iter().any(|g| stem(g) == *s))
        .collect()
}
