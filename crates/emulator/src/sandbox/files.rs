//! The toolset's file tools: `read`, `write`, `edit`, `glob`, `grep` (reference 7.2).

use std::collections::HashMap;
use std::sync::{LazyLock, Mutex};

use serde_json::Value;

use super::ToolOutput;
use super::fs::{Errno, Fs, Loc, MOUNT_ROOT, Stat, UpdateError};

pub fn ok(text: impl Into<String>) -> ToolOutput {
    ToolOutput {
        is_error: false,
        text: text.into(),
    }
}

pub fn err(text: impl Into<String>) -> ToolOutput {
    ToolOutput {
        is_error: true,
        text: text.into(),
    }
}

fn str_field<'a>(input: &'a Value, name: &str) -> Result<&'a str, ToolOutput> {
    input.get(name).and_then(Value::as_str).ok_or_else(|| {
        err(format!(
            "InputValidationError: required parameter `{name}` is missing or not a string"
        ))
    })
}

fn outside(path: &str) -> ToolOutput {
    err(format!(
        "Error: {path}: No such file or directory (only {MOUNT_ROOT}/<store>/ is available)"
    ))
}

fn resolve(fs: &Fs, path: &str) -> Result<Loc, ToolOutput> {
    fs.resolve(path).ok_or_else(|| outside(path))
}

pub fn read(fs: &Fs, input: &Value) -> ToolOutput {
    let path = match str_field(input, "file_path") {
        Ok(p) => p,
        Err(e) => return e,
    };
    let loc = match resolve(fs, path) {
        Ok(l) => l,
        Err(e) => return e,
    };
    match fs.stat(&loc) {
        Stat::Missing => err(format!("Error: File does not exist: {path}")),
        Stat::Dir => match fs.list(&loc) {
            Ok(entries) => ok(entries
                .into_iter()
                .map(|(name, dir)| if dir { format!("{name}/") } else { name })
                .collect::<Vec<_>>()
                .join("\n")),
            Err(e) => err(format!("Error: {path}: {e}")),
        },
        Stat::File => match fs.read(&loc) {
            Ok(content) => ok(slice_lines(&content, input.get("view_range"))),
            Err(e) => err(format!("Error: {path}: {e}")),
        },
    }
}

/// `view_range: [start, end]`, 1-based inclusive; `end <= 0` means to the end.
fn slice_lines(content: &str, range: Option<&Value>) -> String {
    let Some(r) = range.and_then(Value::as_array) else {
        return content.to_string();
    };
    let start = r.first().and_then(Value::as_i64).unwrap_or(1).max(1) as usize;
    let end = r.get(1).and_then(Value::as_i64).unwrap_or(0);
    let lines: Vec<&str> = content.lines().collect();
    let end = if end <= 0 {
        lines.len()
    } else {
        (end as usize).min(lines.len())
    };
    if start > end {
        return String::new();
    }
    lines[start - 1..end].join("\n")
}

pub fn write(fs: &Fs, input: &Value) -> ToolOutput {
    let (path, content) = match (str_field(input, "file_path"), str_field(input, "content")) {
        (Ok(p), Ok(c)) => (p, c),
        (Err(e), _) | (_, Err(e)) => return e,
    };
    let loc = match resolve(fs, path) {
        Ok(l) => l,
        Err(e) => return e,
    };
    match fs.write(&loc, content) {
        Ok(true) => ok(format!("File created successfully at: {path}")),
        Ok(false) => ok(format!("The file {path} has been updated.")),
        Err(e) => err(format!("Error: {path}: {e}")),
    }
}

pub fn edit(fs: &Fs, input: &Value) -> ToolOutput {
    let fields = (
        str_field(input, "file_path"),
        str_field(input, "old_string"),
        str_field(input, "new_string"),
    );
    let (path, old, new) = match fields {
        (Ok(p), Ok(o), Ok(n)) => (p, o, n),
        (Err(e), _, _) | (_, Err(e), _) | (_, _, Err(e)) => return e,
    };
    let replace_all = input
        .get("replace_all")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let loc = match resolve(fs, path) {
        Ok(l) => l,
        Err(e) => return e,
    };
    if old == new {
        return err("Error: old_string and new_string are exactly the same.");
    }
    // Matched and replaced against the content as it is when the write happens, under the
    // store's lock: a concurrent edit is never overwritten with a stale copy.
    let edited = fs.update(&loc, |content| {
        let Some(content) = content else {
            return Err(err(format!("Error: File does not exist: {path}")));
        };
        let count = if old.is_empty() {
            0
        } else {
            content.matches(old).count()
        };
        if count == 0 {
            return Err(err(format!(
                "Error: String to replace not found in file.\nString: {old}"
            )));
        }
        if count > 1 && !replace_all {
            return Err(err(format!(
                "Error: Found {count} matches of the string to replace, but replace_all is false. To replace all occurrences, set replace_all to true. To replace only one occurrence, please provide more context to uniquely identify the instance.\nString: {old}"
            )));
        }
        Ok(if replace_all {
            content.replace(old, new)
        } else {
            content.replacen(old, new, 1)
        })
    });
    match edited {
        Ok(_) => ok(format!("The file {path} has been updated.")),
        Err(UpdateError::Refused(refusal)) => refusal,
        Err(UpdateError::Fs(Errno::NotFound)) => err(format!("Error: File does not exist: {path}")),
        Err(UpdateError::Fs(e)) => err(format!("Error: {path}: {e}")),
    }
}

