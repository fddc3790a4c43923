//! Reading a customer message: clauses, facts to learn, things to forget, questions, requests.

use super::doc::{Fact, Forget, Op};
use super::learn::{learn, parse_amounts, reply_format};
use super::topics;
use super::vocab::{self, Category};
use regex::Regex;
use std::sync::LazyLock;

/// At most this many facts are taken from one message (a pasted novel must not become a notes file).
const MAX_FACTS: usize = 40;
/// At most this many questions are answered per message.
const MAX_QUESTIONS: usize = 8;
/// Longest value kept in a notes line, in characters.
const MAX_VALUE: usize = 80;

/// A question about what the agent knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Question {
    /// "What do you know about me?"
    Everything,
    /// "What did I buy last time?"
    Purchases,
    /// "What did you recommend last time?"
    Recommended,
    /// Anything else about the customer ("what size do I wear?"); resolved against the notes.
    About(String),
}

/// A shopping request ("I need a bag for work").
#[derive(Debug, Clone)]
pub(super) struct Request {
    pub category: Option<&'static Category>,
    /// Content words of the request clauses (for catalog lines when no category is named).
    pub keywords: Vec<String>,
    /// A price ceiling given in the request itself ("a jacket under $150"), not stored.
    pub limit: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub(super) struct Understanding {
    /// Learn and forget operations, in message order.
    pub ops: Vec<Op>,
    pub questions: Vec<Question>,
    pub request: Option<Request>,
    pub greeting: bool,
    pub back: bool,
}

impl Understanding {
    /// Whether the turn needs the customer's other memory files and the catalog (not only the
    /// agent's own notes).
    pub fn needs_context(&self) -> bool {
        self.request.is_some()
            || !self.questions.is_empty()
            || self.ops.iter().any(|o| matches!(o, Op::Forget(_)))
    }
}

#[derive(Debug)]
struct Clause {
    text: String,
    /// The clause closes a sentence that ended with `?`.
    asked: bool,
}

fn normalise(message: &str) -> String {
    message
        .chars()
        .map(|c| match c {
            '\u{2018}' | '\u{2019}' | '\u{02BC}' | '`' => '\'',
            '\u{201C}' | '\u{201D}' => '"',
            '\r' | '\t' => ' ',
            '\u{2026}' => '.',
            c if c.is_control() && c != '\n' => ' ',
            c => c,
        })
        .collect()
}

/// Splits out `( … )` asides, which become sentences of their own after the rest.
fn take_asides(text: &str) -> (String, Vec<String>) {
    let mut main = String::with_capacity(text.len());
    let mut asides = Vec::new();
    let mut depth = 0usize;
    let mut current = String::new();
    for c in text.chars() {
        match c {
            '(' | '[' => {
                depth += 1;
                if depth == 1 {
                    main.push(' ');
                    continue;
                }
                current.push(c);
            }
            ')' | ']' if depth > 0 => {
                depth -= 1;
                if depth == 0 {
                    asides.push(std::mem::take(&mut current));
                } else {
                    current.push(c);
                }
            }
            c if depth > 0 => current.push(c),
            c => main.push(c),
        }
    }
    if !current.trim().is_empty() {
        asides.push(current);
    }
    (main, asides)
}

/// (sentence, ended with `?`)
fn sentences(text: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let chars: Vec<char> = text.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        let end = match c {
            '!' | '?' | ';' | '\n' => true,
            '.' => next.is_none_or(char::is_whitespace),
            _ => false,
        };
        if end {
            let mut asked = c == '?';
            // Swallow runs like "?!" or "...".
            while let Some(&n) = chars.get(i + 1) {
                if matches!(n, '!' | '?' | '.' | ';') {
                    asked |= n == '?';
                    i += 1;
                } else {
                    break;
                }
            }
            out.push((std::mem::take(&mut current), asked));
        } else {
            current.push(c);
        }
        i += 1;
    }
    out.push((current, false));
    out.retain(|(s, _)| !s.trim().is_empty());
    out
}

