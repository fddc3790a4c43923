//! `cma report`: rebuild a run's page and other reports from its `run.json`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::UsageError;

const AFTER_HELP: &str = "\
Reads RUN_DIR/run.json and rewrites index.html, results.csv, summary.md, junit.xml and
history/<store>.diff beside it (run.json itself is left as it is), then prints the page's path.
A `reports/latest` link or file is followed. Exit status: 0 rebuilt; 2 no readable run.json.

Examples:
  cma report                              # reports/latest
  cma report reports/20261201T150000Z-1a2b
  xdg-open \"$(cma report)\"";

#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct ReportArgs {
    /// A run's report directory (the one holding run.json).
    #[arg(value_name = "RUN_DIR", default_value = "reports/latest")]
    pub run_dir: PathBuf,
}

pub fn run(args: ReportArgs) -> anyhow::Result<ExitCode> {
    let dir = resolve(args.run_dir);
    let page = cma_scenario::report::rebuild(&dir).map_err(|e| UsageError(e.to_string()))?;
    println!("{}", page.display());
    Ok(ExitCode::SUCCESS)
}

/// `latest` may be a file naming the run rather than a symlink (where links cannot be made).
pub(super) fn resolve(dir: PathBuf) -> PathBuf {
    if dir.file_name().is_some_and(|n| n == "latest")
        && dir.is_file()
        && let Some(root) = dir.parent()
        && let Some(target) = cma_scenario::report::latest_dir(root)
    {
        return target;
    }
    dir
}
