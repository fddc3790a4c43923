//! Progress: a bar on a terminal, one plain line per finished unit otherwise (CI logs).

use std::io::IsTerminal;
use std::sync::atomic::{AtomicUsize, Ordering};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How progress is shown on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ProgressMode {
    /// A bar when stderr is a terminal, plain lines otherwise.
    #[default]
    Auto,
    Bar,
    Lines,
    Off,
}

pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    lines: bool,
    total: usize,
    done: AtomicUsize,
}

impl Progress {
    pub fn new(mode: ProgressMode, total: usize) -> Self {
        let mode = match mode {
            ProgressMode::Auto if std::io::stderr().is_terminal() => ProgressMode::Bar,
            ProgressMode::Auto => ProgressMode::Lines,
            m => m,
        };
        let bar = (mode == ProgressMode::Bar).then(|| {
            let bar =
                ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} units {msg}",
            ) {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            lines: mode == ProgressMode::Lines,
            total,
            done: AtomicUsize::new(0),
        }
    }

    /// A unit finished: `line` describes it.
    pub fn unit_done(&self, line: &str, failed: bool) {
        let n = self.done.fetch_add(1, Ordering::Relaxed) + 1;
        if let Some(bar) = &self.bar {
            if failed {
                bar.println(format!("FAIL {line}"));
            }
            bar.set_message(line.to_string());
            bar.inc(1);
        } else if self.lines {
            eprintln!(
                "[{n}/{}] {} {line}",
                self.total,
                if failed { "FAIL" } else { "ok  " }
            );
        }
    }

    /// A note that is not about one unit (setup, clean-up, interruption).
    pub fn note(&self, line: &str) {
        if let Some(bar) = &self.bar {
            bar.println(line);
        } else if self.lines {
            eprintln!("{line}");
        }
    }

    pub fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
