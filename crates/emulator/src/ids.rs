//! Object ids (`<prefix>01` + 22 base62 characters), request ids and API-key ids.

use rand::Rng;
use sha2::{Digest, Sha256};

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/// `prefix` + `01` + 22 random base62 characters, like `memstore_01NKkumXZXY8mEhoRA3xhBvN`.
pub fn new_id(prefix: &str) -> String {
    let mut rng = rand::rng();
    let mut id = String::with_capacity(prefix.len() + 24);
    id.push_str(prefix);
    id.push_str("01");
    for _ in 0..22 {
        id.push(char::from(BASE62[rng.random_range(0..BASE62.len())]));
    }
    id
}

pub const MEMORY_STORE: &str = "memstore_";
pub const MEMORY: &str = "mem_";
pub const MEMORY_VERSION: &str = "memver_";
pub const SESSION: &str = "sesn_";
pub const ENVIRONMENT: &str = "env_";
pub const AGENT: &str = "agent_";
pub const EVENT: &str = "sevt_";
pub const REQUEST: &str = "req_";
pub const OUTCOME: &str = "outc_";
pub const SESSION_RESOURCE: &str = "sesrsc_";
pub const FILE: &str = "file_";
pub const SESSION_THREAD: &str = "sthr_";
/// Webhook event ids: the SDK documents no prefix for them.
pub const WEBHOOK_EVENT: &str = "wevt_";

/// The api-key id used when a request carries no key.
pub const ANONYMOUS_API_KEY_ID: &str = "apikey_01emulator00000000000000";

/// A stable, non-reversible id for an API key: `apikey_` + the first 24 hex digits of its SHA-256.
pub fn api_key_id(key: Option<&str>) -> String {
    match key {
        Some(k) if !k.is_empty() => format!(
            "apikey_{}",
            &hex::encode(Sha256::digest(k.as_bytes()))[..24]
        ),
        _ => ANONYMOUS_API_KEY_ID.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_have_the_documented_shape() {
        let id = new_id(MEMORY_STORE);
        assert!(id.starts_with("memstore_01"));
        assert_eq!(id.len(), "memstore_01".len() + 22);
        assert!(
            id["memstore_01".len()..]
                .bytes()
                .all(|b| b.is_ascii_alphanumeric())
        );
    }

    #[test]
    fn api_key_ids_are_stable() {
        assert_eq!(api_key_id(Some("k")), api_key_id(Some("k")));
        assert_ne!(api_key_id(Some("k")), api_key_id(Some("j")));
        assert_eq!(api_key_id(None), ANONYMOUS_API_KEY_ID);
        assert_eq!(api_key_id(Some("k")).len(), "apikey_".len() + 24);
    }
}
