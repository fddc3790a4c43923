//! Composing the reply: recalled facts, answers, forget confirmations and suggestions that apply
//! the customer's constraints.

use super::doc::{Doc, Forget, Item, Origin, contains_word};
use super::learn::{money, parse_amounts};
use super::topics::{self, display, is_junk, phrase, split_label, value_of};
use super::understand::{self, Question, Request, my_phrase, resolve_keys};
use super::vocab::{self, Category};

/// The fixed phrases replies are built from (scenario checks match on these).
pub(super) mod phrases {
    pub const RECALL: &str = "From your notes I remember:";
    pub const RECALL_CONVERSATION: &str = "From our conversation I remember:";
    pub const NOTED: &str = "I've noted that:";
    pub const CATALOG: &str = "From the catalog:";
    pub const PURCHASED: &str = "You previously bought:";
    pub const PAST_PURCHASES: &str = "Your past purchases:";
    pub const RECOMMENDED_BEFORE: &str = "Last time I recommended:";
    pub const UNKNOWN_TAIL: &str = "yet — you haven't told me.";
}

/// A line from a read-only (catalog) file, with the heading of its section.
#[derive(Debug, Clone)]
pub(super) struct CatalogLine {
    pub heading: Option<String>,
    pub line: String,
}

/// Everything a reply is built from.
#[derive(Debug)]
pub(super) struct Knowledge {
    /// The customer's facts after this turn's changes, each line tagged with where it came from.
    pub overlay: Doc,
    /// Purchase lines from the customer's other memory files.
    pub purchases: Vec<String>,
    pub catalog: Vec<CatalogLine>,
    /// Phrases for what this turn's message added or changed.
    pub learned: Vec<String>,
    /// Forget requests of this turn and whether anything was removed.
    pub forgot: Vec<(Forget, bool)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Format {
    Plain,
    Bullets,
    Numbered,
    Short,
}

fn format_of(overlay: &Doc) -> Format {
    let Some(s) = overlay.section("reply format") else {
        return Format::Plain;
    };
    let text = s
        .items
        .iter()
        .map(|i| i.text.to_lowercase())
        .collect::<Vec<_>>()
        .join(" ");
    if text.contains("bullet") {
        Format::Bullets
    } else if text.contains("number") {
        Format::Numbered
    } else if text.contains("short") || text.contains("brief") || text.contains("concise") {
        Format::Short
    } else {
        Format::Plain
    }
}

fn list(intro: &str, items: &[String], format: Format) -> String {
    match format {
        Format::Bullets => format!("{intro}\n- {}", items.join("\n- ")),
        _ => {
            let mut s = format!("{intro} {}", items.join("; "));
            if !s.ends_with(['.', '!', '?']) {
                s.push('.');
            }
            s
        }
    }
}

/// The lines (heading, item) a reply relies on, in notes order, without duplicates.
#[derive(Default)]
struct Relevant {
    keys: Vec<String>,
    extra: Vec<(String, Item)>,
}

impl Relevant {
    fn add_key(&mut self, key: &str) {
        if !self.keys.iter().any(|k| k == key) {
            self.keys.push(key.to_string());
        }
    }

