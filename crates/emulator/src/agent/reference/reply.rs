//! The reply: what was noted, updated or forgotten, and what is recalled — only ever the
//! customer's own words and lines of mounted store files, joined by fixed phrases that carry no
//! values of their own.

use super::facts::Fact;
use super::intent::{Forget, Intent, Query};
use super::notes::{Learned, StoreLine};
use super::text::lower_first;
use std::collections::BTreeSet;

/// The fixed phrases of replies (none holds a name, number, price or date).
pub(super) mod phrases {
    pub const NOTED: &str = "Noted:";
    pub const UPDATED: &str = "Updated:";
    pub const FROM_NOTES: &str = "From my notes:";
    pub const FROM_FILES: &str = "From the reference files:";
    pub const NOT_NOTED: &str = "I don't have that noted.";
    pub const NOT_NOTED_FOR: &str = "I don't have that noted:";
    pub const NEVER_MIND: &str = "OK, never mind: nothing changed.";
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
    pub customer_lines: Vec<StoreLine>,
    /// Lines of `read_only` store files (policies, shared knowledge).
    pub reference_lines: Vec<StoreLine>,
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

fn listed(label: &str, items: &[String], always_bullets: bool) -> Option<String> {
    match items {
        [] => None,
        // Inline only when the line reads on after the label ("Noted: you're a size 9"); a
        // line kept as said ("Weekends only.") is quoted on a line of its own.
        [one] if !always_bullets && lower_first(one).starts_with(char::is_lowercase) => {
            Some(format!("{label} {}", lower_first(one)))
        }
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
    // A standing instruction about bullet points is followed.
    let always_bullets = k
        .facts
        .iter()
        .any(|f| f.subject.is_none() && f.text.to_lowercase().contains("bullet"));
    parts.extend(listed(phrases::NOTED, &noted, always_bullets));
    parts.extend(listed(
        phrases::UPDATED,
        &of(Learned::Updated),
        always_bullets,
    ));

    for (request, removed) in &k.forgot {
        parts.push(match request {
            Forget::All => phrases::FORGOT_ALL.to_string(),
            Forget::Some { phrase, .. } if removed.is_empty() => {
                format!("{} {}.", phrases::NOTHING_TO_FORGET, phrase.trim()).replace(" .", ".")
            }
            Forget::Some { phrase, .. } => format!("{} {}.", phrases::FORGOT, phrase.trim()),
        });
    }

    if intent.asks || !intent.queries.is_empty() {
        parts.extend(recall(intent, k));
    }

    if parts.is_empty() {
        parts.push(
            if intent.dismissed {
                phrases::NEVER_MIND
            } else {
                phrases::HOW_CAN_I_HELP
            }
            .to_string(),
        );
    }
    parts.join("\n\n")
}

/// Quotes what answers the message's questions; `None` when only implied questions were asked
/// and nothing answers them.
fn recall(intent: &Intent, k: &Knowledge) -> Option<String> {
    let about = |stems: &BTreeSet<String>| intent.queries.iter().any(|q| q.about(stems));
    let mentions = |stems: &BTreeSet<String>| intent.queries.iter().any(|q| q.mentions(stems));
    // A statement's own fact is not news to the customer.
    let just_said = |text: &str| !intent.asks && k.learned.iter().any(|(f, _)| f.text == text);
    let facts: Vec<String> = k
        .facts
        .iter()
        .filter(|f| !just_said(&f.text))
        .filter(|f| intent.open || about(&f.stems()))
        .map(|f| f.text.clone())
        .take(MAX_QUOTED)
        .collect();
    let mut mine: Vec<String> = facts;
    for l in &k.customer_lines {
        if mine.len() >= MAX_QUOTED {
            break;
        }
        if (intent.open || about(&l.stems)) && !mine.contains(&l.text) {
            mine.push(cut(&l.text));
        }
    }
    let reference: Vec<String> = k
        .reference_lines
        .iter()
        .filter(|l| mentions(&l.stems))
        .map(|l| cut(&l.text))
        .take(MAX_QUOTED)
        .collect();

    let mut out: Vec<String> = Vec::new();
    if !mine.is_empty() {
        out.push(format!("{}\n{}", phrases::FROM_NOTES, bullets(&mine)));
    }
    if !reference.is_empty() {
        out.push(format!("{}\n{}", phrases::FROM_FILES, bullets(&reference)));
    }

    // Each question gets an answer or says it has none: one about the customer ("what's my
    // gate code?") is answered only by a note about what it asks for, whatever else matched.
    let customer_stems: Vec<BTreeSet<String>> = k
        .facts
        .iter()
        .map(Fact::stems)
        .chain(k.customer_lines.iter().map(|l| l.stems.clone()))
        .collect();
    let answered = |q: &Query| {
        if q.open {
            !customer_stems.is_empty()
        } else if !q.subject.is_empty() {
            customer_stems.iter().any(|s| q.has_subject_in(s))
        } else {
            customer_stems.iter().any(|s| q.about(s))
                || k.reference_lines.iter().any(|l| q.mentions(&l.stems))
        }
    };
    let asked: Vec<&Query> = intent.queries.iter().filter(|q| q.asked).collect();
    let unanswered: Vec<&Query> = asked.iter().copied().filter(|q| !answered(q)).collect();
    if out.is_empty() && unanswered.is_empty() {
        return None;
    }
    if out.is_empty() && unanswered.len() == asked.len() {
        let open = unanswered.iter().any(|q| q.open);
        out.push(
            if open {
                phrases::NOTHING_YET
            } else {
                phrases::NOT_NOTED
            }
            .to_string(),
        );
    } else if asked.len() == 1 && unanswered.len() == 1 {
        out.push(phrases::NOT_NOTED.to_string());
    } else {
        let named: Vec<String> = unanswered
            .iter()
            .map(|q| format!("{}?", cut(q.text.trim())))
            .collect();
        out.extend(listed(phrases::NOT_NOTED_FOR, &named, false));
    }
    Some(out.join("\n\n"))
}
