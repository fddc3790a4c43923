//! Rules that turn one first-person clause into facts for the notes.

use super::doc::Fact;
use super::topics::{self, sentence_case};
use super::understand::{
    CLAUSE_START, FIRST_PERSON_START, QUESTION_START, clean_value, fact, labelled,
};
use super::vocab;
use regex::Regex;
use std::sync::LazyLock;

re!(
    FORMAT_BULLETS,
    r"(?i)\b(?:answer|reply|respond|write|format)\b.*\b(bullet(?:ed)? (?:points?|lists?)|bullets|numbered lists?)\b|\buse (bullet points|bullets|a bulleted list|bulleted lists|a numbered list|numbered lists)\b|\b(?:in|as) (bullet points|bullets|a bulleted list|a numbered list)\b"
);
re!(
    FORMAT_SHORT,
    r"(?i)\b(?:keep|make) (?:it|them|your (?:answers|replies|responses|messages)|things|replies|answers) (short|brief|concise)\b|\bi (?:prefer|like|want) (short|brief|concise) (?:answers|replies|responses|messages)\b|\b(?:short|brief|concise) (?:answers|replies|responses) (?:please|only)\b"
);

pub(super) fn reply_format(clause: &str) -> Option<Fact> {
    if let Some(c) = FORMAT_BULLETS.captures(clause) {
        let what = (1..=3)
            .find_map(|i| c.get(i))
            .map_or("", |m| m.as_str())
            .to_lowercase();
        let value = if what.contains("number") {
            "numbered list"
        } else {
            "bullet points"
        };
        return Some(fact(
            topics::REPLY_FORMAT,
            format!("Reply format: {value}"),
            false,
        ));
    }
    if FORMAT_SHORT.is_match(clause) {
        return Some(fact(
            topics::REPLY_FORMAT,
            "Reply format: short answers".into(),
            false,
        ));
    }
    None
}

re!(AND, r"(?i)\s+and\s+");
re!(SUBJECT, r"(?i)^(i'm|i am|im|i)\s");
re!(
    AND_VERB,
    r"(?i)\S\s+(and\s+(?:also\s+)?)(?:love|like|hate|dislike|prefer|enjoy|adore|don't|do not|can't|cannot|avoid|wear|only|never|live|work|have)\b"
);
re!(AND_TAIL, r"(?i)\s+and\s+(?:also\s+)?$");

/// Facts stated in one clause. "I'm vegetarian and allergic to peanuts": when the whole clause
/// matches no rule, a fact-bearing first half is split off and the rest, sharing its subject, is
/// tried again (a few times at most).
pub(super) fn learn(clause: &str, add: bool) -> Vec<Fact> {
    let mut out = Vec::new();
    let mut rest = clause.to_string();
    for _ in 0..8 {
        // "I love navy and hate pink": a second verb starts a second statement.
        if let Some(m) = AND_VERB.captures(&rest).and_then(|c| c.get(1)) {
            let (left, right) = (
                rest[..m.start()].trim_end().to_string(),
                rest[m.end()..].to_string(),
            );
            let left = AND_TAIL.replace(&left, "").to_string();
            out.extend(learn_one(&left, add));
            rest = match SUBJECT.captures(&left).and_then(|c| c.get(1)) {
                Some(subject) if !CLAUSE_START.is_match(&right) => {
                    format!("{} {right}", subject.as_str())
                }
                _ => right,
            };
            continue;
        }
        let whole = learn_one(&rest, add);
        if !whole.is_empty() {
            out.extend(whole);
            break;
        }
        let Some(m) = AND.find(&rest) else { break };
        let (left, right) = (&rest[..m.start()], &rest[m.end()..]);
        let first = learn_one(left, add);
        if first.is_empty() {
            break;
        }
        out.extend(first);
        rest = match SUBJECT.captures(left).and_then(|c| c.get(1)) {
            Some(subject) if !CLAUSE_START.is_match(right) => {
                format!("{} {right}", subject.as_str())
            }
            _ => right.to_string(),
        };
    }
    out
}

