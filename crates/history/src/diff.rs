//! Line diffs with optional word-level emphasis, as hunks every renderer can walk.
//!
//! Lines are split on `\n` only, as git splits them. similar's own line tokenizer also ends a line
//! at a lone `\r`, which would make a patch that `git apply` reads differently from what we meant.

use std::fmt;
use std::ops::Range;
use std::str::FromStr;
use std::time::{Duration, Instant};

use similar::{Algorithm, ChangeTag, DiffOp, DiffTag, TextDiff, TextDiffConfig};

use crate::error::ParseError;

/// The line-diff algorithm (every one similar 3 offers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum DiffAlgorithm {
    /// Myers with similar's heuristics for hard inputs (the default, as in git).
    #[default]
    Myers,
    /// Myers without heuristics: a shortest edit script, possibly slow on pathological input.
    RawMyers,
    Patience,
    Histogram,
    Lcs,
    Hunt,
}

impl DiffAlgorithm {
    pub const ALL: [DiffAlgorithm; 6] = [
        DiffAlgorithm::Myers,
        DiffAlgorithm::RawMyers,
        DiffAlgorithm::Patience,
        DiffAlgorithm::Histogram,
        DiffAlgorithm::Lcs,
        DiffAlgorithm::Hunt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DiffAlgorithm::Myers => "myers",
            DiffAlgorithm::RawMyers => "raw-myers",
            DiffAlgorithm::Patience => "patience",
            DiffAlgorithm::Histogram => "histogram",
            DiffAlgorithm::Lcs => "lcs",
            DiffAlgorithm::Hunt => "hunt",
        }
    }

    fn to_similar(self) -> Algorithm {
        match self {
            DiffAlgorithm::Myers => Algorithm::Myers,
            DiffAlgorithm::RawMyers => Algorithm::RawMyers,
            DiffAlgorithm::Patience => Algorithm::Patience,
            DiffAlgorithm::Histogram => Algorithm::Histogram,
            DiffAlgorithm::Lcs => Algorithm::Lcs,
            DiffAlgorithm::Hunt => Algorithm::Hunt,
        }
    }
}

impl fmt::Display for DiffAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for DiffAlgorithm {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let wanted = s.trim().to_ascii_lowercase().replace('_', "-");
        DiffAlgorithm::ALL
            .into_iter()
            .find(|a| a.as_str() == wanted)
            .ok_or_else(|| {
                let names: Vec<_> = DiffAlgorithm::ALL.iter().map(|a| a.as_str()).collect();
                ParseError(format!(
                    "unknown diff algorithm {s:?}; expected one of {}",
                    names.join(", ")
                ))
            })
    }
}

/// How diffs are computed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiffOptions {
    /// Unchanged lines shown around each change (`git diff -U<n>`).
    pub context: usize,
    pub algorithm: DiffAlgorithm,
    /// After this long a line diff settles for a correct but possibly longer edit script.
    pub line_timeout: Duration,
    /// Word-level emphasis per diff gives up after this long (similar's default is 500 ms; a
    /// 10,000-version render cannot afford that per version).
    pub inline_timeout: Duration,
}

