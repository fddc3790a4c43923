//! The notes file: parsing any Markdown-ish file into sections, rendering the canonical form,
//! applying what was learned or forgotten, and planning section-level `edit` calls.

use super::topics::{self, Kind};

/// Where a line of knowledge came from (decides how a reply introduces it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Origin {
    /// Read from a memory file in this session.
    Memory,
    /// Said by the customer earlier in this session but not read back from memory.
    Conversation,
    /// Learned from the current message.
    ThisTurn,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Item {
    pub text: String,
    pub origin: Origin,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Section {
    /// The heading as written (without the `#` marks).
    pub heading: String,
    pub items: Vec<Item>,
}

impl Section {
    pub fn key(&self) -> String {
        topics::topic_key(&self.heading)
    }
}

/// A notes file: the lines before the first section, then `## Heading` sections of items.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Doc {
    pub preamble: Vec<String>,
    pub sections: Vec<Section>,
}

/// One thing learned: a line for a topic's section.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Fact {
    /// The section heading (canonical for known topics).
    pub topic: String,
    /// The notes line, e.g. `Size: medium`.
    pub text: String,
    /// "also"/"too": add to a single-valued topic instead of replacing it.
    pub add: bool,
}

/// What to forget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Forget {
    /// Everything about the customer.
    All,
    /// Whole sections whose topic key is in `keys`; when none of them exists, the lines that
    /// contain all of `words` (lowercase).
    Target {
        keys: Vec<String>,
        words: Vec<String>,
        /// How the confirmation names it: "your budget" (topical) or "hiking".
        label: String,
        topical: bool,
    },
}

/// A change to the notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Op {
    Learn(Fact),
    Forget(Forget),
    /// The agent's own recommendations (replaces the `Recommended` section).
    Recommend(Vec<String>),
}

pub(super) const TITLE: &str = "# Customer notes";

fn item_text(line: &str) -> &str {
    let t = line.trim();
    for p in ["- ", "* ", "+ "] {
        if let Some(rest) = t.strip_prefix(p) {
            return rest.trim();
        }
    }
    // "1. text"
    let digits = t.chars().take_while(char::is_ascii_digit).count();
    if digits > 0 && digits < 4 {
        let rest = &t[digits..];
        if let Some(r) = rest.strip_prefix(". ").or_else(|| rest.strip_prefix(") ")) {
            return r.trim();
        }
    }
    t
}

fn heading_of(line: &str) -> Option<(usize, &str)> {
    let t = line.trim_end();
    let level = t.chars().take_while(|&c| c == '#').count();
    if level == 0 || level > 6 {
        return None;
    }
    let rest = &t[level..];
    let text = rest.strip_prefix(' ')?.trim();
    if text.is_empty() {
        return None;
    }
    Some((level, text))
}

impl Doc {
    /// Parses any text: `#` headings before the first `##`+ heading form the preamble; later
    /// headings of any level start sections; every other non-empty line is an item (bullet marks
    /// stripped). Never fails.
    pub fn parse(content: &str, origin: Origin) -> Doc {
        let mut doc = Doc::default();
        for line in content.lines() {
            if let Some((level, text)) = heading_of(line) {
                if level == 1 && doc.sections.is_empty() {
                    doc.preamble.push(line.trim_end().to_string());
                } else {
                    doc.sections.push(Section {
                        heading: text.to_string(),
                        items: Vec::new(),
                    });
                }
                continue;
            }
            if line.trim().is_empty() {
                if doc.sections.is_empty() {
                    doc.preamble.push(String::new());
                }
                continue;
            }
            match doc.sections.last_mut() {
                Some(s) => {
                    let text = item_text(line);
                    if !text.is_empty() {
                        s.items.push(Item {
                            text: text.to_string(),
                            origin,
                        });
                    }
                }
                None => doc.preamble.push(line.trim_end().to_string()),
            }
        }
        while doc.preamble.last().is_some_and(String::is_empty) {
            doc.preamble.pop();
        }
        doc
    }

    pub fn is_empty(&self) -> bool {
        self.sections.iter().all(|s| s.items.is_empty())
    }

    fn preamble_text(&self) -> String {
        if self.preamble.is_empty() {
            format!("{TITLE}\n")
        } else {
            let mut s = self.preamble.join("\n");
            s.push('\n');
            s
        }
    }

