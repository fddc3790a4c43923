//! Customers and `{{column}}` templating: a scenario with `customers = "file.csv"` runs its
//! script once per CSV row, with each `{{column}}` in its strings replaced by that row's value.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::LoadError;

/// One customer: a CSV row, or the single implicit customer of a scenario without a CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Customer {
    /// The `id` column when the CSV has one, else `c01`, `c02`, …; `default` without a CSV.
    pub id: String,
    /// Column → value.
    pub values: BTreeMap<String, String>,
}

impl Customer {
    pub fn solo() -> Self {
        Customer {
            id: "default".into(),
            values: BTreeMap::new(),
        }
    }
}

/// A parsed customers file.
#[derive(Debug, Clone)]
pub struct Customers {
    pub path: PathBuf,
    pub columns: Vec<String>,
    pub rows: Vec<Customer>,
}

/// Reads a customers CSV: a header row, then one row per customer. Values are trimmed; every row
/// must have every column; `id` values, when present, must be unique.
pub fn read_customers(path: &Path) -> Result<Customers, LoadError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| LoadError::file(path, format!("cannot read customers file: {e}")))?;
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .flexible(false)
        .from_reader(text.as_bytes());
    let csv_error = |e: csv::Error| {
        let line = e.position().map_or(1, |p| p.line() as usize);
        let message = match e.kind() {
            csv::ErrorKind::UnequalLengths {
                expected_len, len, ..
            } => {
                format!("row has {len} fields but the header has {expected_len}")
            }
            _ => e.to_string(),
        };
        LoadError {
            path: path.to_path_buf(),
            position: Some((line, 1)),
            field: String::new(),
            message,
        }
    };
    let headers = reader.headers().map_err(csv_error)?.clone();
    let columns: Vec<String> = headers.iter().map(str::to_string).collect();
    for (i, c) in columns.iter().enumerate() {
        if c.is_empty()
            || !c
                .chars()
                .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
        {
            return Err(LoadError {
                path: path.to_path_buf(),
                position: Some((1, 1)),
                field: format!("column {}", i + 1),
                message: format!("column name {c:?} must be letters, digits, `_` or `-`"),
            });
        }
        if columns[..i].contains(c) {
            return Err(LoadError {
                path: path.to_path_buf(),
                position: Some((1, 1)),
                field: format!("column {}", i + 1),
                message: format!("column `{c}` appears twice"),
            });
        }
    }
    let mut rows: Vec<Customer> = Vec::new();
    for (n, record) in reader.records().enumerate() {
        let record = record.map_err(csv_error)?;
        let line = record.position().map_or(n + 2, |p| p.line() as usize);
        let values: BTreeMap<String, String> = columns
            .iter()
            .cloned()
            .zip(record.iter().map(str::to_string))
            .collect();
        let id = match values.get("id") {
            Some(id) if id.is_empty() => {
                return Err(LoadError {
                    path: path.to_path_buf(),
                    position: Some((line, 1)),
                    field: "id".into(),
                    message: "empty customer id".into(),
                });
            }
            Some(id) => id.clone(),
            None => format!("c{:02}", n + 1),
        };
        if rows.iter().any(|r| r.id == id) {
            return Err(LoadError {
                path: path.to_path_buf(),
                position: Some((line, 1)),
                field: "id".into(),
                message: format!("customer id `{id}` appears twice"),
            });
        }
        rows.push(Customer { id, values });
    }
    if rows.is_empty() {
        return Err(LoadError::file(
            path,
            "the customers file has a header but no customers",
        ));
    }
    Ok(Customers {
        path: path.to_path_buf(),
        columns,
        rows,
    })
}

/// A placeholder that cannot be filled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum TemplateError {
    /// `{{name}}` names no column; `at` is its byte offset in the string.
    Unknown { name: String, at: usize },
    /// `{{` with no matching `}}`.
    Unclosed { at: usize },
}

/// The `(byte range, column name)` of every `{{ column }}` in `s`.
pub(crate) fn placeholders(
    s: &str,
) -> Result<Vec<(std::ops::Range<usize>, String)>, TemplateError> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(open) = s[from..].find("{{").map(|i| i + from) {
        let Some(close) = s[open + 2..].find("}}").map(|i| i + open + 2) else {
            return Err(TemplateError::Unclosed { at: open });
        };
        let name = s[open + 2..close].trim().to_string();
        out.push((open..close + 2, name));
        from = close + 2;
    }
    Ok(out)
}

/// Replaces every `{{column}}` with the customer's value.
pub(crate) fn render(s: &str, values: &BTreeMap<String, String>) -> Result<String, TemplateError> {
    let holes = placeholders(s)?;
    if holes.is_empty() {
        return Ok(s.to_string());
    }
    let mut out = String::with_capacity(s.len());
    let mut last = 0;
    for (range, name) in holes {
        let value = values.get(&name).ok_or(TemplateError::Unknown {
            name: name.clone(),
            at: range.start,
        })?;
        out.push_str(&s[last..range.start]);
        out.push_str(value);
        last = range.end;
    }
    out.push_str(&s[last..]);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn renders_and_reports_unknown_and_unclosed() {
        let v = row(&[("name", "Ada"), ("size", "small")]);
        assert_eq!(
            render("Hi {{name}}, a {{ size }}!", &v),
            Ok("Hi Ada, a small!".into())
        );
        assert_eq!(render("plain", &v), Ok("plain".into()));
        assert_eq!(
            render("x {{city}}", &v),
            Err(TemplateError::Unknown {
                name: "city".into(),
                at: 2
            })
        );
        assert_eq!(
            render("x {{name", &v),
            Err(TemplateError::Unclosed { at: 2 })
        );
    }
}
