//! Pieces every store, memory, version and history command shares: connection flags, a
//! timeout around each API call, and plain-table / JSON output.

use std::future::Future;
use std::io::{self, IsTerminal, Write};
use std::time::Duration;

use anyhow::Context;
use cma_client::Client;
use cma_client::types::Timestamp;

use crate::cli::{UsageError, client_from_env};

#[derive(clap::Args, Debug, Clone)]
pub struct ConnectionArgs {
    /// API base URL; overrides ANTHROPIC_BASE_URL (default https://api.anthropic.com).
    #[arg(long, value_name = "URL")]
    pub base_url: Option<String>,
    /// Give up on any single API request after this many seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub timeout: u64,
}

impl ConnectionArgs {
    pub fn client(&self) -> anyhow::Result<Client> {
        if self.timeout == 0 {
            return Err(UsageError("--timeout must be at least 1 second".into()).into());
        }
        client_from_env(self.base_url.as_deref())
    }

    pub fn request_timeout(&self) -> Duration {
        Duration::from_secs(self.timeout.max(1))
    }

    /// Awaits one API call with the request timeout. The client's error is passed through
    /// unwrapped, so `main` maps a 4xx (unknown id, failed precondition) to exit status 2.
    pub async fn call<T>(
        &self,
        what: &str,
        fut: impl Future<Output = cma_client::Result<T>>,
    ) -> anyhow::Result<T> {
        match tokio::time::timeout(self.request_timeout(), fut).await {
            Ok(result) => Ok(result?),
            Err(_) => anyhow::bail!("{what} timed out after {} s", self.timeout),
        }
    }
}

/// Colour for a terminal only, and never when `NO_COLOR` is set to anything non-empty.
pub fn use_color(choice: ColorChoice) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
        }
    }
}

#[derive(clap::ValueEnum, Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ColorChoice {
    /// Colour when stdout is a terminal and NO_COLOR is not set.
    #[default]
    Auto,
    Always,
    Never,
}

pub fn parse_time(flag: &str, value: &str) -> Result<Timestamp, UsageError> {
    cma_history::time::parse_time(value).map_err(|e| UsageError(format!("{flag}: {e}")))
}

/// Writes everything through one buffered stdout; a closed pipe (`| head`) is not an error.
pub fn write_stdout(f: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> anyhow::Result<()> {
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    match f(&mut out).and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("writing to stdout"),
    }
}

pub fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    write_stdout(|out| {
        serde_json::to_writer_pretty(&mut *out, value).map_err(io::Error::other)?;
        writeln!(out)
    })
}

/// A left-aligned table with a header row; columns are as wide as their widest cell.
pub fn print_table(header: &[&str], rows: &[Vec<String>]) -> anyhow::Result<()> {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &mut dyn Iterator<Item = &str>| -> String {
        let padded: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        padded.join("  ").trim_end().to_string()
    };
    write_stdout(|out| {
        writeln!(out, "{}", line(&mut header.iter().copied()))?;
        for row in rows {
            writeln!(out, "{}", line(&mut row.iter().map(String::as_str)))?;
        }
        Ok(())
    })
}

pub fn time(t: &Timestamp) -> String {
    cma_history::time::format_time(t)
}

/// The first 12 hex digits of a sha256, as `git log --abbrev` would show it.
pub fn short_sha(sha: Option<&str>) -> String {
    sha.map_or_else(|| "-".to_string(), |s| s.chars().take(12).collect())
}

/// A `--if-sha` value: 64 lowercase hex digits, as `content_sha256` is.
pub fn check_sha(sha: &str) -> Result<String, UsageError> {
    if sha.len() == 64
        && sha
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    {
        Ok(sha.to_string())
    } else {
        Err(UsageError(format!(
            "--if-sha {sha:?}: expected 64 lowercase hex digits (a content_sha256)"
        )))
    }
}
