//! The notes file: one fact per line under a title, changed in place.
//!
//! Any file parses (headings and blank lines are kept as they are, every other line is a fact),
//! so a file seeded by someone else is edited, not rewritten. Changes are planned as one `edit`
//! of the smallest unique stretch of lines that differs, so an update is one `modified` version.

use super::facts::{self, Fact};
use super::text::{self, stems_match};
use std::collections::BTreeSet;

/// The title of a notes file the agent creates.
pub(super) const TITLE: &str = "# Customer notes";

#[derive(Debug, Clone, PartialEq, Eq)]
struct RawLine {
    raw: String,
    /// The fact on this line (bullet marks stripped), if it is not a heading or blank.
    fact: Option<String>,
}

/// A parsed notes file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(super) struct Notes {
    lines: Vec<RawLine>,
}

/// What learning one fact did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Learned {
    Added,
    Updated,
    Unchanged,
}

fn fact_text(line: &str) -> Option<String> {
    let t = line.trim();
    if t.is_empty() || t.starts_with('#') || t.chars().all(|c| !c.is_alphanumeric()) {
        return None;
    }
    let t = ["- ", "* ", "+ "]
        .iter()
        .find_map(|p| t.strip_prefix(p))
        .unwrap_or(t)
        .trim();
    (!t.is_empty()).then(|| t.to_string())
}

fn same_text(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().trim_end_matches('.').to_lowercase();
    norm(a) == norm(b)
}

impl Notes {
    pub fn parse(content: &str) -> Notes {
        Notes {
            lines: content
                .lines()
                .map(|l| RawLine {
                    raw: l.to_string(),
                    fact: fact_text(l),
                })
                .collect(),
        }
    }

    pub fn facts(&self) -> Vec<Fact> {
        self.lines
            .iter()
            .filter_map(|l| l.fact.as_deref())
            .map(facts::from_note)
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.iter().all(|l| l.fact.is_none())
    }

    pub fn render(&self) -> String {
        if self.is_empty() {
            return String::new();
        }
        let mut s: String = self
            .lines
            .iter()
            .map(|l| l.raw.as_str())
            .collect::<Vec<_>>()
            .join("\n");
        s.push('\n');
        s
    }

    fn line_for(text: &str) -> RawLine {
        RawLine {
            raw: format!("- {text}"),
            fact: Some(text.to_string()),
        }
    }

    /// Keeps `fact`: nothing when the same text is there, else it replaces the facts about the
    /// same subject (in place of the first of them), else it goes after the last fact.
    pub fn learn(&mut self, fact: &Fact) -> Learned {
        if self
            .lines
            .iter()
            .any(|l| l.fact.as_deref().is_some_and(|f| same_text(f, &fact.text)))
        {
            return Learned::Unchanged;
        }
        let replaced: Vec<usize> = match (&fact.subject, fact.additive) {
            (Some(new), false) => self
                .lines
                .iter()
                .enumerate()
                .filter(|(_, l)| {
                    l.fact.as_deref().is_some_and(|f| {
                        facts::from_note(f)
                            .subject
                            .is_some_and(|old| new.replaces(&old))
                    })
                })
                .map(|(i, _)| i)
                .collect(),
            _ => Vec::new(),
        };
        if let Some(&first) = replaced.first() {
            self.lines[first] = Self::line_for(&fact.text);
            for &i in replaced[1..].iter().rev() {
                self.lines.remove(i);
            }
            return Learned::Updated;
        }
        if self.lines.is_empty() {
            self.lines.push(RawLine {
                raw: TITLE.to_string(),
                fact: None,
            });
            self.lines.push(RawLine {
                raw: String::new(),
                fact: None,
            });
        }
        let at = self
            .lines
            .iter()
            .rposition(|l| l.fact.is_some())
            .map_or(self.lines.len(), |i| i + 1);
        self.lines.insert(at, Self::line_for(&fact.text));
        Learned::Added
    }

    /// Removes the facts that match every target stem (or, when none does, any of them); returns
    /// the removed facts' texts.
    pub fn forget(&mut self, targets: &BTreeSet<String>) -> Vec<String> {
        let matching = |all: bool| -> Vec<usize> {
            self.lines
                .iter()
                .enumerate()
                .filter(|(_, l)| {
                    l.fact.as_deref().is_some_and(|f| {
                        let stems = facts::from_note(f).stems();
                        let hit = |t: &String| stems.iter().any(|s| stems_match(s, t));
                        if all {
                            targets.iter().all(hit)
                        } else {
                            targets.iter().any(hit)
                        }
                    })
                })
                .map(|(i, _)| i)
                .collect()
        };
        if targets.is_empty() {
            return Vec::new();
        }
        let mut hits = matching(true);
        if hits.is_empty() {
            hits = matching(false);
        }
        let mut removed = Vec::new();
        for &i in hits.iter().rev() {
            let line = self.lines.remove(i);
            removed.push(line.fact.unwrap_or_default());
        }
        removed.reverse();
        removed
    }
}

/// A line of a memory file that can be quoted, with the stems it is found by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct StoreLine {
    pub text: String,
    /// The line's content stems and those of its section heading ("## Returns").
    pub stems: BTreeSet<String>,
}

/// The lines of any memory file worth quoting: facts, without headings or blank lines. A
/// section heading (level 2 or deeper) lends its words to the lines below it; a file's title
/// does not (it names the whole file, not one line).
pub(super) fn quotable_lines(content: &str) -> Vec<StoreLine> {
    let mut heading = BTreeSet::new();
    let mut out = Vec::new();
    for raw in content.lines() {
        let t = raw.trim();
        if t.starts_with("##") {
            heading = text::content_stems(t.trim_start_matches('#'));
            continue;
        }
        let Some(line) = fact_text(raw) else { continue };
        let own = text::content_stems(&line);
        if own.is_empty() {
            continue;
        }
        out.push(StoreLine {
            text: line,
            stems: own.union(&heading).cloned().collect(),
        });
    }
    out
}

/// One `edit` (old_string, new_string) that turns `old` into `new`: the smallest stretch of whole
/// lines that differs, widened until it occurs exactly once in `old`. `None` when no such
/// stretch exists (then the caller writes the whole file).
pub(super) fn plan_edit(old: &str, new: &str) -> Option<(String, String)> {
    if old.is_empty() || new.is_empty() || old == new {
        return None;
    }
    let a: Vec<&str> = old.split_inclusive('\n').collect();
    let b: Vec<&str> = new.split_inclusive('\n').collect();
    let mut prefix = 0;
    while prefix < a.len() && prefix < b.len() && a[prefix] == b[prefix] {
        prefix += 1;
    }
    let mut suffix = 0;
    while suffix < a.len() - prefix
        && suffix < b.len() - prefix
        && a[a.len() - 1 - suffix] == b[b.len() - 1 - suffix]
    {
        suffix += 1;
    }
    let (mut lo, mut hi_a, mut hi_b) = (prefix, a.len() - suffix, b.len() - suffix);
    loop {
        let old_s: String = a[lo..hi_a].concat();
        let new_s: String = b[lo..hi_b].concat();
        if !old_s.is_empty() && old.matches(&old_s).count() == 1 {
            return Some((old_s, new_s));
        }
        if lo == 0 && hi_a == a.len() {
            return None;
        }
        if lo > 0 {
            lo -= 1;
        } else {
            hi_a += 1;
            hi_b += 1;
        }
    }
}