impl Default for DiffOptions {
    fn default() -> Self {
        DiffOptions {
            context: 3,
            algorithm: DiffAlgorithm::Myers,
            line_timeout: Duration::from_secs(2),
            inline_timeout: Duration::from_millis(100),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LineTag {
    Context,
    Removed,
    Added,
}

impl LineTag {
    pub(crate) fn sign(self) -> char {
        match self {
            LineTag::Context => ' ',
            LineTag::Removed => '-',
            LineTag::Added => '+',
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct DiffLine<'a> {
    pub(crate) tag: LineTag,
    /// Without its `\n`.
    pub(crate) text: &'a str,
    /// The last line of a text with no final newline.
    pub(crate) no_newline: bool,
    pub(crate) old_number: Option<usize>,
    pub(crate) new_number: Option<usize>,
    /// Byte ranges of `text` that changed within the line (word-level emphasis).
    pub(crate) emphasis: Vec<Range<usize>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Hunk<'a> {
    pub(crate) old_start: usize,
    pub(crate) old_len: usize,
    pub(crate) new_start: usize,
    pub(crate) new_len: usize,
    pub(crate) lines: Vec<DiffLine<'a>>,
}

impl Hunk<'_> {
    /// `@@ -a,b +c,d @@`, with git's conventions (`,1` omitted; an empty side starts one earlier).
    pub(crate) fn header(&self) -> String {
        format!(
            "@@ -{} +{} @@",
            range(self.old_start, self.old_len),
            range(self.new_start, self.new_len)
        )
    }
}

fn range(start: usize, len: usize) -> String {
    match len {
        0 => format!("{start},0"),
        1 => format!("{}", start + 1),
        _ => format!("{},{}", start + 1, len),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LineDiff<'a> {
    pub(crate) hunks: Vec<Hunk<'a>>,
    /// 0.0–1.0, similar's ratio of matching lines (used for `similarity index`).
    pub(crate) similarity: f32,
}

/// A rename's `similarity index`, in percent. Line ratios say 0% for a one-line file with one
/// changed word, so small texts are compared by characters; large ones by lines, to stay cheap.
pub(crate) fn similarity_percent(
    old: &str,
    new: &str,
    line_ratio: f32,
    options: &DiffOptions,
) -> u32 {
    let ratio = if old.len() + new.len() <= 8 * 1024 {
        TextDiffConfig::default()
            .timeout(options.line_timeout)
            .diff_chars(old, new)
            .ratio()
    } else {
        line_ratio
    };
    (ratio * 100.0).floor().clamp(0.0, 100.0) as u32
}

pub(crate) fn split_lines(text: &str) -> Vec<&str> {
    text.split_inclusive('\n').collect()
}

/// Diffs `old` against `new`; `emphasis` adds word-level ranges to replaced lines.
pub(crate) fn diff_lines<'a>(
    old: &'a str,
    new: &'a str,
    options: &DiffOptions,
    emphasis: bool,
) -> LineDiff<'a> {
    let old_lines = split_lines(old);
    let new_lines = split_lines(new);
    let diff = TextDiffConfig::default()
        .algorithm(options.algorithm.to_similar())
        .timeout(options.line_timeout)
        .diff_slices(&old_lines, &new_lines);
    let deadline = Instant::now() + options.inline_timeout;
    let mut hunks = Vec::new();
    // similar doubles the context internally; a huge `--context` must not overflow.
    for group in diff.grouped_ops(options.context.min(1 << 30)) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        let mut hunk = Hunk {
            old_start: first.old_range().start,
            old_len: last.old_range().end - first.old_range().start,
            new_start: first.new_range().start,
            new_len: last.new_range().end - first.new_range().start,
            lines: Vec::new(),
        };
        for op in &group {
            push_op(
                &diff,
                op,
                &old_lines,
                &new_lines,
                emphasis.then_some(deadline),
                &mut hunk.lines,
            );
        }
        hunks.push(hunk);
    }
    LineDiff {
        hunks,
        similarity: diff.ratio(),
    }
}

fn push_op<'a>(
    diff: &TextDiff<'_, '_, str>,
    op: &DiffOp,
    old_lines: &[&'a str],
    new_lines: &[&'a str],
    emphasis_deadline: Option<Instant>,
    out: &mut Vec<DiffLine<'a>>,
) {
    let line = |tag: ChangeTag, old_index: Option<usize>, new_index: Option<usize>| {
        let (tag, raw) = match tag {
            ChangeTag::Equal => (LineTag::Context, old_index.and_then(|i| old_lines.get(i))),
            ChangeTag::Delete => (LineTag::Removed, old_index.and_then(|i| old_lines.get(i))),
            ChangeTag::Insert => (LineTag::Added, new_index.and_then(|i| new_lines.get(i))),
        };
        let raw: &'a str = raw.copied().unwrap_or("");
        let text = raw.strip_suffix('\n').unwrap_or(raw);
        DiffLine {
            tag,
            text,
            no_newline: !raw.ends_with('\n'),
            old_number: old_index.map(|i| i + 1),
            new_number: new_index.map(|i| i + 1),
            emphasis: Vec::new(),
        }
    };
    match emphasis_deadline {
        Some(deadline) if op.tag() == DiffTag::Replace => {
            for change in diff.iter_inline_changes_deadline(op, Some(deadline)) {
                let mut l = line(change.tag(), change.old_index(), change.new_index());
                let values = change.values();
                let total: usize = values.iter().map(|(_, s)| s.len()).sum();
                let ranges =
                    emphasized_ranges(values.iter().map(|(e, s)| (*e, s.len())), l.text.len());
                // Emphasis is decoration: if the pieces do not tile the line exactly, drop it
                // rather than risk slicing inside a character.
                let raw_len = l.text.len() + usize::from(!l.no_newline);
                if total == raw_len
                    && ranges
                        .iter()
                        .all(|r| l.text.is_char_boundary(r.start) && l.text.is_char_boundary(r.end))
                {
                    l.emphasis = ranges;
                }
                out.push(l);
            }
        }
        _ => {
            for change in diff.iter_changes(op) {
                out.push(line(change.tag(), change.old_index(), change.new_index()));
            }
        }
    }
}

/// Inline values are consecutive pieces of the line, so their lengths give byte offsets.
/// Ranges are clipped to `text_len` (the newline is never emphasised).
fn emphasized_ranges(
    values: impl Iterator<Item = (bool, usize)>,
    text_len: usize,
) -> Vec<Range<usize>> {
    let mut ranges: Vec<Range<usize>> = Vec::new();
    let mut offset = 0;
    for (emphasized, len) in values {
        let start = offset.min(text_len);
        offset += len;
        let end = offset.min(text_len);
        if emphasized && start < end {
            match ranges.last_mut() {
                Some(last) if last.end == start => last.end = end,
                _ => ranges.push(start..end),
            }
        }
    }
    ranges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hunk_headers_follow_git() {
        let d = diff_lines("", "a\nb\n", &DiffOptions::default(), false);
        assert_eq!(d.hunks[0].header(), "@@ -0,0 +1,2 @@");
        let d = diff_lines("a\n", "", &DiffOptions::default(), false);
        assert_eq!(d.hunks[0].header(), "@@ -1 +0,0 @@");
    }

    #[test]
    fn a_lone_carriage_return_does_not_end_a_line() {
        let d = diff_lines("a\rb\n", "a\rc\n", &DiffOptions::default(), false);
        let texts: Vec<_> = d.hunks[0]
            .lines
            .iter()
            .map(|l| (l.tag.sign(), l.text))
            .collect();
        assert_eq!(texts, [('-', "a\rb"), ('+', "a\rc")]);
    }

    #[test]
    fn marks_the_missing_final_newline_and_emphasises_words() {
        let d = diff_lines(
            "size: medium\n",
            "size: large",
            &DiffOptions::default(),
            true,
        );
        let lines = &d.hunks[0].lines;
        assert!(!lines[0].no_newline && lines[1].no_newline);
        let added = &lines[1];
        let emphasized: Vec<_> = added
            .emphasis
            .iter()
            .map(|r| &added.text[r.clone()])
            .collect();
        assert_eq!(emphasized, ["large"]);
    }

    #[test]
    fn a_huge_context_shows_the_whole_file() {
        let options = DiffOptions {
            context: usize::MAX,
            ..DiffOptions::default()
        };
        let d = diff_lines("a\nb\nc\nd\n", "a\nb\nC\nd\n", &options, false);
        assert_eq!(d.hunks.len(), 1);
        assert_eq!(d.hunks[0].lines.len(), 5);
    }

    #[test]
    fn algorithm_names_round_trip() {
        for a in DiffAlgorithm::ALL {
            assert_eq!(a.as_str().parse::<DiffAlgorithm>().expect("round trip"), a);
        }
        assert!("quantum".parse::<DiffAlgorithm>().is_err());
    }
}