    fn lines(&self, overlay: &Doc) -> Vec<(String, Item)> {
        let mut out: Vec<(String, Item)> = Vec::new();
        for s in &overlay.sections {
            let key = s.key();
            let whole = self.keys.contains(&key);
            for i in &s.items {
                if is_junk(&i.text) {
                    continue;
                }
                let picked = whole
                    || self
                        .extra
                        .iter()
                        .any(|(h, e)| topics::topic_key(h) == key && e.text == i.text);
                if picked && !out.iter().any(|(_, o)| o.text == i.text) {
                    out.push((s.heading.clone(), i.clone()));
                }
            }
        }
        out
    }
}

/// Builds the reply and, for a shopping request, the suggestion lines to remember.
pub(super) fn compose(
    u: &understand::Understanding,
    k: &Knowledge,
) -> (String, Option<Vec<String>>) {
    let format = format_of(&k.overlay);
    let mut relevant = Relevant::default();
    let mut answers: Vec<String> = Vec::new();

    for q in &u.questions {
        match q {
            Question::Everything => {
                let mut any = false;
                for s in &k.overlay.sections {
                    let key = s.key();
                    if key != "recommended" && s.items.iter().any(|i| !is_junk(&i.text)) {
                        relevant.add_key(&key);
                        any = true;
                    }
                }
                if !k.purchases.is_empty() {
                    answers.push(list(phrases::PAST_PURCHASES, &k.purchases, format));
                } else if !any {
                    answers.push(format!(
                        "I don't know anything about you {}",
                        phrases::UNKNOWN_TAIL
                    ));
                }
            }
            Question::Purchases => {
                if k.purchases.is_empty() {
                    answers.push(format!(
                        "I don't know your past purchases {}",
                        phrases::UNKNOWN_TAIL
                    ));
                } else {
                    answers.push(list(phrases::PAST_PURCHASES, &k.purchases, format));
                }
            }
            Question::Recommended => match k.overlay.section("recommended") {
                Some(s) if !s.items.is_empty() => {
                    let items: Vec<String> = s.items.iter().map(|i| i.text.clone()).collect();
                    answers.push(list(phrases::RECOMMENDED_BEFORE, &items, format));
                }
                _ => answers.push(
                    "I don't know what I recommended before — I have no notes on it.".to_string(),
                ),
            },
            Question::About(text) => {
                answer_about(text, &k.overlay, &mut relevant, &mut answers);
            }
        }
    }

    let mut recommendation: Option<(String, Vec<String>)> = None;
    if let Some(req) = &u.request {
        for s in &k.overlay.sections {
            let key = s.key();
            if topics::is_shopping(&key) {
                relevant.add_key(&key);
            }
            if key == "dislikes" {
                for i in &s.items {
                    let low = i.text.to_lowercase();
                    if vocab::has_any(&low, vocab::MATERIALS) || vocab::has_any(&low, vocab::COLORS)
                    {
                        relevant.extra.push((s.heading.clone(), i.clone()));
                    }
                }
            }
        }
        recommendation = Some(recommend(req, k, format));
    }

    let mut parts: Vec<String> = Vec::new();
    // Greeting.
    if u.greeting || u.back {
        let name = k
            .overlay
            .section("name")
            .and_then(|s| s.items.iter().find(|i| !is_junk(&i.text)))
            .map(|i| value_of(&i.text));
        parts.push(match (u.back, name) {
            (true, Some(n)) => format!("Welcome back, {n}!"),
            (true, None) => "Welcome back!".to_string(),
            (false, Some(n)) => format!("Hi {n}!"),
            (false, None) => "Hi!".to_string(),
        });
    }
    let greeting_only = parts.len();
    // Forget confirmations.
    let mut forgot: Vec<String> = Vec::new();
    for (f, changed) in &k.forgot {
        forgot.push(match (f, changed) {
            (Forget::All, true) => "I've forgotten everything I had noted about you.".to_string(),
            (Forget::All, false) => "I didn't have anything noted about you.".to_string(),
            (
                Forget::Target {
                    label,
                    topical: true,
                    ..
                },
                true,
            ) => format!("I've forgotten {label}."),
            (Forget::Target { label, .. }, true) => {
                format!("I've forgotten what you told me about {label}.")
            }
            (Forget::Target { label, .. }, false) => {
                format!("I don't have anything noted about {label}.")
            }
        });
    }
    if !forgot.is_empty() {
        parts.push(forgot.join(" "));
    }
    // Recalled facts.
    let lines = relevant.lines(&k.overlay);
    let from = |origin: Origin| -> Vec<String> {
        lines
            .iter()
            .filter(|(_, i)| i.origin == origin)
            .map(|(h, i)| phrase(h, &i.text))
            .collect()
    };
    let memory = from(Origin::Memory);
    if !memory.is_empty() {
        parts.push(list(phrases::RECALL, &memory, format));
    }
    let conversation = from(Origin::Conversation);
    if !conversation.is_empty() {
        parts.push(list(phrases::RECALL_CONVERSATION, &conversation, format));
    }
    if !k.learned.is_empty() {
        parts.push(list(phrases::NOTED, &k.learned, format));
    }
    if !answers.is_empty() {
        parts.push(answers.join(if format == Format::Bullets { "\n" } else { " " }));
    }
    let mut remembered = None;
    if let Some((text, lines)) = recommendation {
        parts.push(text);
        remembered = Some(lines);
    }
    if parts.len() == greeting_only {
        let tail = if k.learned.is_empty() {
            "How can I help you today?"
        } else {
            "Is there anything I can help you find today?"
        };
        match parts.last_mut() {
            Some(g) => {
                g.push(' ');
                g.push_str(tail);
            }
            None => parts.push(tail.to_string()),
        }
    } else if u.questions.is_empty() && u.request.is_none() && forgot.is_empty() {
        parts.push("Is there anything I can help you find today?".to_string());
    }
    (parts.join("\n\n"), remembered)
}

re!(PART_SPLIT, r"(?i)\s+and\s+|\s*,\s*");

fn answer_about(text: &str, overlay: &Doc, relevant: &mut Relevant, answers: &mut Vec<String>) {
    let lower = text.to_lowercase();
    let mut resolved_any = false;
    for part in PART_SPLIT.split(&lower).take(4) {
        let mp = my_phrase(part);
        // 1. The customer's own words name a section ("my favorite sport").
        let direct = mp.as_ref().and_then(|p| {
            let key = topics::topic_key(p);
            overlay.section(&key).map(|_| key)
        });
        let keys = resolve_keys(part);
        let found = direct.or_else(|| {
            keys.iter()
                .find(|k| {
                    overlay
                        .section(k)
                        .is_some_and(|s| s.items.iter().any(|i| !is_junk(&i.text)))
                })
                .map(|k| (*k).to_string())
        });
        match found {
            Some(key) => {
                resolved_any = true;
                if let Some(s) = overlay.section(&key) {
                    relevant.add_key(&key);
                    answers.push(answer_section(&s.heading, &s.items));
                }
            }
            None => {
                let what = match (&mp, keys.first()) {
                    (Some(p), _) if topics::canonical(p).is_some() => display(p),
                    (_, Some(k)) => display(k),
                    (Some(p), None) => p.clone(),
                    (None, None) => continue,
                };
                resolved_any = true;
                answers.push(format!(
                    "I don't know your {what} {}",
                    phrases::UNKNOWN_TAIL
                ));
            }
        }
    }
    if resolved_any {
        return;
    }
    // 2. Words of the question that occur in notes lines.
    let words: Vec<String> = vocab::content_words(&lower)
        .into_iter()
        .filter(|w| !matches!(w.as_str(), "remember" | "know" | "said" | "told" | "about"))
        .collect();
    let mut hit = false;
    for s in &overlay.sections {
        for i in &s.items {
            let low = i.text.to_lowercase();
            if !is_junk(&i.text) && words.iter().any(|w| contains_word(&low, w)) {
                relevant.extra.push((s.heading.clone(), i.clone()));
                hit = true;
            }
        }
    }
    if !hit {
        answers.push(format!("I don't know that {}", phrases::UNKNOWN_TAIL));
    }
}

fn answer_section(heading: &str, items: &[Item]) -> String {
    let items: Vec<&Item> = items.iter().filter(|i| !is_junk(&i.text)).collect();
    let key = topics::topic_key(heading);
    let labelled: Vec<(&str, &str)> = items.iter().filter_map(|i| split_label(&i.text)).collect();
    if !items.is_empty() && labelled.len() == items.len() {
        let v = labelled
            .iter()
            .map(|(_, v)| *v)
            .collect::<Vec<_>>()
            .join("; ");
        return match key.as_str() {
            "name" => format!("Your name is {v}."),
            "location" => format!("You live in {v}."),
            "colors" => format!("Your color preferences: {v}."),
            "brands" => format!("Your favorite brands: {v}."),
            "diet" => format!("Your diet: {v}."),
            "style" => format!("Your style: {v}."),
            "work" => format!("Your job: {v}."),
            "reply format" => format!("You asked me to reply with {v}."),
            _ => {
                let label = labelled.first().map_or(heading, |(l, _)| l).to_lowercase();
                format!("Your {label} is {v}.")
            }
        };
    }
    let phrases: Vec<String> = items.iter().map(|i| phrase(heading, &i.text)).collect();
    format!(
        "Here's what I have on your {}: {}.",
        display(heading),
        phrases.join("; ")
    )
}

// ---------------------------------------------------------------- suggestions

re!(
    NEGATION,
    r"(?i)\b(?:no|avoids?|avoiding|never|not|without|dislikes?|don't|doesn't|do not|hates?|allergic to|free of|except)\b"
);
re!(
    ONLY_PHRASE,
    r"(?i)^(.+?) only\b|\bonly (?:buys?|wears?|uses?)\s+(.+)$"
);
re!(LEATHER_WORD, r"(?i)\b(?:leather|suede|nubuck)\b");

#[derive(Debug, Default)]
struct Constraints {
    size: Option<String>,
    shoe: Option<String>,
    limit: Option<f64>,
    currency: Option<char>,
    vegan: bool,
    avoid: Vec<&'static str>,
    only: Option<String>,
    colors: Vec<String>,
    avoid_colors: Vec<&'static str>,
}

fn first_value(overlay: &Doc, key: &str) -> Option<String> {
    overlay
        .section(key)?
        .items
        .iter()
        .find(|i| !is_junk(&i.text))
        .map(|i| value_of(&i.text))
}

fn constraints(overlay: &Doc, request_limit: Option<f64>) -> Constraints {
    let mut c = Constraints {
        size: first_value(overlay, "size"),
        shoe: first_value(overlay, "shoe size"),
        ..Constraints::default()
    };
    if let Some(s) = overlay.section("budget") {
        for i in &s.items {
            for a in parse_amounts(&i.text) {
                c.currency.get_or_insert(a.currency);
                c.limit = Some(c.limit.map_or(a.value, |l: f64| l.max(a.value)));
            }
        }
    }
    if let Some(r) = request_limit {
        c.limit = Some(c.limit.map_or(r, |l| l.min(r)));
    }
    for s in &overlay.sections {
        let key = s.key();
        let scan = matches!(
            key.as_str(),
            "materials" | "allergies" | "dislikes" | "colors" | "style" | "preferences"
        );
        if !scan {
            continue;
        }
        for i in &s.items {
            let low = i.text.to_lowercase();
            // Negated spans: the few words after "no", "avoid", "allergic to", ...
            let mut negated = false;
            for m in NEGATION.find_iter(&low) {
                negated = true;
                let span: String = low[m.end()..]
                    .split([';', '.', '(', ')'])
                    .next()
                    .unwrap_or_default()
                    .split_whitespace()
                    .take(5)
                    .collect::<Vec<_>>()
                    .join(" ");
                for w in vocab::find_all(&span, vocab::MATERIALS) {
                    if !c.avoid.contains(&w) {
                        c.avoid.push(w);
                    }
                }
                for w in vocab::find_all(&span, vocab::COLORS) {
                    if !c.avoid_colors.contains(&w) {
                        c.avoid_colors.push(w);
                    }
                }
            }
            if key == "allergies" {
                for w in vocab::find_all(&low, vocab::MATERIALS) {
                    if !c.avoid.contains(&w) {
                        c.avoid.push(w);
                    }
                }
            }
            if key == "materials" || key == "preferences" {
                if low.contains("vegan leather") || low.contains("faux leather") {
                    c.vegan = true;
                }
                if let Some(cap) = ONLY_PHRASE.captures(&low) {
                    let x = cap
                        .get(1)
                        .or_else(|| cap.get(2))
                        .map_or("", |m| m.as_str())
                        .trim();
                    if LEATHER_WORD.is_match(x) {
                        if x.contains("vegan") || x.contains("faux") {
                            c.vegan = true;
                        }
                    } else if matches!(x, "vegan" | "cruelty-free" | "vegan products") {
                        c.vegan = true;
                        add_all(&mut c.avoid, vocab::ANIMAL);
                    } else if vocab::has_any(x, vocab::MATERIALS) && c.only.is_none() {
                        c.only = Some(x.to_string());
                    }
                }
            }
            if (key == "colors" || key == "style") && !negated {
                for w in vocab::find_all(&low, vocab::COLORS) {
                    for p in vocab::palette_for(w) {
                        if !c.colors.iter().any(|x| x == p) {
                            c.colors.push(p.to_string());
                        }
                    }
                }
            }
        }
    }
    let leather_avoided = [
        "leather",
        "animal leather",
        "real leather",
        "genuine leather",
        "suede",
    ];
    if c.avoid.iter().any(|a| leather_avoided.contains(a)) {
        c.vegan = true;
    }
    if c.avoid.contains(&"animal products") {
        c.vegan = true;
        add_all(&mut c.avoid, vocab::ANIMAL);
    }
    // A colour is dropped when avoided ("no pink") or when it names an avoided family.
    let avoid_colors = c.avoid_colors.clone();
    c.colors.retain(|col| {
        !avoid_colors
            .iter()
            .any(|a| *a == col.as_str() || vocab::palette_for(a).contains(&col.as_str()))
    });
    c
}

fn add_all(to: &mut Vec<&'static str>, words: &[&'static str]) {
    for w in words {
        if !to.contains(w) {
            to.push(w);
        }
    }
}