re!(
    SEPARATOR,
    r"(?i)\s*,\s*|\s*:\s+|\s+(?:and|but|so|plus|though|although|because)\s+|\s+[-\x{2013}\x{2014}]+\s+"
);
re!(
    pub(super) CLAUSE_START,
    r"(?i)^(?:(?:and|but|also|plus|so|oh|well|then|actually|anyway|btw)\s+)*(?:i|i'm|im|i've|i'd|i'll|i am|my|me|mine|no|not|please|we|we're|our|what|what's|whats|which|where|where's|when|when's|who|who's|how|how's|why|do|does|did|can|could|would|will|should|is|are|any|have|has|forget|delete|remove|erase|tell|remind|remember|suggest|recommend|show|find|help|thanks|thank|only|just|keep|call|hi|hello|hey)\b"
);

fn clauses(message: &str) -> Vec<Clause> {
    let text = normalise(message);
    let (main, asides) = take_asides(&text);
    let mut sents = sentences(&main);
    for a in asides {
        sents.extend(sentences(&a));
    }
    let mut out = Vec::new();
    for (sentence, asked) in sents {
        let mut parts: Vec<String> = Vec::new();
        let mut last = 0;
        for m in SEPARATOR.find_iter(&sentence) {
            parts.push(sentence[last..m.start()].to_string());
            // Kept with the following piece until we know whether that starts a clause.
            parts.push(format!("\u{0}{}", m.as_str()));
            last = m.end();
        }
        parts.push(sentence[last..].to_string());
        // Merge: a separator followed by a piece that does not start a clause joins the previous one.
        let mut merged: Vec<String> = Vec::new();
        let mut i = 0;
        while i < parts.len() {
            let p = &parts[i];
            if let Some(sep) = p.strip_prefix('\u{0}') {
                let following = parts.get(i + 1).filter(|n| !n.starts_with('\u{0}'));
                match following {
                    Some(next) if CLAUSE_START.is_match(next.trim_start()) => {
                        merged.push(next.clone());
                        i += 2;
                    }
                    Some(next) => {
                        match merged.last_mut() {
                            Some(prev) => {
                                prev.push_str(sep);
                                prev.push_str(next);
                            }
                            None => merged.push(next.clone()),
                        }
                        i += 2;
                    }
                    None => i += 1,
                }
            } else {
                merged.push(p.clone());
                i += 1;
            }
        }
        let n = merged.len();
        for (k, t) in merged.into_iter().enumerate() {
            let t = t.trim().to_string();
            if !t.is_empty() {
                out.push(Clause {
                    text: t,
                    asked: asked && k + 1 == n,
                });
            }
        }
    }
    out
}

re!(
    LEAD_FILLER,
    r"(?i)^(?:(?:and|but|also|plus|so|oh|well|then|actually|anyway|btw|by the way|ok|okay|um|uh|yes|yeah|yep|alright|right|sure|great|cool|perfect)\b[\s,!]*)+"
);
re!(
    LEAD_NOTE,
    r"(?i)^(?:please (?:remember|note)|remember|note|just so you know|for the record|for your info(?:rmation)?|fyi|a few things about me|some things about me|about me)(?: that)?\b[\s,:]*"
);
re!(
    GREETING,
    r"(?i)^(?:hi|hello|hey|hiya|howdy|greetings|good (?:morning|afternoon|evening))(?: there| again| all)?\b[\s,!]*"
);
re!(
    TRAIL_FILLER,
    r"(?i)[\s,]+(?:please|thanks|thank you|thx|though|ok|okay)$"
);
re!(ADD_WORDS, r"(?i)\b(?:also|too|as well)\b");
re!(
    BACK,
    r"(?i)\b(?:i'm|im|i am) back\b|\bback again\b|\breturning customer\b"
);

/// Cleans a clause for matching; returns (text, add, greeting).
fn clean(clause: &str) -> (String, bool, bool) {
    let mut t = clause
        .trim()
        .trim_matches(|c: char| c == '"' || c == '\'')
        .trim()
        .to_string();
    let mut greeting = false;
    if let Some(m) = GREETING.find(&t) {
        greeting = true;
        t = t[m.end()..].to_string();
    }
    let add = ADD_WORDS.is_match(&t);
    loop {
        let before = t.len();
        if let Some(m) = LEAD_FILLER.find(&t) {
            t = t[m.end()..].to_string();
        }
        if let Some(m) = LEAD_NOTE.find(&t) {
            t = t[m.end()..].to_string();
        }
        if let Some(m) = TRAIL_FILLER.find(&t) {
            t = t[..m.start()].to_string();
        }
        t = t
            .trim_matches(|c: char| c.is_whitespace() || ",.:;!-\"".contains(c))
            .to_string();
        if t.len() == before {
            break;
        }
    }
    (t, add, greeting)
}