    /// The canonical text: preamble (or `# Customer notes`), then `\n## Heading\n- item\n…` per
    /// non-empty section.
    pub fn render(&self) -> String {
        let mut out = self.preamble_text();
        for s in self.sections.iter().filter(|s| !s.items.is_empty()) {
            out.push_str(&chunk(s));
        }
        out
    }

    /// Same texts (origins ignored).
    pub fn same_text(&self, other: &Doc) -> bool {
        self.render() == other.render()
    }

    pub fn section(&self, key: &str) -> Option<&Section> {
        self.sections.iter().find(|s| s.key() == key)
    }

    fn section_mut(&mut self, key: &str) -> Option<&mut Section> {
        self.sections.iter_mut().find(|s| s.key() == key)
    }

    fn remove_key(&mut self, key: &str) -> bool {
        let before = self.item_count();
        self.sections.retain(|s| s.key() != key);
        before != self.item_count()
    }

    fn item_count(&self) -> usize {
        self.sections.iter().map(|s| s.items.len()).sum()
    }

    fn drop_empty(&mut self) {
        self.sections.retain(|s| !s.items.is_empty());
    }

    /// Applies one change; returns whether anything changed.
    pub fn apply(&mut self, op: &Op, origin: Origin) -> bool {
        let changed = match op {
            Op::Learn(f) => self.learn(f, origin),
            Op::Forget(Forget::All) => {
                let had = !self.is_empty();
                self.sections.clear();
                had
            }
            Op::Forget(Forget::Target { keys, words, .. }) => {
                let mut changed = false;
                for k in keys {
                    changed |= self.remove_key(k);
                }
                if !changed && !words.is_empty() {
                    let before = self.item_count();
                    for s in &mut self.sections {
                        if s.key() == "recommended" {
                            continue;
                        }
                        s.items.retain(|i| {
                            let low = i.text.to_lowercase();
                            !words.iter().all(|w| contains_word(&low, w))
                        });
                    }
                    changed = before != self.item_count();
                }
                changed
            }
            Op::Recommend(lines) => {
                let new_items: Vec<Item> = lines
                    .iter()
                    .map(|l| Item {
                        text: l.clone(),
                        origin,
                    })
                    .collect();
                match self.section_mut("recommended") {
                    Some(s) => {
                        let same = s.items.iter().map(|i| &i.text).eq(lines.iter());
                        if same {
                            false
                        } else {
                            s.items = new_items;
                            true
                        }
                    }
                    None if lines.is_empty() => false,
                    None => {
                        self.sections.push(Section {
                            heading: topics::RECOMMENDED.to_string(),
                            items: new_items,
                        });
                        true
                    }
                }
            }
        };
        if changed {
            // Recommendations made under old constraints go stale when a shopping topic changes.
            let stale = match op {
                Op::Learn(f) => topics::is_shopping(&f.topic),
                Op::Forget(Forget::Target { keys, .. }) => {
                    keys.is_empty()
                        || keys
                            .iter()
                            .any(|k| topics::is_shopping(k) || topics::canonical(k).is_none())
                }
                Op::Forget(Forget::All) => true,
                Op::Recommend(_) => false,
            };
            if stale {
                self.remove_key("recommended");
            }
            self.drop_empty();
        }
        changed
    }

    fn learn(&mut self, f: &Fact, origin: Origin) -> bool {
        let key = topics::topic_key(&f.topic);
        let new_item = Item {
            text: f.text.clone(),
            origin,
        };
        let kind = topics::kind_of(&f.topic);
        // Likes and dislikes of the same thing contradict each other.
        let mut changed = false;
        if let Some((other, contradicted)) = opposite(&f.text)
            && let Some(s) = self.section_mut(&topics::topic_key(other))
        {
            let before = s.items.len();
            s.items.retain(|i| i.text.to_lowercase() != contradicted);
            changed |= before != s.items.len();
        }
        let Some(s) = self.section_mut(&key) else {
            self.sections.push(Section {
                heading: f.topic.clone(),
                items: vec![new_item],
            });
            return true;
        };
        match kind {
            Kind::List => {
                if s.items.iter().any(|i| i.text.eq_ignore_ascii_case(&f.text)) {
                    return changed;
                }
                s.items.push(new_item);
                true
            }
            Kind::Single | Kind::Replace => {
                if f.add
                    && let (Some(last), Some((label, value))) =
                        (s.items.last_mut(), topics::split_label(&f.text))
                    && let Some((old_label, old_value)) = topics::split_label(&last.text)
                    && old_label == label
                {
                    if contains_word(&old_value.to_lowercase(), &value.to_lowercase()) {
                        return changed;
                    }
                    // Keeps its origin: the old part is still what was remembered.
                    last.text = format!("{label}: {old_value}, {value}");
                    return true;
                }
                if s.items.len() == 1 && s.items[0].text == f.text {
                    return changed;
                }
                s.items = vec![new_item];
                true
            }
        }
    }
}

