//! `html`: one standalone page (inline CSS, no scripts, no external resources); every piece of
//! memory content, path and id is escaped.

use std::io::{self, Write};

use crate::change::{ChangeKind, Entry, Note};
use crate::diff::{DiffLine, LineTag, diff_lines};
use crate::render::names::note_text;
use crate::render::{RenderOptions, Subject};
use crate::time::format_time;

const STYLE: &str = "\
body{font:14px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1f2328}\
h1{font-size:1.4rem}h2{font-size:1.05rem;margin:0 0 .3rem}\
section{border:1px solid #d0d7de;border-radius:6px;margin:1rem 0;padding:.75rem}\
.meta,.note{color:#59636e;margin:.2rem 0}.note{font-style:italic}\
.op{display:inline-block;border-radius:4px;padding:0 .4rem;margin-right:.4rem;background:#eaeef2;font-weight:600}\
.created .op{background:#dafbe1}.deleted .op{background:#ffebe9}.redacted .op{background:#fff8c5}\
table{border-collapse:collapse;width:100%;font:12px/1.4 ui-monospace,monospace}\
td{padding:0 .5rem;white-space:pre-wrap;word-break:break-all;vertical-align:top}\
td.ln{color:#8c959f;text-align:right;width:1%;white-space:nowrap;user-select:none}\
tr.hunk td{background:#ddf4ff;color:#0969da}tr.del td.code{background:#ffebe9}tr.add td.code{background:#e6ffec}\
tr.del em{background:#ffc1c0;font-style:normal}tr.add em{background:#abf2bc;font-style:normal}\
.nonl{color:#8c959f}code{font-family:ui-monospace,monospace}";

/// Escapes text for HTML element content and attribute values (the run page uses it too).
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

pub(crate) fn render(
    subject: &Subject<'_>,
    entries: &mut dyn Iterator<Item = Entry<'_>>,
    options: &RenderOptions,
    out: &mut dyn Write,
) -> io::Result<()> {
    let store = escape(subject.store_id());
    let (title, subtitle) = match subject {
        Subject::History { .. } => (format!("Memory store {store}: history"), String::new()),
        Subject::SnapshotDiff { from, to } => (
            format!(
                "Memory store {store}: {} → {}",
                escape(&from.point.to_string()),
                escape(&to.point.to_string())
            ),
            format!(
                "<p class=\"meta\">from {} to {}</p>",
                escape(&format_time(&from.as_of)),
                escape(&format_time(&to.as_of))
            ),
        ),
    };
    write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{title}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n<h1>{title}</h1>\n{subtitle}\n"
    )?;
    let mut any = false;
    for entry in entries {
        any = true;
        render_entry(&entry, options, out)?;
    }
    if !any {
        writeln!(out, "<p class=\"note\">No changes.</p>")?;
    }
    writeln!(out, "</body>\n</html>")
}

fn render_entry(entry: &Entry<'_>, options: &RenderOptions, out: &mut dyn Write) -> io::Result<()> {
    let change = &entry.change;
    let kind = change.kind();
    let path = match (&change.old, &change.new) {
        (Some(o), Some(n)) if o.path != n.path => {
            format!("{} → {}", escape(o.path), escape(n.path))
        }
        (_, Some(s)) | (Some(s), None) => escape(s.path),
        (None, None) => "[redacted]".to_string(),
    };
    writeln!(out, "<section class=\"{}\">", kind.as_str())?;
    writeln!(
        out,
        "<h2><span class=\"op\">{}</span><code>{path}</code></h2>",
        kind.as_str()
    )?;
    if let Some(v) = entry.version {
        writeln!(
            out,
            "<p class=\"meta\"><code>{}</code> · {} · <time datetime=\"{t}\">{t}</time> · {}</p>",
            escape(&v.id),
            escape(v.operation.as_str()),
            escape(&v.author_label()),
            t = escape(&format_time(&v.created_at)),
        )?;
    }
    if let Some(note) = &change.note {
        writeln!(
            out,
            "<p class=\"note\">{}</p>",
            escape(&note_text(note, kind))
        )?;
    }
    let old = change.old.and_then(|s| s.content);
    let new = change.new.and_then(|s| s.content);
    let diffable =
        (change.old.is_none() || old.is_some()) && (change.new.is_none() || new.is_some());
    let redacted = matches!(change.note, Some(Note::Redacted { .. }));
    if diffable && !redacted && kind != ChangeKind::Renamed && kind != ChangeKind::Unchanged {
        let diff = diff_lines(old.unwrap_or(""), new.unwrap_or(""), &options.diff, true);
        if diff.hunks.is_empty() {
            writeln!(out, "<p class=\"note\">(empty)</p>")?;
        } else {
            writeln!(out, "<table>")?;
            for hunk in &diff.hunks {
                writeln!(
                    out,
                    "<tr class=\"hunk\"><td class=\"ln\"></td><td class=\"ln\"></td><td>{}</td></tr>",
                    hunk.header()
                )?;
                for line in &hunk.lines {
                    row(out, line)?;
                }
            }
            writeln!(out, "</table>")?;
        }
    }
    writeln!(out, "</section>")
}

fn row(out: &mut dyn Write, line: &DiffLine<'_>) -> io::Result<()> {
    let class = match line.tag {
        LineTag::Context => "ctx",
        LineTag::Removed => "del",
        LineTag::Added => "add",
    };
    let number = |n: Option<usize>| n.map_or_else(String::new, |n| n.to_string());
    write!(
        out,
        "<tr class=\"{class}\"><td class=\"ln\">{}</td><td class=\"ln\">{}</td><td class=\"code\">{}",
        number(line.old_number),
        number(line.new_number),
        line.tag.sign()
    )?;
    let mut at = 0;
    for r in &line.emphasis {
        write!(
            out,
            "{}<em>{}</em>",
            escape(&line.text[at..r.start]),
            escape(&line.text[r.clone()])
        )?;
        at = r.end;
    }
    write!(out, "{}", escape(&line.text[at..]))?;
    if line.no_newline {
        write!(
            out,
            "<span class=\"nonl\"> \\ No newline at end of file</span>"
        )?;
    }
    writeln!(out, "</td></tr>")
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            super::escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