re!(
    TRAIL_VALUE,
    r"(?i)[\s,]+(?:now|these days|nowadays|currently|please|thanks|thank you|too|as well|anymore|any more|though|lol|haha)$"
);

/// Trims and shortens a value taken from the customer's words.
pub(super) fn clean_value(v: &str) -> String {
    let mut t = v.split_whitespace().collect::<Vec<_>>().join(" ");
    loop {
        let before = t.len();
        t = t
            .trim_matches(|c: char| c.is_whitespace() || ",.:;!\"".contains(c))
            .to_string();
        if let Some(m) = TRAIL_VALUE.find(&t) {
            t = t[..m.start()].to_string();
        }
        if t.len() == before {
            break;
        }
    }
    if t.chars().count() > MAX_VALUE {
        t = t
            .chars()
            .take(MAX_VALUE)
            .collect::<String>()
            .trim_end()
            .to_string();
    }
    t
}

pub(super) fn fact(topic: &str, text: String, add: bool) -> Fact {
    Fact {
        topic: topic.to_string(),
        text,
        add,
    }
}

pub(super) fn labelled(topic: &str, label: &str, value: &str, add: bool) -> Option<Fact> {
    let v = clean_value(value);
    if v.is_empty() {
        return None;
    }
    Some(fact(topic, format!("{label}: {v}"), add))
}

// ---------------------------------------------------------------- forget

re!(
    FORGET,
    r"(?i)^(?:(?:please|kindly|can you|could you|would you|will you|i want you to|i need you to|i'd like you to|i would like you to|go ahead and|just)\s+)*(?:forget|delete|remove|erase|clear|wipe|drop|scrub|purge)\b\s*(.*)$"
);
re!(
    FORGET_MEMORY_REF,
    r"(?i)\b(?:my|me|about|everything|all|what i|that i|i said|i told|i mentioned|you know|notes?|myself)\b"
);
re!(
    FORGET_TRAIL,
    r"(?i)[\s,]*(?:please|too|as well|now|thanks|thank you|for me|from (?:your|my|the) (?:notes|memory|records|files?|system))$"
);
re!(
    FORGET_ALL,
    r"(?i)^(?:(?:everything|all|anything)(?: (?:you know|you have|you've got|you remember|you noted|you've noted|i (?:said|told you|mentioned)|that i (?:said|told you)))?(?: (?:about|on|of|regarding) (?:me|myself))?|me|about me|all about me|who i am|(?:all )?(?:of )?(?:my|the) (?:data|info|information|details|preferences|notes|profile|memory|memories|personal (?:data|info|information|details))|everything you know|everything)$"
);
re!(
    FORGET_PREFIX_ALL,
    r"(?i)^(?:everything|all|anything)(?: (?:you know|you have|i said|i told you|i mentioned))? (?:about|on|of|regarding)\s+"
);
re!(
    FORGET_PREFIX,
    r"(?i)^(?:what i (?:said|told you|mentioned)(?: (?:about|regarding))?|what you know about|the (?:thing|part|bit) (?:about|where)|the fact that|about|that|the note about|my note about|your note about|notes? (?:about|on))\s+"
);
re!(FORGET_SPLIT, r"(?i)\s*(?:,|&|\band\b)\s*");