/// Facts stated in one clause (first matching rule wins).
fn learn_one(clause: &str, add: bool) -> Vec<Fact> {
    type Rule = fn(&str, bool) -> Option<Vec<Fact>>;
    let rules: &[Rule] = &[
        name,
        shoe_size,
        size,
        budget,
        allergies,
        diet,
        location,
        birthday,
        age,
        materials_only,
        materials_avoid,
        materials_no,
        colors,
        style,
        brands,
        pets,
        work,
        catch_all,
        generic,
    ];
    rules
        .iter()
        .find_map(|r| r(clause, add))
        .unwrap_or_default()
}

fn one(f: Option<Fact>) -> Option<Vec<Fact>> {
    f.map(|f| vec![f])
}

re!(
    NAME_IS,
    r"(?i)^(?:my name is|my name's|call me|you can call me|i go by|the name's|name's)\s+(\p{L}[\p{L}'-]*(?:\s+\p{L}[\p{L}'-]*){0,2})$"
);
re!(
    NAME_IM,
    r"^(?i:i'm|im|i am|this is)\s+(\p{Lu}\p{Ll}+(?:[-\s]\p{Lu}\p{Ll}+)?)$"
);
const NOT_NAMES: &[&str] = &[
    "back",
    "here",
    "fine",
    "good",
    "great",
    "ok",
    "okay",
    "well",
    "sorry",
    "new",
    "not",
    "just",
    "looking",
    "vegan",
    "vegetarian",
    "allergic",
    "based",
    "from",
    "so",
    "very",
    "really",
    "also",
    "still",
    "now",
    "ready",
    "interested",
    "happy",
    "glad",
    "curious",
    "wondering",
    "sure",
    "tired",
    "busy",
    "done",
    "home",
    "medium",
    "large",
    "small",
    "tall",
    "short",
    "petite",
    "single",
    "married",
    "hungry",
    "excited",
    "trying",
    "shopping",
    "going",
    "afraid",
    "thinking",
    "hoping",
    "planning",
    "moving",
    "retired",
    "pregnant",
    "broke",
    "confused",
    "lost",
    "late",
    "early",
    "cold",
    "hot",
    "vegan",
    "gluten",
    "keto",
    "paleo",
    "halal",
    "kosher",
    "pescatarian",
    "always",
    "never",
    "usually",
    "currently",
    "actually",
    "only",
    "extra",
    "size",
];

fn name(clause: &str, _: bool) -> Option<Vec<Fact>> {
    if let Some(c) = NAME_IS.captures(clause) {
        let v = c.get(1)?.as_str();
        if NOT_NAMES.contains(&v.to_lowercase().as_str()) {
            return None;
        }
        return one(labelled(topics::NAME, "Name", v, false));
    }
    let c = NAME_IM.captures(clause)?;
    let v = c.get(1)?.as_str();
    let first = v
        .split([' ', '-'])
        .next()
        .unwrap_or_default()
        .to_lowercase();
    if NOT_NAMES.contains(&first.as_str()) {
        return None;
    }
    one(labelled(topics::NAME, "Name", v, false))
}

const SIZE_V: &str = r"(extra[- ]small|extra[- ]large|x-small|x-large|xxs|xxxl|xxl|xs|xl|small|medium|large|petite|plus size|one size|[sml]|\d{1,2}(?:\.5)?)";
const SIZE_WORD: &str =
    r"(extra[- ]small|extra[- ]large|x-small|x-large|xxs|xxxl|xxl|xs|xl|small|medium|large|petite)";
const SIZE_TAIL: &str = r"(?:\s+(?:now|these days|nowadays|usually|too|as well|in (?:most|all|tops|shirts|jackets|coats|dresses|clothes|clothing|everything|most brands|most things|most stores|general)(?: \w+)?))*$";
const ADVS: &str =
    r"(?:(?:usually|normally|typically|generally|always|now|currently|actually|mostly|still)\s+)*";

