//! A store: its version history as coloured diffs (cma-history's `html` renderer, its body
//! embedded) and its final memories.

use std::fmt::Write;

use cma_history::{Format, History, RenderOptions, render_history};

use super::escape;
use crate::record::StoreState;

/// `open`: shown expanded (a failing unit's stores, when failing units are few).
pub(super) fn render(h: &mut String, s: &StoreState, history: bool, open: bool) {
    let _ = writeln!(
        h,
        "<details class=\"store\"{}>\n<summary>store <b>{}</b> <code>{}</code> · {} at <code>{}</code>{}</summary>",
        if open { " open" } else { "" },
        escape(&s.name),
        escape(&s.store_id),
        escape(s.access.as_str()),
        escape(&s.mount_path),
        s.snapshot
            .as_ref()
            .map(|snap| format!(
                " · {} memories, {} versions",
                snap.memories.len(),
                snap.versions.len()
            ))
            .unwrap_or_else(|| " · not read".into())
    );
    let Some(snap) = &s.snapshot else {
        h.push_str("<p class=\"meta\">The run did not read this store.</p>\n</details>\n");
        return;
    };
    h.push_str("<h3>Final memories</h3>\n");
    if snap.memories.is_empty() {
        h.push_str("<p class=\"meta\">(none)</p>\n");
    }
    for m in &snap.memories {
        let _ = writeln!(
            h,
            "<div class=\"memory\"><code>{}</code><pre class=\"msg user\">{}</pre></div>",
            escape(&m.path),
            escape(&m.content)
        );
    }
    if !history {
        let _ = writeln!(
            h,
            "<p class=\"meta\">History: <code>history/{}.diff</code> (diffs are inlined only for failing units in runs this large).</p>\n</details>",
            escape(&s.file_stem())
        );
        return;
    }
    h.push_str("<h3>History</h3>\n<div class=\"history\">\n");
    h.push_str(&history_fragment(s));
    h.push_str("</div>\n</details>\n");
}

/// The body of cma-history's page for the store, without its title: the renderer escapes every
/// piece of content, so its `<body>` tags are the page's own.
fn history_fragment(s: &StoreState) -> String {
    let versions = s
        .snapshot
        .as_ref()
        .map(|snap| snap.versions.clone())
        .unwrap_or_default();
    let history = History::from_memory_versions(s.store_id.clone(), versions);
    let mut out = Vec::new();
    if let Err(e) = render_history(&history, Format::Html, &RenderOptions::default(), &mut out) {
        return format!(
            "<p class=\"problem\">could not render the history: {}</p>\n",
            escape(&e.to_string())
        );
    }
    let page = String::from_utf8_lossy(&out);
    let body = page
        .split_once("<body>")
        .and_then(|(_, rest)| rest.rsplit_once("</body>"))
        .map(|(body, _)| body)
        .unwrap_or("");
    body.lines().filter(|l| !l.starts_with("<h1>")).fold(
        String::with_capacity(body.len()),
        |mut acc, l| {
            acc.push_str(l);
            acc.push('\n');
            acc
        },
    )
}
