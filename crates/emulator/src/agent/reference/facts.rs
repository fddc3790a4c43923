//! Facts: first-person statements kept in the customer's own words, and the subject each one is
//! about, found by general grammar rules (no domain vocabulary).
//!
//! The subject decides updates: a new fact replaces an old one about the same subject ("my level
//! is B1" replaces "my Portuguese level is A2": same head noun, and the new phrase has no
//! modifier the old one lacks).

use super::grammar::*;
use super::text::{self, Clause, Word, as_sentence, second_person, stem, words};
use regex::Regex;
use std::collections::BTreeSet;
use std::sync::LazyLock;

/// What kind of statement a subject comes from; only subjects of one kind replace each other.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Class {
    /// "my X is Y", "I'm a Y", "X: Y".
    Attribute,
    /// The object of want/prefer/like/need/avoid/…; `negative` for never/don't/avoid/hate.
    Preference { negative: bool },
    /// Any other verb ("I live in …", "I have a dog").
    Verb(String),
}

/// What a fact is about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Subject {
    /// The stem of the head noun (or of the verb or adjective when there is no noun).
    pub head: String,
    /// Stems of possessors ("my dog's name" → dog): a different owner is a different subject.
    pub owner: Vec<String>,
    /// Stems of the other content words of the subject phrase.
    pub mods: BTreeSet<String>,
    /// "my cat is allergic to fish" vs "my cat is called Miso": the first word after the verb
    /// when it is a word, not a value or a phrase; facts with different ones are about different
    /// things.
    pub predicate: String,
    pub class: Class,
}

impl Subject {
    /// Whether a new fact about `self` replaces an old fact about `old`.
    pub fn replaces(&self, old: &Subject) -> bool {
        if self.owner != old.owner || self.predicate != old.predicate {
            return false;
        }
        if self.head != old.head {
            // "I wear a size large" after "I wear a size small": the same phrase with another
            // last word is a new value for it (not for possessions: a black dog and a black cat).
            let same_frame = !self.mods.is_empty() && self.mods == old.mods;
            return same_frame
                && match (&self.class, &old.class) {
                    (Class::Attribute, Class::Attribute) => true,
                    (Class::Verb(a), Class::Verb(b)) => {
                        a == b && !POSSESSION_VERBS.contains(&a.as_str())
                    }
                    _ => false,
                };
        }
        let nested = self.mods.is_subset(&old.mods) || old.mods.is_subset(&self.mods);
        match (&self.class, &old.class) {
            (Class::Attribute, Class::Attribute) => nested,
            // "I prefer window seats" replaces "I always want an aisle seat"; "I never want a
            // middle seat" does not (other polarity, other seat).
            (Class::Preference { negative: a }, Class::Preference { negative: b }) => {
                !self.head.is_empty() && (a == b || self.mods == old.mods)
            }
            (Class::Verb(a), Class::Verb(b)) => a == b && nested,
            _ => false,
        }
    }
}

/// A fact for the notes: one sentence in the second person, and its subject if one was found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fact {
    pub text: String,
    pub subject: Option<Subject>,
    /// Said with "also"/"too": added next to facts about the same subject.
    pub additive: bool,
}

impl Fact {
    /// The stems a question or a forget request is matched against: the words of the fact and
    /// its subject's head.
    pub fn stems(&self) -> BTreeSet<String> {
        let mut s = text::content_stems(&self.text);
        if let Some(sub) = &self.subject
            && !sub.head.is_empty()
        {
            s.insert(sub.head.clone());
        }
        s
    }
}