/// At most this many compiled glob (and, separately, grep) patterns are kept (patterns come from the model, so the
/// cache must not grow without bound); when full it starts again empty.
const GLOB_CACHE_CAP: usize = 64;

/// Compiled glob patterns by pattern. Building a regex's automaton costs more than the rest of a
/// reference-agent turn, which globs `**/*` under every mount on every turn.
static GLOB_CACHE: LazyLock<Mutex<HashMap<String, regex::Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// `grep` patterns, kept for the same reason: a model agent may search its mounts every turn.
static GREP_CACHE: LazyLock<Mutex<HashMap<String, regex::Regex>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// A doublestar glob as a regex over `/`-separated paths (compiled once per pattern).
pub fn glob_regex(pattern: &str) -> Result<regex::Regex, String> {
    cached(&GLOB_CACHE, pattern, compile_glob)
}

/// A `grep` pattern as a regex (compiled once per pattern).
fn grep_regex(pattern: &str) -> Result<regex::Regex, String> {
    cached(&GREP_CACHE, pattern, |p| {
        regex::Regex::new(p).map_err(|e| e.to_string())
    })
}

/// `compile(pattern)`, from `cache` when it was compiled before. Errors are not kept: a bad
/// pattern is rare and gets the same error again.
fn cached(
    cache: &Mutex<HashMap<String, regex::Regex>>,
    pattern: &str,
    compile: impl FnOnce(&str) -> Result<regex::Regex, String>,
) -> Result<regex::Regex, String> {
    if let Some(re) = cache.lock().unwrap_or_else(|e| e.into_inner()).get(pattern) {
        return Ok(re.clone());
    }
    // Compiled outside the lock: another turn's lookup does not wait for it.
    let re = compile(pattern)?;
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    if cache.len() >= GLOB_CACHE_CAP {
        cache.clear();
    }
    cache.insert(pattern.to_string(), re.clone());
    Ok(re)
}

fn compile_glob(pattern: &str) -> Result<regex::Regex, String> {
    let mut re = String::from("^");
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    let mut in_brace = false;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '*' if chars.get(i + 1) == Some(&'*') => {
                if chars.get(i + 2) == Some(&'/') {
                    re.push_str("(?:.*/)?");
                    i += 3;
                } else {
                    re.push_str(".*");
                    i += 2;
                }
                continue;
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            '[' => match chars[i..].iter().position(|&c| c == ']') {
                Some(end) if end > 1 => {
                    let class: String = chars[i + 1..i + end].iter().collect();
                    let class = class
                        .strip_prefix('!')
                        .map(|c| format!("^{c}"))
                        .unwrap_or(class);
                    re.push('[');
                    re.push_str(&class.replace('\\', "\\\\"));
                    re.push(']');
                    i += end + 1;
                    continue;
                }
                _ => re.push_str("\\["),
            },
            '{' => {
                in_brace = true;
                re.push_str("(?:");
            }
            '}' if in_brace => {
                in_brace = false;
                re.push(')');
            }
            ',' if in_brace => re.push('|'),
            c => re.push_str(&regex::escape(&c.to_string())),
        }
        i += 1;
    }
    if in_brace {
        return Err(format!("unclosed '{{' in glob pattern {pattern:?}"));
    }
    re.push('$');
    regex::Regex::new(&re).map_err(|e| e.to_string())
}

/// The search root (`path`, else the pattern's absolute prefix, else `/mnt/memory`) and the
/// pattern relative to it.
fn glob_root(pattern: &str, path: Option<&str>) -> (String, String) {
    if let Some(p) = path {
        return (
            p.trim_end_matches('/').to_string(),
            pattern.trim_start_matches('/').to_string(),
        );
    }
    if pattern.starts_with('/') {
        let first_meta = pattern.find(['*', '?', '[', '{']).unwrap_or(pattern.len());
        let root_end = pattern[..first_meta].rfind('/').unwrap_or(0);
        let root = if root_end == 0 {
            "/".to_string()
        } else {
            pattern[..root_end].to_string()
        };
        return (
            root,
            pattern[root_end..].trim_start_matches('/').to_string(),
        );
    }
    (MOUNT_ROOT.to_string(), pattern.to_string())
}