static SIZE_RULES: LazyLock<Vec<Regex>> = LazyLock::new(|| {
    [
        format!(
            r"(?i)^(?:my )?(?:clothing |clothes |dress |shirt |jacket |top )?size(?: is|'s|=|:)?\s*(?:now |usually |still |actually )?(?:a |an )?(?:size )?{SIZE_V}{SIZE_TAIL}"
        ),
        format!(r"(?i)^my size (?:has )?changed to (?:a |an )?(?:size )?{SIZE_V}{SIZE_TAIL}"),
        format!(r"(?i)^i {ADVS}(?:wear|take|fit(?: into)?|buy|get) (?:a |an )?(?:size )?{SIZE_V}{SIZE_TAIL}"),
        format!(r"(?i)^i(?:'m| am|m) {ADVS}(?:a |an )?size {SIZE_V}{SIZE_TAIL}"),
        format!(r"(?i)^i(?:'m| am|m) {ADVS}(?:a |an )?{SIZE_WORD}{SIZE_TAIL}"),
        format!(
            r"(?i)^i(?:'ve| have)? (?:gone|moved|sized|changed|went) (?:up |down )?to (?:a |an )?(?:size )?{SIZE_V}{SIZE_TAIL}"
        ),
    ]
    .iter()
    .map(|p| Regex::new(p).expect("static regex"))
    .collect()
});

fn norm_size(v: &str) -> String {
    let l = v.to_lowercase().replace('-', " ");
    match l.as_str() {
        "xs" | "x small" | "extra small" => "extra small".into(),
        "s" => "small".into(),
        "m" => "medium".into(),
        "l" => "large".into(),
        "xl" | "x large" | "extra large" => "extra large".into(),
        "xxs" | "xxl" | "xxxl" => l.to_uppercase(),
        _ => l,
    }
}

fn size(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let v = SIZE_RULES
        .iter()
        .find_map(|r| r.captures(clause).and_then(|c| c.get(1)))?;
    one(labelled(
        topics::SIZE,
        "Size",
        &norm_size(v.as_str()),
        false,
    ))
}

re!(
    SHOE1,
    r"(?i)\bshoe size(?: is|'s| of|:)?\s*(?:now |usually )?(?:a |an )?(?:size )?(\d{1,2}(?:\.5)?(?:\s?(?:eu|us|uk))?)\b"
);
re!(
    SHOE2,
    r"(?i)^i(?:'m| am|m)? (?:usually |normally |now |always )?(?:wear|take|am|'m)? ?(?:a |an )?(?:size )?(\d{1,2}(?:\.5)?)\s+(?:in )?(?:shoes?|sneakers|boots|trainers)\b"
);
re!(
    SHOE3,
    r"(?i)^my (?:shoes?|feet) (?:are|is) (?:a )?(?:size )?(\d{1,2}(?:\.5)?)\b"
);

fn shoe_size(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let v = [&*SHOE1, &*SHOE2, &*SHOE3]
        .iter()
        .find_map(|r| r.captures(clause).and_then(|c| c.get(1)))?;
    one(labelled(
        topics::SHOE_SIZE,
        "Shoe size",
        &v.as_str().to_uppercase(),
        false,
    ))
}

/// A money amount.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Amount {
    pub value: f64,
    pub currency: char,
    pub start: usize,
    pub end: usize,
}

re!(
    AMOUNT,
    r"(?i)([$€£])\s?(\d[\d,]*(?:\.\d{1,2})?)(\s?k\b)?|(\d[\d,]*(?:\.\d{1,2})?)(\s?k\b)?\s?(dollars?|bucks|usd|euros?|eur|pounds?|gbp|[$€£])"
);

pub(super) fn parse_amounts(text: &str) -> Vec<Amount> {
    let mut out = Vec::new();
    for c in AMOUNT.captures_iter(text) {
        let Some(m) = c.get(0) else { continue };
        let (sym, num, k) = match (c.get(1), c.get(2)) {
            (Some(s), Some(n)) => (s.as_str().to_lowercase(), n.as_str(), c.get(3).is_some()),
            _ => match (c.get(4), c.get(6)) {
                (Some(n), Some(s)) => (s.as_str().to_lowercase(), n.as_str(), c.get(5).is_some()),
                _ => continue,
            },
        };
        let digits: String = num.chars().filter(|ch| *ch != ',').collect();
        if digits.len() > 12 {
            continue;
        }
        let Ok(mut value) = digits.parse::<f64>() else {
            continue;
        };
        if k {
            value *= 1000.0;
        }
        if !value.is_finite() || value <= 0.0 || value > 10_000_000.0 {
            continue;
        }
        let currency = if sym.starts_with('€') || sym.starts_with("eur") {
            '€'
        } else if sym.starts_with('£') || sym.starts_with("pound") || sym == "gbp" {
            '£'
        } else {
            '$'
        };
        out.push(Amount {
            value,
            currency,
            start: m.start(),
            end: m.end(),
        });
    }
    out
}