/// Statements that are conversation, not facts about the customer.
static NOT_A_FACT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?x)^(?:
            i'?m\s+(?:back|here|just\s+\w+ing|looking|wondering|curious|asking|checking|calling
                |writing|sorry|glad|not\s+sure|unsure|fine|good|great|ok|okay|done|ready|confused|lost
                |trying\s+to\s+(?:remember|recall))\b
          | i\s+am\s+(?:back|here|looking|wondering|curious|asking|sorry|not\s+sure)\b
          | i\s+(?:was\s+)?(?:wonder|wondering|think|guess|hope|forgot|forget|mean|see|know|understand
                |agree|believe|suppose|bet)\b
          | i\s+(?:want|need|would\s+like|wanna)\s+(?:you|to\s+know|to\s+ask|help|some\s+help)\b
          | i'?d\s+(?:like|love)\s+(?:you|to\s+know|to\s+ask|some\s+help|help)\b
          | i\s+(?:have|'ve\s+got|got)\s+(?:a|another|one\s+more)\s+question\b
          | i'?ve\s+(?:got\s+)?(?:a|another)\s+question\b
          | i\s+(?:can'?t|cannot|don'?t|do\s+not)\s+(?:remember|recall|know)\b
          | my\s+question\b
        )",
    )
    .expect("static regex")
});

static CALL_ME: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?i)^(?:please\s+)?call\s+me\s+(\S+)$").expect("static regex"));

/// The fact a customer's clause states, if it is a first-person statement.
pub(super) fn from_clause(clause: &Clause) -> Option<Fact> {
    if clause.question || clause.is_forget() || clause.text.chars().count() > text::MAX_FACT_CHARS {
        return None;
    }
    if let Some(c) = CALL_ME.captures(&clause.text) {
        let name = c.get(1).map_or("", |m| m.as_str());
        return Some(name_fact(name, clause.additive));
    }
    if let Some(instruction) = instruction(clause) {
        return Some(instruction);
    }
    if !clause.is_first_person() {
        return None;
    }
    let said = clause.words();
    if said.len() < 2 {
        return None;
    }
    // "We're vegetarian", "our anniversary is …": the household speaks as one customer.
    let ws = singular(&said);
    let lower = ws
        .iter()
        .map(|w| w.lower.as_str())
        .collect::<Vec<_>>()
        .join(" ");
    if NOT_A_FACT.is_match(&lower) {
        return None;
    }
    if let Some(name) = introduced_name(&said) {
        return Some(name_fact(&name, clause.additive));
    }
    Some(Fact {
        text: as_sentence(&second_person(&clause.text)),
        subject: subject_of(&ws),
        additive: clause.additive,
    })
}

/// A standing instruction or a fragment of preference, kept exactly as said: "Please always
/// answer in bullet points", "Never call me before 9am", "Don't call before 9am", "No calls
/// after 8pm", "Only text messages", "Email only, please", "Weekends only". Idioms that open the
/// same way ("no problem", "never mind", "don't worry") are conversation, not preferences.
fn instruction(clause: &Clause) -> Option<Fact> {
    let ws = clause.words();
    let start = usize::from(ws.first().is_some_and(|w| w.lower == "please"));
    let at = |i: usize| ws.get(i).map_or("", |w| w.lower.as_str());
    // The word after the opener must name something ("no calls"), not be grammar ("no, I …")
    // or an idiom ("no problem").
    let names_something = |i: usize| {
        let w = at(i);
        !w.is_empty() && !text::is_stop(w) && !IDIOM_TAILS.contains(&w)
    };
    let standing =
        match at(start) {
            "always" | "never" => ws.len() > start + 1 && !IDIOM_TAILS.contains(&at(start + 1)),
            "from" => at(start + 1) == "now",
            "only" | "no" | "nothing" | "don't" | "dont" => names_something(start + 1),
            "do" => at(start + 1) == "not" && names_something(start + 2),
            _ => false,
        } || (ws.len() >= 2 && at(ws.len() - 1) == "only" && !text::is_stop(at(ws.len() - 2)));
    standing.then(|| Fact {
        text: as_sentence(&clause.text),
        subject: None,
        additive: clause.additive,
    })
}

fn name_fact(name: &str, additive: bool) -> Fact {
    let text = format!("Your name is {name}.");
    let subject = subject_of(&words(&format!("my name is {name}")));
    Fact {
        text,
        subject,
        additive,
    }
}