fn avoided(material: &str, c: &Constraints) -> bool {
    let m = material.to_lowercase();
    c.avoid.iter().any(|a| {
        contains_word(&m, a)
            || (matches!(
                *a,
                "synthetic" | "synthetics" | "plastic" | "synthetic fabrics"
            ) && ["polyester", "nylon", "acrylic"]
                .iter()
                .any(|s| m.contains(s)))
    })
}

fn pick_material(base: &str, c: &Constraints) -> String {
    if let Some(only) = &c.only {
        return only.clone();
    }
    let leathery = vocab::LEATHERY.iter().any(|l| contains_word(base, l));
    if leathery && (c.vegan || avoided(base, c)) {
        return format!("vegan {base}");
    }
    if !avoided(base, c) {
        return base.to_string();
    }
    [
        "organic cotton",
        "linen",
        "recycled polyester",
        "canvas",
        "hemp",
    ]
    .iter()
    .find(|m| !avoided(m, c))
    .map_or_else(|| "hemp".to_string(), |m| (*m).to_string())
}

fn price(limit: f64, factor: f64) -> f64 {
    let p = limit * factor;
    if p >= 10.0 {
        (p / 10.0).floor() * 10.0 - 1.0
    } else {
        ((p * 100.0).floor() / 100.0).max(0.01)
    }
}