/// `Likes X` ↔ `Dislikes X`: the other topic and the (lowercase) line it contradicts.
fn opposite(text: &str) -> Option<(&'static str, String)> {
    if let Some(obj) = text.strip_prefix("Likes ") {
        return Some((topics::DISLIKES, format!("dislikes {}", obj.to_lowercase())));
    }
    if let Some(obj) = text.strip_prefix("Dislikes ") {
        return Some((topics::LIKES, format!("likes {}", obj.to_lowercase())));
    }
    None
}

/// Whether `word` occurs in `hay` at word boundaries (both already lowercase).
pub(super) fn contains_word(hay: &str, word: &str) -> bool {
    if word.is_empty() {
        return false;
    }
    let mut start = 0;
    while let Some(pos) = hay[start..].find(word) {
        let at = start + pos;
        let end = at + word.len();
        let before_ok = hay[..at]
            .chars()
            .next_back()
            .is_none_or(|c| !c.is_alphanumeric());
        let after_ok = hay[end..]
            .chars()
            .next()
            .is_none_or(|c| !c.is_alphanumeric());
        if before_ok && after_ok {
            return true;
        }
        start = at + word.chars().next().map_or(1, char::len_utf8);
        if start >= hay.len() {
            break;
        }
    }
    false
}

/// The text of one section as it appears in a canonical file (`\n## H\n- a\n- b\n`).
fn chunk(s: &Section) -> String {
    let mut out = format!("\n## {}\n", s.heading);
    for i in &s.items {
        out.push_str("- ");
        out.push_str(&i.text);
        out.push('\n');
    }
    out
}

/// The `edit` calls (old_string, new_string) that turn `content` (whose parse is `old`) into
/// `new.render()`, one per changed section; `None` when the file is not in canonical form or a
/// section's text is not unique (then the caller writes the whole file).
pub(super) fn plan_edits(content: &str, old: &Doc, new: &Doc) -> Option<Vec<(String, String)>> {
    if content.is_empty() || old.render() != content {
        return None;
    }
    let mut headings: Vec<&str> = old.sections.iter().map(|s| s.heading.as_str()).collect();
    headings.sort_unstable();
    if headings.windows(2).any(|w| w[0] == w[1]) {
        return None;
    }
    let mut current = content.to_string();
    let mut edits = Vec::new();
    let mut push = |current: &mut String, old_s: String, new_s: String| -> Option<()> {
        if current.matches(&old_s).count() != 1 {
            return None;
        }
        *current = current.replacen(&old_s, &new_s, 1);
        edits.push((old_s, new_s));
        Some(())
    };
    for s in &old.sections {
        let old_chunk = chunk(s);
        match new.sections.iter().find(|n| n.heading == s.heading) {
            None => push(&mut current, old_chunk, String::new())?,
            Some(n) if n.items.is_empty() => push(&mut current, old_chunk, String::new())?,
            Some(n) => {
                let new_chunk = chunk(n);
                if new_chunk != old_chunk {
                    push(&mut current, old_chunk, new_chunk)?;
                }
            }
        }
    }
    for n in new.sections.iter().filter(|n| !n.items.is_empty()) {
        if old.sections.iter().any(|s| s.heading == n.heading) {
            continue;
        }
        // Append after the current last section (or after the title).
        let anchor = new
            .sections
            .iter()
            .take_while(|x| x.heading != n.heading)
            .filter(|x| !x.items.is_empty())
            .last()
            .map_or_else(|| new.preamble_text(), chunk);
        let replacement = format!("{anchor}{}", chunk(n));
        push(&mut current, anchor, replacement)?;
    }
    if current != new.render() {
        return None;
    }
    Some(edits)
}
