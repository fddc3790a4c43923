//! Memory path rules (reference 4.2) and mount-path slugs (reference 5.10).

use unicode_normalization::is_nfc;

pub const MOUNT_ROOT: &str = "/mnt/memory";

/// Collapses `//`, `.` and `..`; `None` for a relative path.
pub fn normalize(path: &str) -> Option<String> {
    if !path.starts_with('/') {
        return None;
    }
    let mut parts: Vec<&str> = Vec::new();
    for seg in path.split('/') {
        match seg {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            s => parts.push(s),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

pub const MAX_PATH_BYTES: usize = 1024;
pub const MAX_SEGMENTS: usize = 20;

/// Unicode general category Cf (format characters), Unicode 15.1.
const FORMAT_CHARS: &[(u32, u32)] = &[
    (0x00AD, 0x00AD),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x180E, 0x180E),
    (0x200B, 0x200F),
    (0x202A, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0xFEFF, 0xFEFF),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x1343F),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
];

pub fn is_format_char(c: char) -> bool {
    let c = c as u32;
    FORMAT_CHARS.iter().any(|&(lo, hi)| (lo..=hi).contains(&c))
}

/// Checks a memory path; the error names the rule it breaks. `field` names the parameter.
pub fn validate_memory_path(path: &str, field: &str) -> Result<(), String> {
    if !path.starts_with('/') {
        return Err(format!("{field}: must start with '/'"));
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(format!(
            "{field}: must be at most {MAX_PATH_BYTES} bytes (got {})",
            path.len()
        ));
    }
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        return Err(format!(
            "{field}: must not contain control characters (found U+{:04X})",
            c as u32
        ));
    }
    if let Some(c) = path.chars().find(|&c| is_format_char(c)) {
        return Err(format!(
            "{field}: must not contain Unicode format characters (found U+{:04X})",
            c as u32
        ));
    }
    if let Some(c) = path.chars().find(|&c| c == '\u{2028}' || c == '\u{2029}') {
        return Err(format!(
            "{field}: must not contain line or paragraph separators (found U+{:04X})",
            c as u32
        ));
    }
    if !is_nfc(path) {
        return Err(format!(
            "{field}: must be in Unicode Normalization Form C (NFC)"
        ));
    }
    let segments: Vec<&str> = path[1..].split('/').collect();
    if segments.len() > MAX_SEGMENTS {
        return Err(format!(
            "{field}: must have at most {MAX_SEGMENTS} segments (got {})",
            segments.len()
        ));
    }
    for seg in &segments {
        match *seg {
            "" => return Err(format!("{field}: segments must not be empty")),
            "." | ".." => return Err(format!("{field}: segments must not be '.' or '..'")),
            _ => {}
        }
    }
    Ok(())
}

/// Checks a `path_prefix` list filter: `/`-led, `/`-ended, same character rules as paths.
pub fn validate_path_prefix(prefix: &str) -> Result<(), String> {
    if !prefix.starts_with('/') {
        return Err("path_prefix: must start with '/'".into());
    }
    if !prefix.ends_with('/') {
        return Err("path_prefix: must end with '/'".into());
    }
    if prefix == "/" {
        return Ok(());
    }
    validate_memory_path(&prefix[..prefix.len() - 1], "path_prefix")
}

/// The mount directory name for a store: lowercased, each run of characters other than ASCII
/// letters and digits replaced by one `-`, leading and trailing `-` trimmed, `store` if empty.
pub fn slug(name: &str) -> String {
    let mut out = String::new();
    let mut dash = false;
    for c in name.to_lowercase().chars() {
        if c.is_ascii_alphanumeric() {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c);
        } else {
            dash = true;
        }
    }
    if out.is_empty() { "store".into() } else { out }
}

/// `slug`, made unique among `taken` with `-2`, `-3`, …
pub fn unique_slug(name: &str, taken: &[String]) -> String {
    let base = slug(name);
    if !taken.contains(&base) {
        return base;
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|candidate| !taken.contains(candidate))
        .unwrap_or(base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_rules() {
        assert!(validate_memory_path("/a/b.md", "path").is_ok());
        assert!(
            validate_memory_path("a", "path")
                .unwrap_err()
                .contains("start with '/'")
        );
        assert!(
            validate_memory_path("/a//b", "path")
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            validate_memory_path("/a/", "path")
                .unwrap_err()
                .contains("empty")
        );
        assert!(
            validate_memory_path("/a/../b", "path")
                .unwrap_err()
                .contains("'..'")
        );
        assert!(
            validate_memory_path("/a/./b", "path")
                .unwrap_err()
                .contains("'.'")
        );
        assert!(
            validate_memory_path("/a\u{0007}", "path")
                .unwrap_err()
                .contains("control")
        );
        assert!(
            validate_memory_path("/a\u{200B}", "path")
                .unwrap_err()
                .contains("format")
        );
        assert!(
            validate_memory_path("/a\u{2028}", "path")
                .unwrap_err()
                .contains("separator")
        );
        assert!(
            validate_memory_path("/e\u{0301}", "path")
                .unwrap_err()
                .contains("NFC")
        );
        assert!(validate_memory_path("/\u{00e9}", "path").is_ok());
        let deep = "/a".repeat(21);
        assert!(
            validate_memory_path(&deep, "path")
                .unwrap_err()
                .contains("segments")
        );
        assert!(validate_memory_path(&"/a".repeat(20), "path").is_ok());
        let long = format!("/{}", "x".repeat(1024));
        assert!(
            validate_memory_path(&long, "path")
                .unwrap_err()
                .contains("1024 bytes")
        );
        assert!(validate_memory_path(&format!("/{}", "x".repeat(1023)), "path").is_ok());
    }

    #[test]
    fn slugs() {
        assert_eq!(slug("Shopper Preferences"), "shopper-preferences");
        assert_eq!(slug("  --Hello__World!! "), "hello-world");
        assert_eq!(slug("Café Notes"), "caf-notes");
        assert_eq!(slug("!!!"), "store");
        let taken = vec!["notes".to_string(), "notes-2".to_string()];
        assert_eq!(unique_slug("Notes", &taken), "notes-3");
        assert_eq!(unique_slug("Other", &taken), "other");
    }

    #[test]
    fn prefixes() {
        assert!(validate_path_prefix("/").is_ok());
        assert!(validate_path_prefix("/notes/").is_ok());
        assert!(validate_path_prefix("/notes").is_err());
        assert!(validate_path_prefix("notes/").is_err());
    }
}