pub fn glob(fs: &Fs, input: &Value) -> ToolOutput {
    let pattern = match str_field(input, "pattern") {
        Ok(p) => p,
        Err(e) => return e,
    };
    let (root, rel_pattern) = glob_root(pattern, input.get("path").and_then(Value::as_str));
    let Some(loc) = fs.resolve(&root) else {
        return outside(&root);
    };
    if fs.stat(&loc) == Stat::Missing {
        return err(format!("Error: Directory does not exist: {root}"));
    }
    let re = match glob_regex(&rel_pattern) {
        Ok(r) => r,
        Err(e) => return err(format!("Error: invalid glob pattern: {e}")),
    };
    let base = fs.display(&loc);
    let mut files: Vec<_> = fs
        .walk(&loc)
        .into_iter()
        .filter(|f| {
            f.full_path
                .strip_prefix(&base)
                .map(|r| r.trim_start_matches('/'))
                .is_some_and(|r| re.is_match(r))
        })
        .collect();
    files.sort_by(|a, b| {
        b.updated_at
            .cmp(&a.updated_at)
            .then_with(|| a.full_path.cmp(&b.full_path))
    });
    if files.is_empty() {
        return ok("No files found");
    }
    ok(files
        .into_iter()
        .map(|f| f.full_path)
        .collect::<Vec<_>>()
        .join("\n"))
}

pub fn grep(fs: &Fs, input: &Value) -> ToolOutput {
    let pattern = match str_field(input, "pattern") {
        Ok(p) => p,
        Err(e) => return e,
    };
    let re = match grep_regex(pattern) {
        Ok(r) => r,
        Err(e) => return err(format!("Error: invalid regex: {e}")),
    };
    let root = input
        .get("path")
        .and_then(Value::as_str)
        .unwrap_or(MOUNT_ROOT);
    let Some(loc) = fs.resolve(root) else {
        return outside(root);
    };
    if fs.stat(&loc) == Stat::Missing {
        return err(format!("Error: Path does not exist: {root}"));
    }
    let mut lines = Vec::new();
    for f in fs.walk(&loc) {
        for (n, line) in f.content.lines().enumerate() {
            if re.is_match(line) {
                lines.push(format!("{}:{}:{}", f.full_path, n + 1, line));
            }
        }
    }
    if lines.is_empty() {
        ok("No matches found")
    } else {
        ok(lines.join("\n"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Break it: compile on every call in `cached`.
    #[test]
    fn a_glob_is_compiled_once_and_the_cache_stays_bounded() {
        let cache = Mutex::new(HashMap::new());
        let compiles = std::cell::Cell::new(0);
        let compile = |p: &str| {
            compiles.set(compiles.get() + 1);
            compile_glob(p)
        };
        let first = cached(&cache, "**/*", compile).unwrap();
        let again = cached(&cache, "**/*", compile).unwrap();
        assert_eq!(compiles.get(), 1);
        assert_eq!(first.as_str(), again.as_str());
        assert!(again.is_match("a/b.md"));
        // A bad pattern is an error every time, never a cached success.
        assert!(cached(&cache, "{a,b", compile).is_err());
        assert!(cached(&cache, "{a,b", compile).is_err());
        for i in 0..3 * GLOB_CACHE_CAP {
            cached(&cache, &format!("*.{i}"), compile).unwrap();
            assert!(cache.lock().unwrap().len() <= GLOB_CACHE_CAP);
        }
    }

    /// Break it: compile in `grep_regex` without `cached`.
    #[test]
    fn a_grep_pattern_is_kept_and_a_bad_one_is_not() {
        let pattern = "kept-by-grep-[0-9]+";
        grep_regex(pattern).unwrap();
        assert!(GREP_CACHE.lock().unwrap().contains_key(pattern));
        let bad = "unclosed-(";
        assert!(grep_regex(bad).unwrap_err().contains("unclosed group"));
        assert!(!GREP_CACHE.lock().unwrap().contains_key(bad));
    }

    #[test]
    fn globs() {
        let re = glob_regex("**/*.md").unwrap();
        assert!(re.is_match("a.md"));
        assert!(re.is_match("x/y/a.md"));
        assert!(!re.is_match("a.txt"));
        let re = glob_regex("notes/*.{md,txt}").unwrap();
        assert!(re.is_match("notes/a.txt"));
        assert!(!re.is_match("notes/x/a.txt"));
        assert_eq!(
            glob_root("/mnt/memory/s/**/*.md", None),
            ("/mnt/memory/s".into(), "**/*.md".into())
        );
    }

    #[test]
    fn view_range() {
        assert_eq!(
            slice_lines("a\nb\nc", Some(&serde_json::json!([2, 0]))),
            "b\nc"
        );
        assert_eq!(
            slice_lines("a\nb\nc", Some(&serde_json::json!([1, 1]))),
            "a"
        );
    }
}
