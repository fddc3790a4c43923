//! The topics the reference agent files facts under, and how a notes line reads back in a reply.

use regex::Regex;
use std::sync::LazyLock;

/// How a topic's section changes when something new is learned about it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// One current value: a new statement replaces the section (knowledge update).
    Single,
    /// Several independent facts: a new one is added unless already there.
    List,
    /// The section is rewritten as a whole each time (the agent's own recommendations).
    Replace,
}

/// A topic with a canonical `## <heading>` in the notes file.
#[derive(Debug)]
pub(super) struct Topic {
    pub heading: &'static str,
    /// How replies name it: "your <display>".
    pub display: &'static str,
    pub kind: Kind,
    /// Applied to shopping requests (listed in "From your notes I remember:").
    pub shopping: bool,
    /// Headings (lowercase) that mean this topic, e.g. Claude's own "Sizes" or "Favorite Brands".
    pub aliases: &'static [&'static str],
}

pub(super) const NAME: &str = "Name";
pub(super) const SIZE: &str = "Size";
pub(super) const SHOE_SIZE: &str = "Shoe size";
pub(super) const BUDGET: &str = "Budget";
pub(super) const MATERIALS: &str = "Materials";
pub(super) const COLORS: &str = "Colors";
pub(super) const STYLE: &str = "Style";
pub(super) const BRANDS: &str = "Brands";
pub(super) const LOCATION: &str = "Location";
pub(super) const ADDRESS: &str = "Address";
pub(super) const BIRTHDAY: &str = "Birthday";
pub(super) const DIET: &str = "Diet";
pub(super) const ALLERGIES: &str = "Allergies";
pub(super) const WORK: &str = "Work";
pub(super) const PETS: &str = "Pets";
pub(super) const LIKES: &str = "Likes";
pub(super) const DISLIKES: &str = "Dislikes";
pub(super) const PREFERENCES: &str = "Preferences";
pub(super) const REPLY_FORMAT: &str = "Reply format";
pub(super) const RECOMMENDED: &str = "Recommended";

pub(super) static TOPICS: &[Topic] = &[
    Topic {
        heading: NAME,
        display: "name",
        kind: Kind::Single,
        shopping: false,
        aliases: &["name", "names", "full name", "first name", "customer name"],
    },
    Topic {
        heading: SIZE,
        display: "size",
        kind: Kind::Single,
        shopping: true,
        aliases: &[
            "size",
            "sizes",
            "sizing",
            "clothing size",
            "clothing sizes",
            "clothes size",
            "sizes and fit",
        ],
    },
    Topic {
        heading: SHOE_SIZE,
        display: "shoe size",
        kind: Kind::Single,
        shopping: true,
        aliases: &["shoe size", "shoe sizes", "shoes", "footwear size"],
    },
    Topic {
        heading: BUDGET,
        display: "budget",
        kind: Kind::Single,
        shopping: true,
        aliases: &["budget", "budgets", "price range", "spending"],
    },
    Topic {
        heading: MATERIALS,
        display: "material preferences",
        kind: Kind::List,
        shopping: true,
        aliases: &[
            "materials",
            "material",
            "fabrics",
            "fabric",
            "materials to avoid",
            "material preferences",
        ],
    },
    Topic {
        heading: COLORS,
        display: "color preferences",
        kind: Kind::Single,
        shopping: true,
        aliases: &[
            "colors",
            "colours",
            "color",
            "colour",
            "favorite colors",
            "favourite colours",
            "favorite color",
            "favourite colour",
            "color preferences",
            "colour preferences",
        ],
    },
    Topic {
        heading: STYLE,
        display: "style",
        kind: Kind::Single,
        shopping: true,
        aliases: &["style", "styles", "style preferences", "fit"],
    },
    Topic {
        heading: BRANDS,
        display: "favorite brands",
        kind: Kind::Single,
        shopping: true,
        aliases: &[
            "brands",
            "brand",
            "favorite brands",
            "favourite brands",
            "favorite brand",
            "favourite brand",
        ],
    },
    Topic {
        heading: LOCATION,
        display: "location",
        kind: Kind::Single,
        shopping: false,
        aliases: &[
            "location",
            "city",
            "home",
            "hometown",
            "home town",
            "where they live",
        ],
    },
    Topic {
        heading: ADDRESS,
        display: "address",
        kind: Kind::Single,
        shopping: false,
        aliases: &[
            "address",
            "home address",
            "shipping address",
            "delivery address",
        ],
    },
    Topic {
        heading: BIRTHDAY,
        display: "birthday",
        kind: Kind::Single,
        shopping: false,
        aliases: &[
            "birthday",
            "birth date",
            "date of birth",
            "birthdate",
            "bday",
        ],
    },
    Topic {
        heading: DIET,
        display: "diet",
        kind: Kind::Single,
        shopping: false,
        aliases: &[
            "diet",
            "dietary",
            "dietary preferences",
            "dietary restrictions",
        ],
    },
    Topic {
        heading: ALLERGIES,
        display: "allergies",
        kind: Kind::List,
        shopping: false,
        aliases: &["allergies", "allergy"],
    },
    Topic {
        heading: WORK,
        display: "job",
        kind: Kind::Single,
        shopping: false,
        aliases: &["work", "job", "occupation", "profession", "career"],
    },
    Topic {
        heading: PETS,
        display: "pets",
        kind: Kind::List,
        shopping: false,
        aliases: &["pets", "pet"],
    },
    Topic {
        heading: LIKES,
        display: "likes",
        kind: Kind::List,
        shopping: false,
        aliases: &["likes", "interests", "hobbies", "things they like"],
    },
    Topic {
        heading: DISLIKES,
        display: "dislikes",
        kind: Kind::List,
        shopping: false,
        aliases: &["dislikes", "things they dislike"],
    },
    Topic {
        heading: PREFERENCES,
        display: "other preferences",
        kind: Kind::List,
        shopping: false,
        aliases: &["preferences", "other preferences"],
    },
    Topic {
        heading: REPLY_FORMAT,
        display: "reply format",
        kind: Kind::Single,
        shopping: false,
        aliases: &[
            "reply format",
            "answer format",
            "format",
            "communication style",
        ],
    },
    Topic {
        heading: RECOMMENDED,
        display: "past recommendations",
        kind: Kind::Replace,
        shopping: false,
        aliases: &["recommended", "recommendations", "past recommendations"],
    },
];