pub(super) fn money(value: f64, currency: char) -> String {
    if (value - value.round()).abs() < 0.005 {
        format!("{currency}{}", value.round() as u64)
    } else {
        format!("{currency}{value:.2}")
    }
}

re!(
    BUDGET_TRIGGER,
    r"(?i)\bbudget\b|\bspend\w*\b|\bafford\b|\bprice range\b|\bkeep (?:it|things|everything|the price|prices)\b|\bnothing (?:over|above|more than)\b"
);
re!(
    QUALIFIER,
    r"(?i)(under|below|less than|no more than|not more than|no more|max(?:imum)?|at most|within|up to|upto|around|about|roughly|approximately|more than|over|above|between)\s+(?:of\s+|a\s+)?$"
);

fn budget(clause: &str, _: bool) -> Option<Vec<Fact>> {
    if !BUDGET_TRIGGER.is_match(clause) {
        return None;
    }
    let amounts = parse_amounts(clause);
    let first = *amounts.first()?;
    let before = clause.get(..first.start).unwrap_or_default();
    let qualifier = QUALIFIER
        .captures(before)
        .and_then(|c| c.get(1))
        .map(|m| m.as_str().to_lowercase());
    let value = if let Some(second) = amounts.get(1) {
        let between = clause
            .get(first.end..second.start)
            .unwrap_or_default()
            .trim()
            .to_lowercase();
        if qualifier.as_deref() == Some("between")
            || ["-", "–", "to", "and"].contains(&between.as_str())
        {
            format!(
                "{}–{}",
                money(first.value, first.currency),
                money(second.value, second.currency)
            )
        } else {
            qualified(qualifier.as_deref(), &first)
        }
    } else {
        qualified(qualifier.as_deref(), &first)
    };
    one(labelled(topics::BUDGET, "Budget", &value, false))
}

fn qualified(q: Option<&str>, a: &Amount) -> String {
    let m = money(a.value, a.currency);
    match q {
        None | Some("between") => m,
        Some("up to" | "upto") => format!("up to {m}"),
        Some("around" | "about" | "roughly" | "approximately") => format!("around {m}"),
        Some(_) => format!("under {m}"),
    }
}

re!(
    ALLERGIC,
    r"(?i)^i(?:'m| am|m) (?:very |severely |really |quite |mildly |also |extremely )*allergic to (.+)$|^i have (?:an? |some |severe |bad |mild )*(.+?) allerg(?:y|ies)$|^my allergies (?:are|include) (.+)$|^i have (?:an? |some )?allerg(?:y|ies) to (.+)$"
);
re!(
    LIST_SPLIT,
    r"(?i)\s*,\s*(?:and\s+|or\s+)?|\s+(?:and|or|&)\s+"
);

fn allergies(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let c = ALLERGIC.captures(clause)?;
    let list = (1..=4).find_map(|i| c.get(i))?.as_str();
    let facts: Vec<Fact> = LIST_SPLIT
        .split(list)
        .map(clean_value)
        .filter(|v| !v.is_empty())
        .map(|v| {
            fact(
                topics::ALLERGIES,
                format!("Allergic to {}", v.to_lowercase()),
                false,
            )
        })
        .collect();
    if facts.is_empty() { None } else { Some(facts) }
}

re!(
    DIET_IS,
    r"(?i)^i(?:'m| am|m) (?:a |an )?(?:strict |full-time |mostly |now |also |fully )?(vegetarian|vegan|pescatarian|pescetarian|gluten[- ]free|lactose[- ]intolerant|dairy[- ]free|keto|paleo|halal|kosher|coeliac|celiac|plant[- ]based)(?: now)?$"
);
re!(
    DIET_NO,
    r"(?i)^i (?:don't|do not|never|no longer|can't|cannot) eat (meat|pork|beef|fish|dairy|gluten|eggs|red meat|animal products|seafood|shellfish|nuts)(?: anymore| any more)?$"
);
re!(
    DIET_FOLLOW,
    r"(?i)^(?:i follow|i'm on|i am on|im on) (?:a |an )?(.{2,30}?) diet$"
);

