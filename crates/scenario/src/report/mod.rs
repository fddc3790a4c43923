//! Report files under `<reports-dir>/<run-id>/`: `results.csv`, `summary.md`, `junit.xml`,
//! `run.json` and `history/<store-name>.diff`, with `<reports-dir>/latest` pointing at the newest
//! run (a symlink, or a text file holding the run id where symlinks cannot be made).

mod csv;
mod history;
mod junit;
mod summary;

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::RunError;
use crate::outcome::RunReport;

pub use summary::markdown as summary_markdown;

/// Names of the files a run writes, relative to its directory.
pub const RESULTS_CSV: &str = "results.csv";
pub const SUMMARY_MD: &str = "summary.md";
pub const JUNIT_XML: &str = "junit.xml";
pub const RUN_JSON: &str = "run.json";
pub const HISTORY_DIR: &str = "history";

/// Writes every report of `report` to `root/<run-id>/` and points `root/latest` at it.
/// Returns the run's directory.
pub fn write_reports(report: &RunReport, root: &Path) -> Result<PathBuf, RunError> {
    let dir = root.join(&report.run_id);
    fs::create_dir_all(&dir).map_err(|e| RunError::io(&dir, e))?;
    let write = |name: &str, bytes: &[u8]| -> Result<(), RunError> {
        let p = dir.join(name);
        fs::write(&p, bytes).map_err(|e| RunError::io(&p, e))
    };
    let json = serde_json::to_vec_pretty(report)
        .map_err(|e| RunError::io(&dir.join(RUN_JSON), std::io::Error::other(e)))?;
    write(RUN_JSON, &json)?;
    write(
        RESULTS_CSV,
        &csv::results(report).map_err(|e| RunError::io(&dir.join(RESULTS_CSV), e))?,
    )?;
    write(SUMMARY_MD, summary::markdown(report).as_bytes())?;
    write(
        JUNIT_XML,
        &junit::junit(report).map_err(|e| RunError::io(&dir.join(JUNIT_XML), e))?,
    )?;
    history::write_all(report, &dir.join(HISTORY_DIR))?;
    point_latest(root, &report.run_id)?;
    Ok(dir)
}

/// `root/latest` → `<run-id>`: a relative symlink, else a file containing the id.
fn point_latest(root: &Path, run_id: &str) -> Result<(), RunError> {
    let latest = root.join("latest");
    if let Ok(meta) = fs::symlink_metadata(&latest) {
        if meta.is_dir() {
            let e = std::io::Error::other(
                "is a directory, not a link or a file naming the latest run; remove it",
            );
            return Err(RunError::io(&latest, e));
        }
        fs::remove_file(&latest).map_err(|e| RunError::io(&latest, e))?;
    }
    #[cfg(unix)]
    if std::os::unix::fs::symlink(run_id, &latest).is_ok() {
        return Ok(());
    }
    fs::write(&latest, format!("{run_id}\n")).map_err(|e| RunError::io(&latest, e))
}

/// The run directory `root/latest` points at, whichever form it has.
pub fn latest_dir(root: &Path) -> Option<PathBuf> {
    let latest = root.join("latest");
    let meta = fs::symlink_metadata(&latest).ok()?;
    if meta.file_type().is_symlink() {
        return fs::read_link(&latest).ok().map(|t| root.join(t));
    }
    let id = fs::read_to_string(&latest).ok()?;
    Some(root.join(id.trim()))
}
