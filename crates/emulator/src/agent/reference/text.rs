//! Words, stems and clauses: the only "language" the reference agent has.
//!
//! Everything here is closed-class grammar (pronouns, auxiliaries, prepositions, discourse
//! markers, question words) plus a Snowball stemmer; there is no domain vocabulary.

use super::grammar::*;
use rust_stemmers::{Algorithm, Stemmer};
use std::collections::{BTreeSet, HashSet};
use std::sync::LazyLock;

/// Only this much of a message is read for meaning; the rest is ignored (a 100 KB paste gets a
/// reply about its start, never a hang).
pub const MAX_MESSAGE_CHARS: usize = 8_000;
/// Longer clauses are not kept as facts: a fact is a sentence, not a pasted document.
pub(super) const MAX_FACT_CHARS: usize = 300;

static STEMMER: LazyLock<Stemmer> = LazyLock::new(|| Stemmer::create(Algorithm::English));

/// A word of a message: its text as written and its lowercase form (apostrophes normalised).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Word {
    pub text: String,
    pub lower: String,
}

/// Splits text into words: runs of letters/digits, keeping inner apostrophes, hyphens, dots and
/// currency marks that belong to a value ("don't", "co-op", "3.5", "$30").
pub(super) fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let next_alnum = chars.get(i + 1).is_some_and(|n| n.is_alphanumeric());
        let keep = c.is_alphanumeric()
            || (!cur.is_empty() && "'’-.,".contains(c) && next_alnum && {
                // "3.5" and "1,200" but not "end.Next" or "a,b" between words.
                let prev_digit = cur.chars().last().is_some_and(|p| p.is_ascii_digit());
                matches!(c, '\'' | '’' | '-') || prev_digit
            })
            || ("$€£¥".contains(c) && cur.is_empty() && next_alnum);
        if keep {
            cur.push(if c == '’' { '\'' } else { c });
        } else if !cur.is_empty() {
            out.push(word(std::mem::take(&mut cur)));
        }
    }
    if !cur.is_empty() {
        out.push(word(cur));
    }
    out
}

fn word(text: String) -> Word {
    let lower = text.to_lowercase();
    Word { text, lower }
}

static STOP_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| STOP_WORDS.iter().copied().collect());
static FRAME_SET: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| FRAME_WORDS.iter().copied().collect());

pub(super) fn is_stop(lower: &str) -> bool {
    STOP_SET.contains(lower)
}

pub(super) fn is_frame(lower: &str) -> bool {
    FRAME_SET.contains(lower)
}

/// A value rather than a word: has a digit or a currency mark ("9", "B1", "$30", "Cust0042x").
pub(super) fn is_value(w: &Word) -> bool {
    w.text
        .chars()
        .any(|c| c.is_ascii_digit() || "$€£¥".contains(c))
}

/// The Snowball stem of a lowercase word, with a possessive "'s" dropped.
pub(super) fn stem(lower: &str) -> String {
    let base = lower
        .strip_suffix("'s")
        .or_else(|| lower.strip_suffix('\''))
        .unwrap_or(lower);
    STEMMER.stem(base).into_owned()
}

/// Stems of the content words of `text` (stop words removed).
/// A hyphenated word also counts as its parts ("check-out" → check, out).
pub(super) fn content_stems(text: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for w in words(text) {
        if is_stop(&w.lower) || !w.lower.chars().any(char::is_alphanumeric) {
            continue;
        }
        out.insert(stem(&w.lower));
        if w.lower.contains('-') {
            out.extend(
                w.lower
                    .split('-')
                    .filter(|p| !p.is_empty() && !is_stop(p))
                    .map(stem),
            );
        }
    }
    out
}

/// Whether two stems name the same thing: equal, or one extends the other by at most two letters
/// ("allergi" ~ "allergic"), never for short stems.
pub(super) fn stems_match(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    short.chars().count() >= 5 && long.len() - short.len() <= 2 && long.starts_with(short)
}

/// Whether any stem of `a` matches any stem of `b`.
pub(super) fn any_match(a: &BTreeSet<String>, b: &BTreeSet<String>) -> bool {
    a.iter().any(|x| b.iter().any(|y| stems_match(x, y)))
}

/// One clause of a message, with discourse markers stripped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Clause {
    /// The clause as written, markers and closing punctuation removed.
    pub text: String,
    /// Ends with "?" or starts with a question or request word.
    pub question: bool,
    /// "also", "too", "as well", "another": adds to what is known rather than replacing it.
    pub additive: bool,
}

impl Clause {
    pub fn words(&self) -> Vec<Word> {
        words(&self.text)
    }

    pub fn first_lower(&self) -> String {
        self.words()
            .first()
            .map(|w| w.lower.clone())
            .unwrap_or_default()
    }

    pub fn is_first_person(&self) -> bool {
        FIRST_PERSON.contains(&self.first_lower().as_str())
    }

    /// A request to forget: a forget verb with nothing before it but politeness and modals.
    pub fn is_forget(&self) -> bool {
        for w in self.words() {
            if FORGET_START.contains(&w.lower.as_str()) {
                return true;
            }
            if !FORGET_LEAD.contains(&w.lower.as_str()) {
                return false;
            }
        }
        false
    }
}