fn diet(clause: &str, _: bool) -> Option<Vec<Fact>> {
    if let Some(v) = DIET_IS.captures(clause).and_then(|c| c.get(1)) {
        return one(labelled(
            topics::DIET,
            "Diet",
            &v.as_str().to_lowercase(),
            false,
        ));
    }
    if let Some(v) = DIET_NO.captures(clause).and_then(|c| c.get(1)) {
        return one(labelled(
            topics::DIET,
            "Diet",
            &format!("no {}", v.as_str().to_lowercase()),
            false,
        ));
    }
    let v = DIET_FOLLOW.captures(clause).and_then(|c| c.get(1))?;
    one(labelled(
        topics::DIET,
        "Diet",
        &v.as_str().to_lowercase(),
        false,
    ))
}

re!(
    LOCATION,
    r"(?i)^i (?:now |currently |still )?(?:live|reside|stay) (?:in|near|outside|on) (.+)$|^i(?:'m| am|m) (?:now |currently )?(?:based|located|living) (?:in|near|out of) (.+)$|^i(?:'ve| have)? (?:just |recently )?moved to (.+)$|^i(?:'m| am|m) from (.+)$|^i (?:just |recently )?moved to (.+)$"
);

fn location(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let c = LOCATION.captures(clause)?;
    let v = (1..=5).find_map(|i| c.get(i))?.as_str();
    if v.split_whitespace().count() > 6 {
        return None;
    }
    one(labelled(topics::LOCATION, "Location", v, false))
}

re!(
    BIRTHDAY,
    r"(?i)^my (?:birthday|bday|b-day|date of birth|birth date)(?: is|'s)?(?: on)?\s+(.+)$|^i was born (?:on |in )?(.+)$"
);

fn birthday(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let c = BIRTHDAY.captures(clause)?;
    let v = c.get(1).or_else(|| c.get(2))?.as_str();
    one(labelled(topics::BIRTHDAY, "Birthday", v, false))
}

re!(
    AGE,
    r"(?i)^i(?:'m| am|m) (\d{1,3})(?: years old| yrs old| y/o| years of age)?$"
);

fn age(clause: &str, _: bool) -> Option<Vec<Fact>> {
    // A bare "I'm 34" is only an age when it says so.
    let c = AGE.captures(clause)?;
    if !clause.to_lowercase().contains("old") && !clause.to_lowercase().contains("age") {
        return None;
    }
    one(labelled("Age", "Age", c.get(1)?.as_str(), false))
}

re!(
    ONLY,
    r"(?i)^i (?:only|exclusively|just) (?:ever )?(?:buy|wear|use|purchase|shop for|choose|get|want|go for)\s+(.+)$"
);
re!(
    ONLY_BARE,
    r"(?i)^(?:only|just) (.+?)(?: for me)?$|^(.+?) only$"
);
re!(
    PRODUCT_WORDS,
    r"(?i)\s+(?:products|items|clothes|clothing|goods|stuff|things|pieces|materials|fabrics)$"
);

fn material_phrase(v: &str) -> String {
    let v = clean_value(v);
    let v = PRODUCT_WORDS.replace(&v, "").to_string();
    v.to_lowercase()
}

fn materials_only(clause: &str, _: bool) -> Option<Vec<Fact>> {
    if let Some(v) = ONLY.captures(clause).and_then(|c| c.get(1)) {
        let x = material_phrase(v.as_str());
        if x.is_empty() {
            return None;
        }
        if vocab::has_any(&x, vocab::MATERIALS) {
            return one(Some(fact(
                topics::MATERIALS,
                format!("{} only", sentence_case(&x)),
                false,
            )));
        }
        return one(Some(fact(
            topics::PREFERENCES,
            format!("Only buys {x}"),
            false,
        )));
    }
    let c = ONLY_BARE.captures(clause)?;
    let x = material_phrase(c.get(1).or_else(|| c.get(2))?.as_str());
    if x.split_whitespace().count() <= 4
        && !FIRST_PERSON_START.is_match(&x)
        && vocab::has_any(&x, vocab::MATERIALS)
    {
        return one(Some(fact(
            topics::MATERIALS,
            format!("{} only", sentence_case(&x)),
            false,
        )));
    }
    None
}