fn forget(clause: &str) -> Option<Vec<Op>> {
    let caps = FORGET.captures(clause)?;
    let mut target = caps.get(1).map_or("", |m| m.as_str()).trim().to_string();
    if target.is_empty() || !FORGET_MEMORY_REF.is_match(&target) {
        return None;
    }
    loop {
        let before = target.len();
        if let Some(m) = FORGET_TRAIL.find(&target) {
            target = target[..m.start()].to_string();
        }
        target = target
            .trim_matches(|c: char| c.is_whitespace() || ",.!".contains(c))
            .to_string();
        if target.len() == before {
            break;
        }
    }
    if FORGET_ALL.is_match(&target) {
        return Some(vec![Op::Forget(Forget::All)]);
    }
    if let Some(m) = FORGET_PREFIX_ALL.find(&target) {
        target = target[m.end()..].to_string();
    }
    if let Some(m) = FORGET_PREFIX.find(&target) {
        target = target[m.end()..].to_string();
    }
    let mut ops = Vec::new();
    for part in FORGET_SPLIT.split(&target) {
        let part = strip_determiner(part.trim());
        if part.is_empty() {
            continue;
        }
        let lower = part.to_lowercase();
        let canon = topics::canonical(&lower).map(|t| t.heading.to_lowercase());
        let statement = FIRST_PERSON_START.is_match(&lower);
        let keys: Vec<String> = match canon {
            _ if statement => Vec::new(),
            Some(k) if k == "address" => vec![k, "location".into()],
            Some(k) => vec![k],
            None => {
                let resolved = resolve_keys(&lower);
                if resolved.is_empty() {
                    vec![topics::norm_heading(&lower)]
                } else {
                    resolved.iter().map(|s| (*s).to_string()).collect()
                }
            }
        };
        let topical = keys.first().and_then(|k| topics::canonical(k)).is_some();
        let words = vocab::content_words(&lower);
        let label = if topical {
            format!("your {}", clean_value(&lower))
        } else if words.is_empty() {
            clean_value(&lower)
        } else {
            words.join(" ")
        };
        ops.push(Op::Forget(Forget::Target {
            keys,
            words,
            label,
            topical,
        }));
    }
    if ops.is_empty() { None } else { Some(ops) }
}

fn strip_determiner(s: &str) -> &str {
    for p in ["my ", "My ", "MY ", "the ", "The ", "our ", "your "] {
        if let Some(r) = s.strip_prefix(p) {
            return r.trim();
        }
    }
    s
}

// ---------------------------------------------------------------- topic keywords

/// (pattern, topic keys in preference order)
static KEYWORDS: LazyLock<Vec<(Regex, &'static [&'static str])>> = LazyLock::new(|| {
    let table: &[(&str, &'static [&'static str])] = &[
        (r"\bshoe", &["shoe size"]),
        (
            r"\b(?:dogs?|cats?|pets?|pupp(?:y|ies)|kittens?|parrots?|rabbits?|hamsters?|horses?)\b",
            &["pets"],
        ),
        (r"\ballerg", &["allergies"]),
        (r"\bsiz(?:e|es|ing)\b", &["size"]),
        (
            r"\bbudget|\bspend|\bafford|\bprice range\b|\bhow much\b",
            &["budget"],
        ),
        (
            r"\bmaterials?\b|\bfabrics?\b|\bleather\b|\bwool\b",
            &["materials"],
        ),
        (r"\bcolou?rs?\b|\btones?\b", &["colors"]),
        (r"\bbrands?\b|\blabels?\b|\bdesigners?\b", &["brands"]),
        (r"\bstyles?\b|\baesthetic\b|\bfit\b", &["style"]),
        (
            r"\bbirthday|\bborn\b|\bdate of birth\b|\bbday\b",
            &["birthday"],
        ),
        (r"\baddress\b", &["address", "location"]),
        (
            r"\blive\b|\bliving\b|\blocation\b|\bbased\b|\bcity\b|\bhome ?town\b|\bwhere (?:am i|i'm|i am) from\b|\bmoved\b",
            &["location", "address"],
        ),
        (
            r"\bdiet\b|\beat\b|\bvegetarian\b|\bvegan\b|\bfood\b",
            &["diet"],
        ),
        (
            r"\bjob\b|\bwork\b|\boccupation\b|\bprofession\b|\bfor a living\b|\bcareer\b",
            &["work"],
        ),
        (r"\bage\b|\bhow old\b", &["age"]),
        (r"\bname\b|\bwho am i\b|\bcall me\b|\bcalled\b", &["name"]),
        (
            r"\bformat\b|\bbullet|\bnumbered\b|\bshort answers?\b",
            &["reply format"],
        ),
        (
            r"\bdislike|\bhate\b|\bdon't like\b|\bdo not like\b|\bavoid\b",
            &["dislikes", "materials"],
        ),
        (r"\bprefer", &["preferences", "likes"]),
        (
            r"\blike\b|\blove\b|\benjoy\b|\binterests?\b|\bhobb(?:y|ies)\b|\binto\b",
            &["likes", "preferences"],
        ),
    ];
    table
        .iter()
        .map(|(p, keys)| {
            (
                Regex::new(&format!("(?i){p}")).expect("static regex"),
                *keys,
            )
        })
        .collect()
});

