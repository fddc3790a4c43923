//! `cma compare`: earlier runs side by side, in the same matrix and page as `cma run --variant`,
//! with a Markdown summary for a pull-request comment.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use cma_scenario::variant::VariantInfo;

use super::UsageError;

const AFTER_HELP: &str = "\
Each RUN is a run.json or a run's report directory (`reports/latest` works). The first run is the
one the others are judged against, check by check: regressed or improved only when Fisher's exact
test gives p < 0.05 on the pass counts (with one repeat on either side: ok before and failing
now), else inconclusive, with the repeats per run that would tell it at 80% power. Scenarios not
in every run are left out and listed. Runs of another run.json schema are refused.

Writes OUT/index.html (the matrix, the units where the runs disagree side by side), OUT/summary.md
and OUT/run.json (the runs joined, each as a variant), and prints the Markdown summary.

Exit status: 0 no significant regression; 1 a check regressed significantly; 2 a bad invocation
or an unreadable run.

Examples:
  cma compare reports/20261201T150000Z-1a2b reports/latest
  cma compare before/run.json after/run.json --out compare-pr-42 > comment.md";

#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct CompareArgs {
    /// Two or more runs: run.json files or report directories, the first the reference.
    #[arg(value_name = "RUN", num_args = 2.., required = true)]
    pub runs: Vec<PathBuf>,

    /// Where the page and summary go [default: <reports-dir>/compare-<id>].
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,

    /// Where the default output directory goes.
    #[arg(long, default_value = "reports")]
    pub reports_dir: PathBuf,
}

pub fn run(args: CompareArgs) -> anyhow::Result<ExitCode> {
    let mut sides = Vec::new();
    for path in &args.runs {
        let path = super::report::resolve(path.clone());
        let report =
            cma_scenario::compare::read_run(&path).map_err(|e| UsageError(e.to_string()))?;
        let description = format!(
            "{} — {}{}, repeat {}",
            path.display(),
            report.settings.target,
            report
                .settings
                .model
                .as_deref()
                .map(|m| format!(", model {m}"))
                .unwrap_or_default(),
            report.settings.repeat
        );
        sides.push((
            VariantInfo {
                name: report.run_id.clone(),
                description,
            },
            report,
        ));
    }
    let id = format!("compare-{}", cma_scenario::run::new_run_id());
    let combined =
        cma_scenario::compare::combine(sides, id.clone()).map_err(|e| UsageError(e.to_string()))?;
    let out = args.out.unwrap_or_else(|| args.reports_dir.join(&id));
    let markdown = cma_scenario::report::write_comparison(&combined, &out)
        .with_context(|| format!("writing {}", out.display()))?;
    print!("{markdown}");
    eprintln!(
        "page: {}",
        out.join(cma_scenario::report::INDEX_HTML).display()
    );
    let regressed = cma_scenario::compare::any_regressed(&combined.report.comparisons);
    Ok(ExitCode::from(u8::from(regressed)))
}