re!(
    AVOID,
    r"(?i)^i (?:really |strictly |always |try to |generally |usually |also |absolutely |totally )*(avoid|don't wear|do not wear|never wear|won't wear|can't wear|cannot wear|don't buy|do not buy|never buy|won't buy|don't use|never use|refuse to wear|refuse to buy|stay away from|steer clear of)\s+(?:anything (?:made )?(?:of|with|from|in)\s+|any\s+|products (?:made )?(?:of|from|with)\s+|clothes (?:made )?(?:of|from|with)\s+)?(.+)$"
);

fn materials_avoid(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let c = AVOID.captures(clause)?;
    let x = material_phrase(c.get(2)?.as_str());
    if x.is_empty() || x.split_whitespace().count() > 8 {
        return None;
    }
    if vocab::has_any(&x, vocab::MATERIALS) {
        let x = x.strip_prefix("no ").unwrap_or(&x).to_string();
        return one(Some(fact(topics::MATERIALS, format!("No {x}"), false)));
    }
    if !object_ok(&x) {
        return None;
    }
    one(Some(fact(topics::DISLIKES, format!("Avoids {x}"), false)))
}

re!(
    NO_MATERIAL,
    r"(?i)^(?:no|without|zero|never any|nothing (?:made )?(?:of|with|in|from))\s+(.+?)$"
);

fn materials_no(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let x = material_phrase(NO_MATERIAL.captures(clause)?.get(1)?.as_str());
    if x.split_whitespace().count() <= 5 && vocab::has_any(&x, vocab::MATERIALS) {
        return one(Some(fact(topics::MATERIALS, format!("No {x}"), false)));
    }
    None
}

re!(
    FAV_COLOR,
    r"(?i)^my (?:favou?rite|fave|preferred|go-to) colou?rs? (?:is|are|'s|would be|=|:)\s*(.+)$"
);

fn colors(clause: &str, add: bool) -> Option<Vec<Fact>> {
    let v = FAV_COLOR.captures(clause)?.get(1)?.as_str();
    one(labelled(topics::COLORS, "Colors", &v.to_lowercase(), add))
}

re!(
    STYLE_LOOK,
    r"(?i)^i (?:really |mostly |usually |generally |also )*(?:like|love|prefer|go for|lean towards|favou?r|wear)\s+(?:a |an |the )?(.+?)\s+(style|look|aesthetic|vibe|fit|cut)s?$"
);
re!(
    DRESS,
    r"(?i)^i dress (?:mostly |usually |pretty |quite |very |fairly )?(casual(?:ly)?|formal(?:ly)?|smart(?:ly)?|conservative(?:ly)?|simply|classic(?:ally)?|modest(?:ly)?)$"
);

fn style(clause: &str, add: bool) -> Option<Vec<Fact>> {
    if let Some(c) = STYLE_LOOK.captures(clause) {
        let x = clean_value(c.get(1)?.as_str()).to_lowercase();
        let suffix = c.get(2)?.as_str().to_lowercase();
        if x.is_empty() || x.split_whitespace().count() > 4 || !object_ok(&x) {
            return None;
        }
        let value = if suffix == "fit" || suffix == "cut" {
            format!("{x} {suffix}")
        } else {
            x
        };
        return one(labelled(topics::STYLE, "Style", &value, add));
    }
    let v = DRESS.captures(clause)?.get(1)?.as_str().to_lowercase();
    let v = v
        .strip_suffix("ally")
        .map(|s| format!("{s}al"))
        .or_else(|| v.strip_suffix("ly").map(str::to_string))
        .unwrap_or(v.clone());
    let v = if v == "simp" { "simple".to_string() } else { v };
    one(labelled(topics::STYLE, "Style", &v, add))
}

re!(
    FAV_BRAND,
    r"(?i)^my (?:favou?rite|fave|preferred|go-to) (brands?|labels?|designers?|stores?|shops?) (?:is|are|'s|would be|=|:)\s*(.+)$"
);

