//! Errors: [`LoadError`] for a bad scenario or customers file (exit status 2 in the CLI), and
//! [`RunError`] for a run that could not start or finish its setup.

use std::fmt;
use std::path::{Path, PathBuf};

/// One problem in a scenario (or customers) file, located as `path:line:column: field: message`.
///
/// `line` and `column` count from 1; they are absent only when the file could not be read at all.
/// `field` is a dotted path such as `visits[2].turns[1].checks[1].value` (indices count from 1,
/// like the visit and turn numbers in reports); it is empty for TOML syntax errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    pub position: Option<(usize, usize)>,
    pub field: String,
    pub message: String,
}

impl LoadError {
    /// An error located at a byte offset of `source`.
    pub fn at(
        path: &Path,
        source: &str,
        offset: usize,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> Self {
        Self {
            path: path.to_path_buf(),
            position: Some(line_column(source, offset)),
            field: field.into(),
            message: message.into(),
        }
    }

    /// An error about the whole file (it could not be read, or is empty of scenarios).
    pub fn file(path: &Path, message: impl Into<String>) -> Self {
        Self {
            path: path.to_path_buf(),
            position: None,
            field: String::new(),
            message: message.into(),
        }
    }
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.path.display())?;
        if let Some((line, column)) = self.position {
            write!(f, ":{line}:{column}")?;
        }
        if !self.field.is_empty() {
            write!(f, ": {}", self.field)?;
        }
        write!(f, ": {}", self.message)
    }
}

impl std::error::Error for LoadError {}

/// Every problem found while loading; a run starts only when there are none.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct LoadErrors(pub Vec<LoadError>);

impl fmt::Display for LoadErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl From<LoadError> for LoadErrors {
    fn from(e: LoadError) -> Self {
        LoadErrors(vec![e])
    }
}

/// 1-based line and column (in characters) of a byte offset; offsets past the end clamp to it.
pub fn line_column(source: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = source[line_start..offset].chars().count() + 1;
    (line, column)
}

/// Why a run could not be carried out. Failed checks are not errors: they are in the report.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The options or the environment are wrong (exit status 2): a missing API key, a bad URL, …
    #[error("{0}")]
    Config(String),
    /// The target refused or failed a call the run needs before any scenario can start.
    #[error("{what}: {source}")]
    Api {
        what: String,
        #[source]
        source: cma_client::Error,
    },
    /// Something the run needs could not be created.
    #[error("{0}")]
    Setup(String),
    /// The embedded emulator did not start.
    #[error("could not start the embedded emulator: {0}")]
    Emulator(String),
    /// Reports could not be written.
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A baseline file could not be read or parsed.
    #[error("baseline {path}: {message}")]
    Baseline { path: PathBuf, message: String },
    /// A run's `run.json` could not be read or parsed to rebuild its reports.
    #[error("{path}: {message}")]
    Report { path: PathBuf, message: String },
}

impl RunError {
    pub(crate) fn io(path: &Path, source: std::io::Error) -> Self {
        RunError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// Whether the error means the user's input or environment is wrong (exit status 2).
    pub fn is_usage(&self) -> bool {
        match self {
            RunError::Config(_) | RunError::Baseline { .. } | RunError::Report { .. } => true,
            RunError::Api { source, .. } => {
                matches!(source.status(), Some(s) if (400..500).contains(&s))
            }
            _ => false,
        }
    }
}
