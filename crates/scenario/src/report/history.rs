//! `history/<scenario>-<owner>-<store-name>.diff`: each store's version history as unified diffs (cma-history's
//! `text` renderer, without colour).

use std::fs;
use std::path::Path;

use cma_history::{Format, History, RenderOptions, render_history};

use crate::error::RunError;
use crate::outcome::RunReport;
use crate::record::StoreState;

pub(crate) fn write_all(report: &RunReport, dir: &Path) -> Result<(), RunError> {
    let stores = report
        .units
        .iter()
        .flat_map(|u| u.stores.iter().filter(|s| !s.shared))
        .chain(report.shared_stores.iter().map(|s| &s.store));
    let mut made_dir = false;
    for s in stores {
        if s.snapshot.is_none() {
            continue;
        }
        if !made_dir {
            fs::create_dir_all(dir).map_err(|e| RunError::io(dir, e))?;
            made_dir = true;
        }
        let path = dir.join(format!("{}.diff", s.file_stem()));
        fs::write(&path, render(s)).map_err(|e| RunError::io(&path, e))?;
    }
    Ok(())
}

/// The store's history as text diffs, headed by its name and id.
pub fn render(s: &StoreState) -> Vec<u8> {
    let versions = s
        .snapshot
        .as_ref()
        .map(|snap| snap.versions.clone())
        .unwrap_or_default();
    let history = History::from_memory_versions(s.store_id.clone(), versions);
    let mut out = format!(
        "# store {} ({}), {} at {}\n",
        s.name,
        s.store_id,
        s.access.as_str(),
        s.mount_path
    )
    .into_bytes();
    let options = RenderOptions {
        color: false,
        ..Default::default()
    };
    if let Err(e) = render_history(&history, Format::Text, &options, &mut out) {
        out.extend_from_slice(format!("\n(could not render the history: {e})\n").as_bytes());
    }
    out
}