/// Lowercase, trimmed of punctuation and emoji at both ends, inner whitespace collapsed.
pub(super) fn norm_heading(heading: &str) -> String {
    let trimmed = heading.trim_matches(|c: char| !c.is_alphanumeric());
    trimmed
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The canonical topic a heading means, if any.
pub(super) fn canonical(heading: &str) -> Option<&'static Topic> {
    let h = norm_heading(heading);
    TOPICS
        .iter()
        .find(|t| t.heading.to_lowercase() == h || t.aliases.contains(&h.as_str()))
}

/// The key two sections are compared by: the canonical heading, or the normalised heading.
pub(super) fn topic_key(heading: &str) -> String {
    match canonical(heading) {
        Some(t) => t.heading.to_lowercase(),
        None => norm_heading(heading),
    }
}

pub(super) fn kind_of(heading: &str) -> Kind {
    canonical(heading).map_or(Kind::Single, |t| t.kind)
}

pub(super) fn is_shopping(heading: &str) -> bool {
    canonical(heading).is_some_and(|t| t.shopping)
}

/// How replies name a topic ("your <display>").
pub(super) fn display(heading: &str) -> String {
    match canonical(heading) {
        Some(t) => t.display.to_string(),
        None => norm_heading(heading),
    }
}

static LABELLED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^(\p{Lu}[\p{Ll}'’]*(?: [\p{Ll}'’]+){0,3}): (.+)$").expect("static regex")
});

static JUNK: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)^\(.*\)$|^(?:none|n/a|nothing|tbd|unknown|-+)\b|\bnone noted\b|\bnot (?:yet )?(?:noted|known|specified)\b|\bnoted yet\b",
    )
    .expect("static regex")
});

/// `Label: value` → (`Label`, `value`) when the line has that shape.
pub(super) fn split_label(item: &str) -> Option<(&str, &str)> {
    let caps = LABELLED.captures(item)?;
    let label = caps.get(1)?.as_str();
    let value = caps.get(2)?.as_str().trim();
    if value.is_empty() {
        return None;
    }
    Some((label, value))
}

/// A placeholder line such as "None noted yet" or "(No other restrictions noted yet)".
pub(super) fn is_junk(item: &str) -> bool {
    let t = item.trim();
    t.is_empty() || JUNK.is_match(t)
}

/// The value of a notes line: `Size: medium` → `medium`; a free-form line reads as itself, with
/// any leading `anything: ` label dropped.
pub(super) fn value_of(item: &str) -> String {
    if let Some((_, v)) = split_label(item) {
        return v.to_string();
    }
    match item.rsplit_once(": ") {
        Some((_, v)) if !v.trim().is_empty() => v.trim().to_string(),
        _ => item.trim().to_string(),
    }
}

/// How a notes line reads inside a reply list: `Size: medium` → `size medium`,
/// `Colors: earth tones` → `earth tones`, `Vegan leather only` → `vegan leather only`; anything
/// else as written.
pub(super) fn phrase(heading: &str, item: &str) -> String {
    let item = item.trim();
    if let Some((label, value)) = split_label(item) {
        let colorish = topic_key(heading) == "colors" && topic_key(label) == "colors";
        if colorish {
            return value.to_string();
        }
        return format!("{} {}", label.to_lowercase(), value);
    }
    lower_first(item)
}

/// Lowercases the first letter when the first word is an ordinary capitalised word
/// ("Vegan leather only"), keeping acronyms, names-only lines and mixed-case words as they are.
pub(super) fn lower_first(s: &str) -> String {
    let mut words = s.split(' ');
    let first = words.next().unwrap_or_default();
    let has_second = words.next().is_some();
    let mut chars = first.chars();
    let Some(c0) = chars.next() else {
        return s.to_string();
    };
    let rest_lower = chars.clone().all(|c| !c.is_uppercase());
    if has_second && c0.is_uppercase() && rest_lower && chars.count() > 0 {
        let mut out: String = c0.to_lowercase().collect();
        out.push_str(&s[c0.len_utf8()..]);
        out
    } else {
        s.to_string()
    }
}

/// Sentence case for a heading derived from the customer's words ("favorite sport" → "Favorite sport").
pub(super) fn sentence_case(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}