/// The part of `text` that is read for meaning: at most [`MAX_MESSAGE_CHARS`] characters, cut
/// after the last whole sentence (or word) so no clipped clause becomes a fact.
pub(super) fn bounded(text: &str) -> &str {
    let Some((cut, _)) = text.char_indices().nth(MAX_MESSAGE_CHARS) else {
        return text;
    };
    let head = &text[..cut];
    let end = head
        .rfind(['.', '!', '?', '\n'])
        .or_else(|| head.rfind(char::is_whitespace))
        .unwrap_or(0);
    &head[..end]
}

/// Splits a message into clauses: sentences end at `.`, `!`, `?`, `;` or a line break; inside a
/// sentence a comma, colon, dash or "and"/"but"/"so" starts a new clause when what follows opens a
/// statement or question of its own ("Hi, I'm Ana", "I'm vegan, any ideas?").
pub(super) fn clauses(message: &str) -> Vec<Clause> {
    let mut out = Vec::new();
    for (sentence, question_mark) in sentences(bounded(message)) {
        let pieces = split_sentence(&sentence);
        let n = pieces.len();
        for (i, piece) in pieces.into_iter().enumerate() {
            let (text, additive) = strip_markers(&piece);
            if text.is_empty() || !text.chars().any(char::is_alphanumeric) {
                continue;
            }
            let first = words(&text)
                .first()
                .map(|w| w.lower.clone())
                .unwrap_or_default();
            let question =
                (question_mark && i + 1 == n) || QUESTION_START.contains(&first.as_str());
            out.push(Clause {
                text,
                question,
                additive,
            });
        }
    }
    out
}

/// Sentences with whether each ended in a question mark.
fn sentences(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let chars: Vec<char> = text.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        let at_break = chars.get(i + 1).is_none_or(|n| n.is_whitespace());
        let ends = match c {
            '\n' | '\r' | ';' => true,
            '?' | '!' => true,
            '.' => at_break,
            _ => false,
        };
        if ends {
            let s = cur.trim().to_string();
            if !s.is_empty() {
                out.push((s, c == '?'));
            } else if c == '?'
                && let Some(last) = out.last_mut()
            {
                last.1 = true;
            }
            cur.clear();
        } else {
            cur.push(c);
        }
    }
    let s = cur.trim().to_string();
    if !s.is_empty() {
        out.push((s, false));
    }
    out
}

/// Whether `rest` (lowercase) opens a clause of its own.
fn opens_clause(rest: &str) -> bool {
    let (stripped, _) = strip_leading(rest);
    let first = words(&stripped)
        .first()
        .map(|w| w.lower.clone())
        .unwrap_or_default();
    if first.is_empty() {
        return false;
    }
    // "…, so no jumping please" stays with its clause: only a new subject or question splits.
    FIRST_PERSON.contains(&first.as_str())
        || QUESTION_START.contains(&first.as_str())
        || FORGET_START.contains(&first.as_str())
}

/// "… and do I still have my locker?": a wh-word, or an auxiliary before its subject, opens a
/// question of its own after "and"/"or"/"but".
fn opens_question(ws: &[Word]) -> bool {
    const WH: &[&str] = &[
        "what", "what's", "whats", "which", "who", "who's", "whose", "where", "where's", "when",
        "why", "how",
    ];
    const AUX: &[&str] = &[
        "do", "does", "did", "can", "could", "will", "would", "is", "are", "was", "were", "should",
        "have", "has", "am", "may",
    ];
    const SUBJECT: &[&str] = &[
        "i", "you", "my", "your", "we", "our", "it", "there", "the", "they", "he", "she", "this",
        "that", "these", "those",
    ];
    let at = |i: usize| ws.get(i).map_or("", |w| w.lower.as_str());
    WH.contains(&at(0)) || (AUX.contains(&at(0)) && SUBJECT.contains(&at(1)))
}