/// The topic keys a question or forget target is about, by keyword (first matching rule).
pub(super) fn resolve_keys(lower: &str) -> &'static [&'static str] {
    KEYWORDS
        .iter()
        .find(|(re, _)| re.is_match(lower))
        .map_or(&[], |(_, keys)| *keys)
}

re!(
    MY_PHRASE,
    r"(?i)\bmy ((?:\p{L}+(?:'s)?\s+){0,3}?\p{L}+(?:'s)?)(?:\s+(?:is|are|was|again|do|did|right|now|that|you)\b|\s*[?.!,]|\s*$)"
);

/// "what's my favorite sport?" → "favorite sport".
pub(super) fn my_phrase(clause: &str) -> Option<String> {
    MY_PHRASE
        .captures(clause)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_lowercase())
}

// ---------------------------------------------------------------- questions and requests

re!(
    pub(super) QUESTION_START,
    r"(?i)^(?:what|what's|whats|which|where|where's|when|when's|who|who's|whom|whose|why|how|how's|do|does|did|can|could|would|will|should|shall|is|are|am|was|were|have you|has|any|remind me|tell me)\b"
);
re!(
    pub(super) FIRST_PERSON_START,
    r"(?i)^(?:i|i'm|im|i've|i'd|i'll|my|we|we're|our)\b"
);
re!(MY_WORD, r"(?i)\bmy\b");
re!(
    MEMORY_REF,
    r"(?i)\b(?:my|i|me|i'm|im|mine|myself|i've|i'd)\b"
);
re!(
    TELL_ME,
    r"(?i)^(?:tell me|remind me|i (?:was )?wonder(?:ing)?|i forgot|i (?:can't|cannot|don't) remember)\b|^(?:i'?m not sure|i am not sure|i don't know|i do not know|i can't recall|i cannot recall|i forget)\b.*\bmy\b"
);
re!(
    EVERYTHING,
    r"(?i)(?:\bwhat (?:else )?(?:do|did) you (?:know|remember|recall|have(?: on file| noted)?)(?: about me| of me| on me)?$|\bwhat have i told you$|\bwhat(?:'s| is) in (?:my|your) (?:notes|memory|file)\b|\bdo you (?:know|remember) (?:me|anything about me|who i am)$|\btell me (?:what you know|everything you know|about myself)\b|\bwhat do you have on (?:me|file)$|\bwhat have you (?:got|noted) (?:on|about) me$)"
);
re!(
    PURCHASES,
    r"(?i)\b(?:did|have) i (?:buy|bought|order|ordered|purchase|purchased|get|got)\b|\bi (?:bought|ordered|purchased)\b|\b(?:my|past|previous|recent|last|earlier) (?:purchases?|orders?)\b|\b(?:purchase|order|buying) history\b"
);
re!(
    RECOMMENDED,
    r"(?i)\b(?:did|have) you (?:recommend|suggest)\w*|\byou (?:recommended|suggested)\b|\b(?:your|the) (?:last|previous|earlier|past) (?:recommendations?|suggestions?|picks)\b"
);
re!(
    REQUEST,
    r"(?i)\b(?:suggest\w*|recommend\w*|looking for|look for|shopping for|searching for|in the market for|i need|i'll need|need (?:a|an|some|new|to (?:buy|get|find))|i want (?:a|an|some|new|to (?:buy|get|find))|want (?:a|an|some)|i'd like (?:a|an|some|to (?:buy|get|find|see))|i would like (?:a|an|some|to (?:buy|get|find|see))|find me|help me (?:find|choose|pick|shop|decide)|any ideas|ideas for|options for|show me|what should i (?:buy|get|wear|choose)|do you (?:have|sell|carry|stock)|have you got|gift for|something for)\b"
);
re!(
    REQUEST_LIMIT,
    r"(?i)\b(?:under|below|less than|no more than|up to|max(?:imum)?|at most|within)\s+([$€£]\s?\d[\d,]*(?:\.\d{1,2})?|\d[\d,]*(?:\.\d{1,2})?\s?(?:dollars?|bucks|usd|euros?|eur|pounds?|gbp))"
);

fn is_question(c: &Clause) -> bool {
    QUESTION_START.is_match(&c.text)
        || (c.asked && (!FIRST_PERSON_START.is_match(&c.text) || learn(&c.text, false).is_empty()))
}