/// "I'm Ana", "I am Cust0042x (here)": one capitalised or digit-bearing word after "I'm".
fn introduced_name(ws: &[Word]) -> Option<String> {
    let rest: &[Word] = match ws.first().map(|w| w.lower.as_str()) {
        Some("i'm" | "im") => &ws[1..],
        Some("i") if ws.get(1).is_some_and(|w| w.lower == "am") => &ws[2..],
        _ => return None,
    };
    let rest: Vec<&Word> = rest.iter().filter(|w| w.lower != "here").collect();
    let [name] = rest.as_slice() else { return None };
    let starts_upper = name.text.chars().next().is_some_and(char::is_uppercase);
    let has_digit = name.text.chars().any(|c| c.is_ascii_digit());
    let long_enough = name.text.chars().count() >= 3;
    (long_enough && (starts_upper || has_digit) && !name.text.starts_with(['$', '€', '£', '¥']))
        .then(|| name.text.clone())
}

/// The fact a line of a notes file states (written by this agent in the second person, or by
/// anyone else as "Label: value" or free text).
pub(super) fn from_note(line: &str) -> Fact {
    let subject = if let Some((label, value)) = line.split_once(':')
        && !label.trim().is_empty()
        && label.split_whitespace().count() <= 4
        && !value.trim().is_empty()
    {
        let ws = words(&format!("my {label} is {value}"));
        subject_of(&ws)
    } else {
        subject_of(&first_person_words(line))
    };
    Fact {
        text: line.to_string(),
        subject,
        additive: false,
    }
}

/// The words of a second-person note as the customer would have said them.
fn first_person_words(line: &str) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::new();
    for w in words(line) {
        let swapped = match w.lower.as_str() {
            "you" => "i",
            "your" => "my",
            "you're" => "i'm",
            "you've" => "i've",
            "you'd" => "i'd",
            "you'll" => "i'll",
            "yours" => "mine",
            "are" if out.last().is_some_and(|p| p.lower == "i") => "am",
            "were" if out.last().is_some_and(|p| p.lower == "i") => "was",
            _ => {
                out.push(w);
                continue;
            }
        };
        out.push(Word {
            text: w.text.clone(),
            lower: swapped.to_string(),
        });
    }
    out
}

/// First person plural as singular, for finding the subject.
fn singular(ws: &[Word]) -> Vec<Word> {
    let mut out: Vec<Word> = Vec::with_capacity(ws.len());
    for w in ws {
        let swapped = match w.lower.as_str() {
            "we" => "i",
            "we're" => "i'm",
            "we've" => "i've",
            "we'd" => "i'd",
            "we'll" => "i'll",
            "our" => "my",
            "ours" => "mine",
            "us" => "me",
            "are" if out.last().is_some_and(|p| p.lower == "i") => "am",
            "were" if out.last().is_some_and(|p| p.lower == "i") => "was",
            _ => {
                out.push(w.clone());
                continue;
            }
        };
        out.push(Word {
            text: w.text.clone(),
            lower: swapped.to_string(),
        });
    }
    out
}

fn is(list: &[&str], w: &Word) -> bool {
    list.contains(&w.lower.as_str())
}

/// A value, not a word of a subject: digits, currency, or a capitalised word past the first.
fn is_value(ws: &[Word], i: usize) -> bool {
    let w = &ws[i];
    text::is_value(w) || (i > 0 && w.text.chars().next().is_some_and(char::is_uppercase))
}

/// The subject of a first-person statement (lowercase words, as the customer would say it).
fn subject_of(ws: &[Word]) -> Option<Subject> {
    match ws.first().map(|w| w.lower.as_str())? {
        "my" => possessive_subject(ws),
        "i" | "i'm" | "im" | "i've" | "i'd" | "i'll" => pronoun_subject(ws),
        _ => None,
    }
}

