//! Field rules shared by several resources: names, metadata, descriptions, list limits.

use cma_types::{Metadata, MetadataPatch};

use crate::error::{ApiError, ApiResult};

pub const MAX_METADATA_PAIRS: usize = 16;
pub const MAX_METADATA_KEY_CHARS: usize = 64;
pub const MAX_METADATA_VALUE_CHARS: usize = 512;

fn metadata_error(message: String) -> ApiError {
    ApiError::invalid(message).code("invalid_metadata")
}

fn check_pair(field: &str, key: &str, value: Option<&str>) -> ApiResult<()> {
    let chars = key.chars().count();
    if chars == 0 || chars > MAX_METADATA_KEY_CHARS {
        return Err(metadata_error(format!(
            "{field}: keys must be 1-{MAX_METADATA_KEY_CHARS} characters (got {chars})"
        )));
    }
    if let Some(v) = value {
        let n = v.chars().count();
        if n > MAX_METADATA_VALUE_CHARS {
            return Err(metadata_error(format!(
                "{field}.{key}: values must be at most {MAX_METADATA_VALUE_CHARS} characters (got {n})"
            )));
        }
    }
    Ok(())
}

fn check_count(field: &str, n: usize) -> ApiResult<()> {
    if n > MAX_METADATA_PAIRS {
        return Err(metadata_error(format!(
            "{field}: at most {MAX_METADATA_PAIRS} pairs allowed (got {n})"
        )));
    }
    Ok(())
}

/// Validates a full metadata map (create).
pub fn metadata(field: &str, m: &Metadata) -> ApiResult<()> {
    check_count(field, m.len())?;
    for (k, v) in m {
        check_pair(field, k, Some(v))?;
    }
    Ok(())
}

/// Applies a patch (a string sets, `null` deletes) to a copy and validates the result.
/// `empty_deletes` also treats `""` as a delete (environments).
pub fn patch_metadata(
    field: &str,
    current: &Metadata,
    patch: &MetadataPatch,
    empty_deletes: bool,
) -> ApiResult<Metadata> {
    let mut next = current.clone();
    for (k, v) in patch {
        check_pair(field, k, v.as_deref())?;
        match v {
            Some(v) if !(empty_deletes && v.is_empty()) => {
                next.insert(k.clone(), v.clone());
            }
            _ => {
                next.remove(k);
            }
        }
    }
    check_count(field, next.len())?;
    Ok(next)
}

/// 1..=`max` characters, no control characters.
pub fn name(field: &str, value: &str, max: usize) -> ApiResult<()> {
    let n = value.chars().count();
    if n == 0 {
        return Err(ApiError::invalid(format!("{field}: must not be empty")));
    }
    if n > max {
        return Err(ApiError::invalid(format!(
            "{field}: must be at most {max} characters (got {n})"
        )));
    }
    if value.chars().any(char::is_control) {
        return Err(ApiError::invalid(format!(
            "{field}: must not contain control characters"
        )));
    }
    Ok(())
}

/// At most `max` characters.
pub fn max_chars(field: &str, value: &str, max: usize) -> ApiResult<()> {
    let n = value.chars().count();
    if n > max {
        return Err(ApiError::invalid(format!(
            "{field}: must be at most {max} characters (got {n})"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_rules() {
        let mut m = Metadata::new();
        m.insert("k".into(), "v".into());
        assert!(metadata("metadata", &m).is_ok());
        m.insert("".into(), "v".into());
        let e = metadata("metadata", &m).unwrap_err();
        assert_eq!(e.error_code, Some("invalid_metadata"));
        let mut patch = MetadataPatch::new();
        patch.insert("a".into(), None);
        patch.insert("b".into(), Some("x".repeat(513)));
        assert!(patch_metadata("metadata", &Metadata::new(), &patch, false).is_err());
    }
}