fn article(label: &str) -> &'static str {
    match label.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    }
}

/// Whether a catalog line offers something the customer avoids.
fn violates(lower: &str, c: &Constraints) -> bool {
    let words: Vec<&str> = lower
        .split(|ch: char| !(ch.is_alphanumeric() || ch == '-'))
        .filter(|w| !w.is_empty())
        .collect();
    const OK_BEFORE: &[&str] = &[
        "vegan",
        "faux",
        "synthetic",
        "pu",
        "based",
        "plant-based",
        "apple",
        "cactus",
        "mushroom",
        "imitation",
        "fake",
        "recycled-vegan",
    ];
    const NEG: &[&str] = &["no", "not", "without", "free", "non", "zero"];
    let negated_or_ok = |idx: usize, ok: &[&str]| -> bool {
        let from = idx.saturating_sub(3);
        words[from..idx]
            .iter()
            .any(|w| NEG.contains(w) || ok.contains(w))
    };
    for (idx, w) in words.iter().enumerate() {
        let leathery = vocab::LEATHERY.contains(w);
        if leathery && c.vegan && !negated_or_ok(idx, OK_BEFORE) {
            return true;
        }
        let bad = c
            .avoid
            .iter()
            .any(|a| !a.contains(' ') && *a == *w && !(vocab::LEATHERY.contains(a) && c.vegan));
        if bad && !negated_or_ok(idx, &[]) {
            return true;
        }
    }
    if let Some(limit) = c.limit
        && parse_amounts(lower).iter().any(|a| a.value > limit)
    {
        return true;
    }
    false
}