fn brands(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let c = FAV_BRAND.captures(clause)?;
    let plural = c.get(1)?.as_str().ends_with('s');
    let label = if plural {
        "Favorite brands"
    } else {
        "Favorite brand"
    };
    one(labelled(topics::BRANDS, label, c.get(2)?.as_str(), false))
}

const PET: &str = r"(dog|cat|puppy|kitten|parrot|rabbit|bunny|hamster|horse|guinea pig|dogs|cats)";

static PET_RULES: LazyLock<(Regex, Regex, Regex)> = LazyLock::new(|| {
    (
        Regex::new(&format!(
            r"(?i)^i (?:have|own|'ve got|have got|got) (?:a |an |one |two |three |\d+ )?(?:little |old |young |rescue |big |small |new )?{PET},?\s+(?:called|named|whose name is)\s+(\p{{L}}[\p{{L}}'-]*(?:\s+(?:and|&)\s+\p{{L}}[\p{{L}}'-]*)?)$"
        ))
        .expect("static regex"),
        Regex::new(&format!(
            r"^(?i:my {PET}(?:'s name is|'s name's|'s called| is called| is named| is))\s+(\p{{Lu}}[\p{{L}}'-]*)$"
        ))
        .expect("static regex"),
        Regex::new(&format!(
            r"(?i)^i (?:have|own|'ve got|have got) (a|an|one|two|three|four|\d+) (?:little |old |young |rescue |big |small )?{PET}s?$"
        ))
        .expect("static regex"),
    )
});

fn pets(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let (named, my_named, has) = &*PET_RULES;
    if let Some(c) = named.captures(clause).or_else(|| my_named.captures(clause)) {
        let animal = c.get(1)?.as_str().to_lowercase();
        let who = clean_value(c.get(2)?.as_str());
        return one(Some(fact(
            topics::PETS,
            format!("{} named {who}", sentence_case(&animal)),
            false,
        )));
    }
    let c = has.captures(clause)?;
    let n = c.get(1)?.as_str().to_lowercase();
    let animal = c.get(2)?.as_str().to_lowercase();
    let animal = if matches!(n.as_str(), "a" | "an" | "one") {
        animal.trim_end_matches('s').to_string()
    } else if animal.ends_with('s') {
        animal
    } else {
        format!("{animal}s")
    };
    one(Some(fact(topics::PETS, format!("Has {n} {animal}"), false)))
}

re!(
    WORK,
    r"(?i)^i work (?:as (?:a |an )?(.+)|(at|for|in) (.+))$"
);

fn work(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let c = WORK.captures(clause)?;
    let text = match c.get(1) {
        Some(role) => {
            let role = clean_value(role.as_str());
            format!("Works as {} {role}", article_for(&role))
        }
        None => format!(
            "Works {} {}",
            c.get(2)?.as_str().to_lowercase(),
            clean_value(c.get(3)?.as_str())
        ),
    };
    one(Some(fact(topics::WORK, text, false)))
}

