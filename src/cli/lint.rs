//! `cma lint`: print the checks that assert one agent's wording instead of what the script
//! gave. The rules live in `cma_scenario::lint`.

use std::path::PathBuf;
use std::process::ExitCode;

use super::UsageError;

const AFTER_HELP: &str = "\
A reply or memory check is portable when what it expects comes from the script itself: what the
customer said, seeded memories, the customer's CSV values, or a set of phrasings (a list of
alternatives, a regex `a|b`). Each other check is printed as
  path:line:column: check: asserts text the customer never gave (agent-specific wording)
Negated checks are never flagged; `portable = false` on a check silences it.

Exit status: 0 nothing found (and nothing printed); 1 findings; 2 a bad scenario file.

Examples:
  cma lint                                  # every scenarios/**/*.toml
  cma lint scenarios/personal-shopper.toml  # one file (or any list of files and directories)";

#[derive(clap::Args)]
#[command(after_help = AFTER_HELP)]
pub struct LintArgs {
    /// Scenario files, or directories searched for *.toml.
    #[arg(value_name = "PATHS", default_value = "scenarios")]
    pub paths: Vec<PathBuf>,
}

pub fn run(args: LintArgs) -> anyhow::Result<ExitCode> {
    let findings =
        cma_scenario::lint::lint_paths(&args.paths).map_err(|e| UsageError(e.to_string()))?;
    for f in &findings {
        println!("{f}");
    }
    Ok(if findings.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