/// Reads a message. Deterministic; never panics on any input.
pub(super) fn understand(message: &str) -> Understanding {
    let mut u = Understanding {
        back: BACK.is_match(message),
        ..Understanding::default()
    };
    let mut facts = 0usize;
    let mut request_clauses: Vec<String> = Vec::new();
    for raw in clauses(message) {
        let (text, add, greeting) = clean(&raw.text);
        u.greeting |= greeting;
        if text.is_empty() {
            continue;
        }
        let c = Clause {
            text,
            asked: raw.asked,
        };
        if let Some(ops) = forget(&c.text) {
            u.ops.extend(ops);
            continue;
        }
        if let Some(f) = reply_format(&c.text) {
            if facts < MAX_FACTS {
                facts += 1;
                u.ops.push(Op::Learn(f));
            }
            continue;
        }
        if is_question(&c) || TELL_ME.is_match(&c.text) {
            if u.questions.len() >= MAX_QUESTIONS {
                continue;
            }
            if EVERYTHING.is_match(&c.text) {
                u.questions.push(Question::Everything);
            } else if PURCHASES.is_match(&c.text) {
                u.questions.push(Question::Purchases);
            } else if RECOMMENDED.is_match(&c.text) {
                u.questions.push(Question::Recommended);
            } else if REQUEST.is_match(&c.text)
                || (vocab::category_in(&c.text.to_lowercase()).is_some()
                    && !MY_WORD.is_match(&c.text))
            {
                request_clauses.push(c.text.clone());
            } else if MEMORY_REF.is_match(&c.text) {
                u.questions.push(Question::About(c.text.clone()));
            }
            continue;
        }
        let learned = learn(&c.text, add);
        if !learned.is_empty() {
            for f in learned {
                if facts < MAX_FACTS {
                    facts += 1;
                    u.ops.push(Op::Learn(f));
                }
            }
            continue;
        }
        if REQUEST.is_match(&c.text) {
            request_clauses.push(c.text.clone());
        }
    }
    if !request_clauses.is_empty() {
        let joined = request_clauses.join(" ").to_lowercase();
        let category = request_clauses
            .iter()
            .find_map(|r| vocab::category_in(&r.to_lowercase()))
            .or_else(|| vocab::category_in(&normalise(message).to_lowercase()));
        let limit = request_clauses.iter().find_map(|r| {
            REQUEST_LIMIT
                .captures(r)
                .and_then(|c| c.get(1))
                .and_then(|m| parse_amounts(m.as_str()).first().map(|a| a.value))
        });
        u.request = Some(Request {
            category,
            keywords: vocab::content_words(&joined),
            limit,
        });
    }
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(msg: &str) -> Vec<String> {
        understand(msg)
            .ops
            .into_iter()
            .filter_map(|o| match o {
                Op::Learn(f) => Some(format!("{} | {}", f.topic, f.text)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn seed_first_visit_message() {
        let got = facts(
            "Hi! I'm looking for a new jacket. A few things about me: I wear a size medium, I only buy vegan leather (no animal leather please), my budget is usually under $200, and I love earth tones. What would you suggest?",
        );
        assert_eq!(
            got,
            vec![
                "Size | Size: medium",
                "Materials | Vegan leather only",
                "Budget | Budget: under $200",
                "Colors | Colors: earth tones",
                "Materials | No animal leather",
            ]
        );
        let u = understand("Hi! I'm looking for a new jacket. What would you suggest?");
        assert!(u.greeting);
        assert_eq!(
            u.request.and_then(|r| r.category).map(|c| c.label),
            Some("jacket")
        );
    }

    #[test]
    fn phrasings() {
        let cases: &[(&str, &str)] = &[
            ("I'm a large now", "Size | Size: large"),
            ("my size is 10", "Size | Size: 10"),
            ("I wear an XL", "Size | Size: extra large"),
            ("I can spend up to $150", "Budget | Budget: up to $150"),
            (
                "My budget is between $100 and $250",
                "Budget | Budget: $100–$250",
            ),
            (
                "my budget is around 80 euros",
                "Budget | Budget: around €80",
            ),
            ("I avoid wool", "Materials | No wool"),
            ("no animal leather please", "Materials | No animal leather"),
            ("my favorite color is navy", "Colors | Colors: navy"),
            (
                "my favourite brand is Patagonia",
                "Brands | Favorite brand: Patagonia",
            ),
            ("My name is Ana", "Name | Name: Ana"),
            ("I'm Ana", "Name | Name: Ana"),
            ("I live in Lisbon", "Location | Location: Lisbon"),
            ("I'm vegetarian", "Diet | Diet: vegetarian"),
            ("I'm allergic to peanuts", "Allergies | Allergic to peanuts"),
            ("my shoe size is 9", "Shoe size | Shoe size: 9"),
            ("my birthday is March 3", "Birthday | Birthday: March 3"),
            ("I prefer aisle seats", "Preferences | Prefers aisle seats"),
            ("I like hiking", "Likes | Likes hiking"),
            ("I don't like crowds", "Dislikes | Dislikes crowds"),
            ("I have a dog named Rex", "Pets | Dog named Rex"),
            (
                "my favorite sport is tennis",
                "Favorite sport | Favorite sport: tennis",
            ),
            ("I prefer a minimalist style", "Style | Style: minimalist"),
            ("I work as a nurse", "Work | Works as a nurse"),
            (
                "please always answer in bullet points",
                "Reply format | Reply format: bullet points",
            ),
        ];
        for (msg, want) in cases {
            assert_eq!(facts(msg), vec![(*want).to_string()], "{msg}");
        }
    }

    #[test]
    fn conjoined_predicates_share_the_subject() {
        assert_eq!(
            facts("I'm vegetarian and allergic to peanuts and shellfish"),
            vec![
                "Diet | Diet: vegetarian",
                "Allergies | Allergic to peanuts",
                "Allergies | Allergic to shellfish",
            ]
        );
        assert_eq!(
            facts("I love navy and hate pink"),
            vec!["Colors | Colors: navy", "Dislikes | Dislikes pink"]
        );
        let long = format!("I like {}", "a and ".repeat(20_000));
        assert!(facts(&long).len() <= 8);
    }

    #[test]
    fn not_facts() {
        for msg in [
            "I'm back",
            "I'm looking for a jacket",
            "What size do I wear?",
            "I need a bag for work",
            "I'm fine",
            "I like it",
            "Do you like my style?",
            "I'm 30",
            "my order is late",
            "",
            "???",
            "I'd like a bag",
            "give me a list of jackets",
        ] {
            assert!(facts(msg).is_empty(), "{msg}: {:?}", facts(msg));
        }
    }

    #[test]
    fn forgets() {
        let u = understand("Please forget my budget.");
        assert!(
            matches!(&u.ops[..], [Op::Forget(Forget::Target { keys, .. })] if keys == &["budget".to_string()])
        );
        let u = understand("forget everything about me");
        assert_eq!(u.ops, vec![Op::Forget(Forget::All)]);
        let u = understand("delete my address");
        assert!(matches!(&u.ops[..], [Op::Forget(Forget::Target { keys, .. })] if keys.len() == 2));
        let u = understand("forget what I said about my size");
        assert!(
            matches!(&u.ops[..], [Op::Forget(Forget::Target { keys, .. })] if keys == &["size".to_string()])
        );
        assert!(understand("don't forget my size!").ops.is_empty());
        assert!(understand("remove the hood").ops.is_empty());
        let u = understand("forget that I like hiking");
        assert!(
            matches!(&u.ops[..], [Op::Forget(Forget::Target { keys, words, .. })] if keys.is_empty() && words == &["hiking".to_string()])
        );
    }

    #[test]
    fn questions() {
        let u = understand("What size do I wear?");
        assert_eq!(
            u.questions,
            vec![Question::About("What size do I wear".into())]
        );
        assert_eq!(
            understand("what do you know about me?").questions,
            vec![Question::Everything]
        );
        assert_eq!(
            understand("What did I buy last time?").questions,
            vec![Question::Purchases]
        );
        assert_eq!(
            understand("what did you recommend last time?").questions,
            vec![Question::Recommended]
        );
        assert!(understand("What would you suggest?").request.is_some());
        assert_eq!(
            understand("What's my size? And my budget?").questions,
            vec![
                Question::About("What's my size".into()),
                Question::About("my budget".into())
            ]
        );
        assert_eq!(
            understand("I'm not sure what my budget is").questions,
            vec![Question::About("I'm not sure what my budget is".into())]
        );
        assert!(understand("I'm a medium?").questions.is_empty());
        assert_eq!(
            my_phrase("what's my dog's name?").as_deref(),
            Some("dog's name")
        );
    }
}