fn article_for(word: &str) -> &'static str {
    match word.chars().next().map(|c| c.to_ascii_lowercase()) {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

re!(
    LIKE,
    r"(?i)^i (?:really |absolutely |also |do |kind of |kinda |totally |still |just |genuinely |especially |mostly |usually |truly |definitely )*(love|like|enjoy|adore|prefer|dislike|hate|detest|loathe|don't like|do not like|don't really like|don't enjoy|do not enjoy|can't stand|cannot stand)\s+(.+)$"
);
re!(
    FAN,
    r"(?i)^i(?:'m| am|m) (?:a (?:big |huge )?fan of|(?:really |very )?into|obsessed with|passionate about|crazy about)\s+(.+)$"
);
re!(
    BAD_OBJECT,
    r"(?i)^(?:to know|it\b|it's|that\b|this\b|these\b|those\b|them\b|you\b|your\b|when\b|how\b|what\b|if\b|the (?:first|second|third|last|other|one)\b|one\b|either\b|neither\b|both\b|a lot\b|some\b|any\b)|\?"
);

fn object_ok(x: &str) -> bool {
    !x.is_empty()
        && x.chars().count() <= 60
        && x.split_whitespace().count() <= 8
        && !BAD_OBJECT.is_match(x)
}

re!(
    LEAD_WEAR,
    r"(?i)^(?:to wear|wearing|the colou?rs?|colou?rs? like)\s+"
);

fn catch_all(clause: &str, add: bool) -> Option<Vec<Fact>> {
    let (verb, object) = if let Some(c) = LIKE.captures(clause) {
        (c.get(1)?.as_str().to_lowercase(), c.get(2)?.as_str())
    } else {
        ("like".to_string(), FAN.captures(clause)?.get(1)?.as_str())
    };
    let x = clean_value(object);
    if !object_ok(&x) {
        return None;
    }
    let lower = x.to_lowercase();
    let positive = matches!(
        verb.as_str(),
        "love" | "like" | "enjoy" | "adore" | "prefer"
    );
    let colorish = LEAD_WEAR.replace(&lower, "").to_string();
    if positive {
        if vocab::has_any(&colorish, vocab::COLORS) {
            return one(labelled(topics::COLORS, "Colors", &colorish, add));
        }
        if vocab::has_any(&lower, vocab::STYLES) && x.split_whitespace().count() <= 4 {
            return one(labelled(topics::STYLE, "Style", &lower, add));
        }
        if vocab::has_any(&lower, vocab::MATERIALS) {
            return one(Some(fact(
                topics::MATERIALS,
                format!("Prefers {lower}"),
                false,
            )));
        }
        if verb == "prefer" {
            return one(Some(fact(
                topics::PREFERENCES,
                format!("Prefers {x}"),
                false,
            )));
        }
        return one(Some(fact(topics::LIKES, format!("Likes {x}"), false)));
    }
    if vocab::has_any(&lower, vocab::MATERIALS) {
        return one(Some(fact(
            topics::MATERIALS,
            format!("No {}", material_phrase(&lower)),
            false,
        )));
    }
    one(Some(fact(topics::DISLIKES, format!("Dislikes {x}"), false)))
}

re!(
    GENERIC,
    r"(?i)^my ((?:\p{L}+(?:'s)? ){0,3}\p{L}+(?:'s)?)(?: is| are| was|'s|:)\s+(.+)$"
);
const NOT_TOPICS: &[&str] = &[
    "order",
    "orders",
    "package",
    "delivery",
    "parcel",
    "shipment",
    "refund",
    "return",
    "payment",
    "card",
    "account",
    "password",
    "question",
    "problem",
    "issue",
    "complaint",
    "cart",
    "basket",
    "code",
    "coupon",
    "internet",
    "computer",
    "phone",
    "bag",
    "jacket",
    "item",
    "purchase",
    "laptop",
    "car",
    "day",
    "week",
    "life",
    "head",
    "back",
    "point",
    "guess",
    "bad",
    "mistake",
    "fault",
    "pleasure",
    "husband",
    "wife",
    "partner",
    "friend",
    "mom",
    "dad",
    "son",
    "daughter",
];

fn generic(clause: &str, _: bool) -> Option<Vec<Fact>> {
    let c = GENERIC.captures(clause)?;
    let x = c.get(1)?.as_str().to_lowercase();
    let y = c.get(2)?.as_str();
    let last = x.split_whitespace().last().unwrap_or_default();
    if NOT_TOPICS.contains(&last) || QUESTION_START.is_match(y) || y.contains('?') {
        return None;
    }
    let value = clean_value(y);
    if value.is_empty() {
        return None;
    }
    match topics::canonical(&x) {
        Some(t) => match t.heading {
            topics::ALLERGIES => allergies(&format!("I'm allergic to {value}"), false),
            topics::MATERIALS
            | topics::LIKES
            | topics::DISLIKES
            | topics::PETS
            | topics::PREFERENCES
            | topics::RECOMMENDED => None,
            topics::COLORS => one(labelled(t.heading, "Colors", &value.to_lowercase(), false)),
            topics::BRANDS => one(labelled(t.heading, "Favorite brand", &value, false)),
            topics::SIZE => one(labelled(t.heading, "Size", &norm_size(&value), false)),
            heading => one(labelled(heading, heading, &value, false)),
        },
        None => {
            let heading = sentence_case(&x);
            one(labelled(&heading, &heading, &value, false))
        }
    }
}