/// "my X is Y" / "my X's Y is Z" / "my X <verb> …".
fn possessive_subject(ws: &[Word]) -> Option<Subject> {
    let window = ws.len().min(7);
    let copula = (1..window).find(|&i| is(COPULAS, &ws[i]));
    let mut contracted = false;
    let np_end = match copula {
        Some(c) => c,
        None => {
            // "my budget's $30": a contracted "is"; otherwise the phrase runs to the first
            // grammar word ("my flight leaves at 9").
            match (1..window).find(|&i| ws[i].lower.ends_with("'s")) {
                Some(i) if i + 1 < ws.len() && !is(COPULAS, &ws[i + 1]) => {
                    contracted = true;
                    i + 1
                }
                _ => (1..ws.len())
                    .find(|&i| text::is_stop(&ws[i].lower) || text::is_value(&ws[i]))
                    .unwrap_or(ws.len())
                    .min(4),
            }
        }
    };
    // Proper adjectives ("my Portuguese level") are modifiers here, not values.
    // "my level in Portuguese is B1": the phrase ends at its first grammar word.
    let phrase: Vec<(usize, &Word)> = (1..np_end)
        .map(|i| (i, &ws[i]))
        .skip_while(|(_, w)| is(DETERMINERS, w))
        .take_while(|(_, w)| !text::is_stop(&w.lower) && !is(PREPOSITIONS, w))
        .filter(|(_, w)| !text::is_value(w))
        .collect();
    let (last_index, head) = *phrase.last()?;
    let possessive = |i: usize, w: &Word| {
        (w.lower.ends_with("'s") || w.lower.ends_with('\'')) && !(contracted && i == last_index)
    };
    let owner: Vec<String> = phrase
        .iter()
        .filter(|(i, w)| possessive(*i, w))
        .map(|(_, w)| stem(&w.lower))
        .collect();
    let mut mods: BTreeSet<String> = phrase[..phrase.len() - 1]
        .iter()
        .filter(|(i, w)| !possessive(*i, w))
        .filter(|(_, w)| !text::is_stop(&w.lower))
        .map(|(_, w)| stem(&w.lower))
        .collect();
    let head = stem(head.lower.trim_end_matches("'s"));
    if copula.is_none() && np_end < ws.len() {
        // "my flight leaves at 9" vs "my flight lands at 3": the verb tells them apart.
        if let Some(v) = ws[np_end..].iter().find(|w| !text::is_stop(&w.lower)) {
            mods.insert(stem(&v.lower));
        }
    }
    let predicate = copula
        .and_then(|c| {
            ws[c + 1..]
                .iter()
                .enumerate()
                .find(|(_, w)| !(is(ADVERBS, w) || is(NEGATIONS, w)))
                .map(|(k, w)| (c + 1 + k, w))
        })
        // Only a word with a phrase after it ("allergic to fish", "called Miso") says what kind of
        // fact this is; a last word ("my size is medium") is the value, which an update changes.
        .filter(|&(i, w)| {
            !(i + 1 == ws.len()
                || is_value(ws, i)
                || is(DETERMINERS, w)
                || is(PREPOSITIONS, w)
                || text::is_stop(&w.lower))
        })
        .map(|(_, w)| stem(&w.lower))
        .unwrap_or_default();
    Some(Subject {
        head,
        owner,
        mods,
        predicate,
        class: Class::Attribute,
    })
}

/// "I'm …", "I always want …", "I live in …", "I have …".
fn pronoun_subject(ws: &[Word]) -> Option<Subject> {
    let mut i = 1;
    let mut copula = matches!(ws[0].lower.as_str(), "i'm" | "im");
    let mut negative = false;
    while i < ws.len() {
        let w = &ws[i];
        if is(NEGATIONS, w) {
            negative = true;
        } else if w.lower == "am" {
            copula = true;
        } else if !(is(ADVERBS, w) || is(AUXILIARIES, w)) || possession(ws, i) {
            break;
        }
        i += 1;
    }
    let rest = &ws[i..];
    if rest.is_empty() {
        return None;
    }
    if copula {
        return Some(state_subject(ws, i));
    }
    let verb = &rest[0];
    let negative_verb = is(NEGATIVE_PREFERENCE_VERBS, verb);
    if is(PREFERENCE_VERBS, verb) || negative_verb {
        let mut j = i + 1;
        // "I like to read science fiction": the object of the second verb.
        if ws.get(j).is_some_and(|w| w.lower == "to") && j + 1 < ws.len() {
            j += 2;
        }
        let (head, mods) = object_phrase(ws, j)?;
        return Some(Subject {
            head,
            owner: Vec::new(),
            mods,
            predicate: String::new(),
            class: Class::Preference {
                negative: negative != negative_verb,
            },
        });
    }
    let verb_stem = stem(&verb.lower);
    let (head, mods) = object_phrase(ws, i + 1).unwrap_or_else(|| {
        let mods = ws[i + 1..]
            .iter()
            .enumerate()
            .filter(|(k, w)| !text::is_stop(&w.lower) && !is_value(ws, i + 1 + k))
            .map(|(_, w)| stem(&w.lower))
            .collect();
        (String::new(), mods)
    });
    Some(Subject {
        head,
        owner: Vec::new(),
        mods,
        predicate: String::new(),
        class: Class::Verb(verb_stem),
    })
}