fn split_sentence(sentence: &str) -> Vec<String> {
    let mut pieces = Vec::new();
    let mut start = 0;
    let lower = sentence.to_lowercase();
    // Lowercasing can change byte lengths for some scripts; then the sentence stays whole.
    if lower.len() != sentence.len() {
        return vec![sentence.to_string()];
    }
    let bytes = sentence.as_bytes();
    let mut i = 0;
    while i < sentence.len() {
        if !sentence.is_char_boundary(i) {
            i += 1;
            continue;
        }
        let rest = &sentence[i..];
        let c = rest.chars().next().unwrap_or(' ');
        let boundary_len = if matches!(c, ',' | ':' | '—' | '–' | '(' | ')') {
            Some(c.len_utf8())
        } else if c == ' ' && (rest.starts_with(" - ")) {
            Some(3)
        } else if i > 0 && bytes[i - 1] == b' ' {
            ["and ", "but ", "so ", "plus ", "or "]
                .iter()
                .find(|w| lower[i..].starts_with(**w))
                .map(|w| w.len())
        } else {
            None
        };
        if let Some(len) = boundary_len {
            let after = &lower[i + len..];
            // "and" itself must open a clause: "and I live in Porto".
            let opens = if matches!(c, ',' | ':' | '—' | '–' | '(' | ')' | ' ') {
                opens_clause(after)
            } else {
                let ws = words(after);
                let first = ws.first().map(|w| w.lower.clone()).unwrap_or_default();
                FIRST_PERSON.contains(&first.as_str()) || opens_question(&ws)
            };
            if opens {
                pieces.push(sentence[start..i].to_string());
                start = i + len;
                i += len;
                continue;
            }
        }
        i += c.len_utf8();
    }
    pieces.push(sentence[start..].to_string());
    pieces
        .into_iter()
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Strips discourse markers from both ends of a clause; returns the clause and whether it said
/// "also"/"too"/"as well".
fn strip_markers(clause: &str) -> (String, bool) {
    let (text, leading_additive) = strip_leading(clause);
    let (text, trailing_additive) = strip_trailing(&text);
    let additive = leading_additive
        || trailing_additive
        || words(&text)
            .iter()
            .any(|w| w.lower == "also" || w.lower == "another");
    (text, additive)
}

fn trim_clause(s: &str) -> String {
    s.trim_matches(|c: char| c.is_whitespace() || ",.:;!?-—–()\"'*_`".contains(c))
        .to_string()
}

fn strip_leading(clause: &str) -> (String, bool) {
    let trim = trim_clause;
    let mut text = trim(clause);
    let mut additive = false;
    loop {
        let lower = text.to_lowercase();
        let found = LEADING_MARKERS.iter().filter(|m| {
            lower.starts_with(**m)
                && lower[m.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '\'')
        });
        let Some(m) = found.max_by_key(|m| m.len()) else {
            break;
        };
        if m.contains("also") {
            additive = true;
        }
        if lower.len() != text.len() {
            break;
        }
        text = trim(&text[m.len()..]);
    }
    (text, additive)
}

fn strip_trailing(clause: &str) -> (String, bool) {
    let trim = trim_clause;
    let mut text = trim(clause);
    let mut additive = false;
    loop {
        let lower = text.to_lowercase();
        let found = TRAILING_MARKERS.iter().filter(|m| {
            lower.ends_with(**m)
                && lower[..lower.len() - m.len()]
                    .chars()
                    .next_back()
                    .is_some_and(|c| !c.is_alphanumeric() && c != '\'')
        });
        let Some(m) = found.max_by_key(|m| m.len()) else {
            break;
        };
        if matches!(*m, "too" | "as well") {
            additive = true;
        }
        if lower.len() != text.len() {
            break;
        }
        text = trim(&text[..text.len() - m.len()]);
    }
    (text, additive)
}

/// Rewrites a first-person clause in the second person ("I'm a size 9" → "you're a size 9"),
/// leaving every other word exactly as written.
pub(super) fn second_person(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut prev_was_i = false;
    let mut rest = text;
    while !rest.is_empty() {
        let start = rest
            .find(|c: char| c.is_alphanumeric())
            .unwrap_or(rest.len());
        out.push_str(&rest[..start]);
        rest = &rest[start..];
        if rest.is_empty() {
            break;
        }
        let end = rest
            .char_indices()
            .find(|&(_, c)| !(c.is_alphanumeric() || c == '\'' || c == '’'))
            .map_or(rest.len(), |(i, _)| i);
        let w = &rest[..end];
        let lower = w.to_lowercase().replace('’', "'");
        let swapped = match lower.as_str() {
            "i" => Some("you"),
            "i'm" | "im" => Some("you're"),
            "i've" => Some("you've"),
            "i'd" => Some("you'd"),
            "i'll" => Some("you'll"),
            "my" => Some("your"),
            "me" => Some("you"),
            "mine" => Some("yours"),
            "myself" => Some("yourself"),
            "we" => Some("you"),
            "we're" => Some("you're"),
            "we've" => Some("you've"),
            "we'd" => Some("you'd"),
            "we'll" => Some("you'll"),
            "our" => Some("your"),
            "ours" => Some("yours"),
            "us" => Some("you"),
            "ourselves" => Some("yourselves"),
            "am" if prev_was_i => Some("are"),
            "was" if prev_was_i => Some("were"),
            _ => None,
        };
        prev_was_i = lower == "i";
        out.push_str(swapped.unwrap_or(w));
        rest = &rest[end..];
    }
    out
}

/// First letter upper-case, ends with a full stop (unless it already ends in punctuation).
pub(super) fn as_sentence(text: &str) -> String {
    let mut chars = text.chars();
    let mut s = match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect::<String>(),
        None => String::new(),
    };
    if !s.ends_with(['.', '!', '?']) {
        s.push('.');
    }
    s
}

/// First letter lower-case unless the first word is a name or value ("You're" → "you're").
pub(super) fn lower_first(text: &str) -> String {
    let first = text.split_whitespace().next().unwrap_or("");
    let is_pronoun = ["You", "You're", "Your", "You've", "You'd", "You'll"].contains(&first);
    if !is_pronoun {
        return text.to_string();
    }
    let mut chars = text.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}
