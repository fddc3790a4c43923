//! Report files under `<reports-dir>/<run-id>/`: `index.html`, `results.csv`, `summary.md`,
//! `junit.xml`, `run.json` and `history/<store-name>.diff`, with `<reports-dir>/latest` pointing at the newest
//! run (a symlink, or a text file holding the run id where symlinks cannot be made).

mod csv;
mod history;
mod html;
mod junit;
pub(crate) mod matrix;
mod summary;

use std::fs;
use std::path::{Path, PathBuf};

use crate::error::RunError;
use crate::outcome::{RUN_SCHEMA, RunReport};
use crate::usage::UnitUsage;

pub use html::page as html_page;
pub use matrix::markdown as matrix_markdown;
pub use summary::markdown as summary_markdown;

/// Names of the files a run writes, relative to its directory.
pub const INDEX_HTML: &str = "index.html";
pub const RESULTS_CSV: &str = "results.csv";
pub const SUMMARY_MD: &str = "summary.md";
pub const JUNIT_XML: &str = "junit.xml";
pub use crate::outcome::RUN_JSON;
pub const HISTORY_DIR: &str = "history";

/// Writes every report of `report` to `root/<run-id>/` and points `root/latest` at it.
/// Returns the run's directory.
pub fn write_reports(report: &RunReport, root: &Path) -> Result<PathBuf, RunError> {
    let dir = root.join(&report.run_id);
    fs::create_dir_all(&dir).map_err(|e| RunError::io(&dir, e))?;
    let json = serde_json::to_string_pretty(report)
        .map_err(|e| RunError::io(&dir.join(RUN_JSON), std::io::Error::other(e)))?;
    // No secret `cma` holds is written: run.json and every report derived from it are redacted.
    let redacted = cma_client::types::redact::redact(&json);
    let owned;
    let report = match &redacted {
        std::borrow::Cow::Borrowed(_) => report,
        std::borrow::Cow::Owned(text) => {
            owned = serde_json::from_str::<RunReport>(text)
                .map_err(|e| RunError::io(&dir.join(RUN_JSON), std::io::Error::other(e)))?;
            &owned
        }
    };
    let json = redacted.as_bytes();
    let p = dir.join(RUN_JSON);
    fs::write(&p, json).map_err(|e| RunError::io(&p, e))?;
    write_derived(report, &dir)?;
    point_latest(root, &report.run_id)?;
    Ok(dir)
}

/// Rebuilds every report derived from `dir/run.json` (all but `run.json` itself) in `dir`.
/// Token usage is recomputed from the recorded events, so a `run.json` written before usage was
/// recorded gets it too. Returns the path of `index.html`.
pub fn rebuild(dir: &Path) -> Result<PathBuf, RunError> {
    let path = dir.join(RUN_JSON);
    let bad = |message: String| RunError::Report {
        path: path.clone(),
        message,
    };
    let text = fs::read_to_string(&path).map_err(|e| bad(e.to_string()))?;
    let mut report: RunReport =
        serde_json::from_str(&text).map_err(|e| bad(format!("not a cma run.json: {e}")))?;
    if report.schema != RUN_SCHEMA {
        return Err(bad(format!(
            "schema `{}`, expected `{RUN_SCHEMA}`",
            report.schema
        )));
    }
    for unit in &mut report.units {
        unit.usage = UnitUsage::of(&unit.visits);
    }
    report.usage = report.units.iter().map(|u| u.usage.total).sum();
    write_derived(&report, dir)?;
    Ok(dir.join(INDEX_HTML))
}

/// Every report computed from `report`, written into `dir`.
fn write_derived(report: &RunReport, dir: &Path) -> Result<(), RunError> {
    let write = |name: &str, bytes: &[u8]| -> Result<(), RunError> {
        let p = dir.join(name);
        fs::write(&p, bytes).map_err(|e| RunError::io(&p, e))
    };
    write(INDEX_HTML, html::page(report).as_bytes())?;
    write(
        RESULTS_CSV,
        &csv::results(report).map_err(|e| RunError::io(&dir.join(RESULTS_CSV), e))?,
    )?;
    write(SUMMARY_MD, summary::markdown(report).as_bytes())?;
    write(
        JUNIT_XML,
        &junit::junit(report).map_err(|e| RunError::io(&dir.join(JUNIT_XML), e))?,
    )?;
    history::write_all(report, &dir.join(HISTORY_DIR))
}

/// Writes `cma compare`'s `index.html`, `summary.md` and `run.json` (the runs joined) into
/// `dir`; returns the Markdown summary.
pub fn write_comparison(
    combined: &crate::compare::Combined,
    dir: &Path,
) -> Result<String, RunError> {
    fs::create_dir_all(dir).map_err(|e| RunError::io(dir, e))?;
    let notes = matrix::left_out_notes(&combined.left_out);
    let markdown = matrix::comparison_markdown(&combined.report, &notes);
    let write = |name: &str, bytes: &[u8]| -> Result<(), RunError> {
        let p = dir.join(name);
        fs::write(&p, bytes).map_err(|e| RunError::io(&p, e))
    };
    let json = serde_json::to_vec_pretty(&combined.report)
        .map_err(|e| RunError::io(&dir.join(RUN_JSON), std::io::Error::other(e)))?;
    write(RUN_JSON, &json)?;
    write(
        INDEX_HTML,
        html::page_with_notes(&combined.report, &notes).as_bytes(),
    )?;
    write(SUMMARY_MD, markdown.as_bytes())?;
    Ok(markdown)
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

/// One row of the scenarios table (summary.md and index.html).
#[derive(Debug, Clone, Default)]
pub(crate) struct ScenarioRow<'a> {
    pub name: &'a str,
    pub customers: usize,
    pub units: usize,
    pub checks: usize,
    pub ok: usize,
    pub failed: usize,
    pub passes: usize,
    pub verdicts: usize,
    pub tokens: crate::usage::TokenUsage,
}

/// Per scenario, in the run's order: checks judged on their pass rate, units, verdicts, tokens.
pub(crate) fn scenario_rows(r: &RunReport) -> Vec<ScenarioRow<'_>> {
    r.scenarios
        .iter()
        .map(|sc| {
            let mut row = ScenarioRow {
                name: &sc.name,
                customers: sc.customers,
                ..Default::default()
            };
            for c in r.checks.iter().filter(|c| c.scenario == sc.name) {
                row.checks += 1;
                if c.ok {
                    row.ok += 1;
                } else {
                    row.failed += 1;
                }
                row.passes += c.passes;
            }
            for u in r.units.iter().filter(|u| u.scenario == sc.name) {
                row.units += 1;
                row.verdicts += u.checks.len();
                row.tokens += u.usage.total;
            }
            row
        })
        .collect()
}