fn recommend(req: &Request, k: &Knowledge, format: Format) -> (String, Vec<String>) {
    let c = constraints(&k.overlay, req.limit);
    let cat: &Category = req.category.unwrap_or(&vocab::GENERAL);
    let words: Vec<String> = if cat.words.is_empty() {
        req.keywords.clone()
    } else {
        cat.words.iter().map(|w| (*w).to_string()).collect()
    };
    let mut out: Vec<String> = Vec::new();

    // Catalog lines that match the request and respect the constraints.
    if !words.is_empty() {
        let mut picked: Vec<String> = Vec::new();
        for e in &k.catalog {
            if picked.len() >= 3 {
                break;
            }
            let low = e.line.to_lowercase();
            let in_line = words.iter().any(|w| contains_word(&low, w));
            let in_heading = e
                .heading
                .as_ref()
                .is_some_and(|h| words.iter().any(|w| contains_word(&h.to_lowercase(), w)));
            if !(in_line || in_heading) || violates(&low, &c) {
                continue;
            }
            let text = match &e.heading {
                Some(h) => format!("{h}: {}", e.line),
                None => e.line.clone(),
            };
            if !picked.contains(&text) {
                picked.push(text);
            }
        }
        if !picked.is_empty() {
            out.push(list(phrases::CATALOG, &picked, format));
        }
        let related: Vec<String> = k
            .purchases
            .iter()
            .filter(|p| words.iter().any(|w| contains_word(&p.to_lowercase(), w)))
            .take(3)
            .cloned()
            .collect();
        if !related.is_empty() {
            out.push(list(phrases::PURCHASED, &related, format));
        }
    }

    let palette: Vec<String> = if c.colors.is_empty() {
        let defaults: Vec<String> = ["black", "navy", "grey", "olive", "cream"]
            .iter()
            .filter(|d| !c.avoid_colors.iter().any(|a| a == *d))
            .map(|d| (*d).to_string())
            .collect();
        if defaults.is_empty() {
            vec!["natural".to_string()]
        } else {
            defaults
        }
    } else {
        c.colors.clone()
    };
    let limit = c.limit.unwrap_or(f64::from(cat.price));
    let currency = c.currency.unwrap_or('$');
    let count = if format == Format::Short {
        1
    } else {
        cat.products.len()
    };
    let factors = [0.75, 0.6, 0.45];
    let mut shown: Vec<String> = Vec::new();
    let mut remembered: Vec<String> = Vec::new();
    for (n, (product, base)) in cat.products.iter().take(count).enumerate() {
        let color = &palette[n % palette.len()];
        let material = pick_material(base, &c);
        let p = money(price(limit, factors[n % factors.len()]), currency);
        let size = match cat.sized {
            Some(true) => c.size.as_ref().map(|s| format!(", size {s}")),
            Some(false) => c.shoe.as_ref().map(|s| format!(", size {s}")),
            None => None,
        }
        .unwrap_or_default();
        shown.push(format!("{product} in {color} {material}{size} — {p}"));
        remembered.push(format!("{product} in {color} {material} — {p}"));
    }
    let intro = if cat.words.is_empty() {
        if count == 1 {
            "Here is my top pick:".to_string()
        } else {
            "Here are a few ideas:".to_string()
        }
    } else if count == 1 {
        format!(
            "Here is my top pick for {} {}:",
            article(cat.label),
            cat.label
        )
    } else {
        format!(
            "Here are my suggestions for {} {}:",
            article(cat.label),
            cat.label
        )
    };
    let body: Vec<String> = shown
        .iter()
        .enumerate()
        .map(|(n, s)| match format {
            Format::Bullets => format!("- {s}"),
            _ => format!("{}. {s}", n + 1),
        })
        .collect();
    out.push(format!("{intro}\n{}", body.join("\n")));
    (out.join("\n\n"), remembered)
}