/// "have" as the main verb ("I have a dog"), not an auxiliary ("I have to", "I have been").
fn possession(ws: &[Word], i: usize) -> bool {
    matches!(ws[i].lower.as_str(), "have" | "has" | "had" | "got")
        && ws.get(i + 1).is_some_and(|n| {
            !(matches!(n.lower.as_str(), "to" | "been" | "got" | "gotten")
                || n.lower.ends_with("ed")
                || n.lower.ends_with("en"))
        })
}

/// The noun phrase starting at `start` (determiners skipped): its head stem and modifier stems.
/// It ends at a grammar word, a value, or a participle after its first word ("a dog named Rex").
fn object_phrase(ws: &[Word], start: usize) -> Option<(String, BTreeSet<String>)> {
    let mut i = start;
    while i < ws.len() && is(DETERMINERS, &ws[i]) {
        i += 1;
    }
    let mut phrase: Vec<&Word> = Vec::new();
    while i < ws.len() {
        let w = &ws[i];
        let grammar = is(PREPOSITIONS, w) || is(CONJUNCTIONS, w) || text::is_stop(&w.lower);
        let participle =
            !phrase.is_empty() && (w.lower.ends_with("ed") || w.lower.ends_with("ing"));
        if grammar || participle || is_value(ws, i) {
            break;
        }
        phrase.push(w);
        i += 1;
    }
    let head = phrase.last()?;
    let mods = phrase[..phrase.len() - 1]
        .iter()
        .map(|w| stem(&w.lower))
        .collect();
    Some((stem(&head.lower), mods))
}

/// "I'm a size 9", "I'm allergic to penicillin", "I'm from Porto": the head is the last word of
/// the first phrase (or a leading preposition); later content words are modifiers.
fn state_subject(ws: &[Word], start: usize) -> Subject {
    let mut i = start;
    while i < ws.len() && is(DETERMINERS, &ws[i]) {
        i += 1;
    }
    if let Some(w) = ws.get(i)
        && is(PREPOSITIONS, w)
    {
        return Subject {
            head: w.lower.clone(),
            owner: Vec::new(),
            mods: BTreeSet::new(),
            predicate: String::new(),
            class: Class::Attribute,
        };
    }
    let mut phrase: Vec<usize> = Vec::new();
    let mut j = i;
    while j < ws.len() {
        let w = &ws[j];
        if is(PREPOSITIONS, w) || is(CONJUNCTIONS, w) || text::is_stop(&w.lower) {
            break;
        }
        phrase.push(j);
        j += 1;
    }
    let words_only: Vec<usize> = phrase
        .iter()
        .copied()
        .filter(|&k| !is_value(ws, k))
        .collect();
    let head = words_only
        .last()
        .map(|&k| stem(&ws[k].lower))
        .unwrap_or_default();
    let mut mods: BTreeSet<String> = words_only
        .iter()
        .take(words_only.len().saturating_sub(1))
        .map(|&k| stem(&ws[k].lower))
        .collect();
    for k in j..ws.len() {
        if !text::is_stop(&ws[k].lower) && !is_value(ws, k) && !is(PREPOSITIONS, &ws[k]) {
            mods.insert(stem(&ws[k].lower));
        }
    }
    Subject {
        head,
        owner: Vec::new(),
        mods,
        predicate: String::new(),
        class: Class::Attribute,
    }
}
