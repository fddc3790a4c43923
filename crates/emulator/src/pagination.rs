//! Opaque list cursors. A cursor names the list it came from (endpoint, parent, filters and,
//! for memory calls, the beta header), so a malformed or foreign cursor is a 400.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ApiError, ApiResult};

/// Where a list is positioned: the sort key of an item.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Key {
    Seq(u64),
    Str(String),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Cursor {
    /// The list this cursor belongs to.
    s: String,
    /// Items strictly after (or, for `p`, strictly before) this key.
    k: Key,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    p: bool,
}

fn checksum(payload: &[u8]) -> String {
    hex::encode(&Sha256::digest([b"cma-emulator-cursor:".as_slice(), payload].concat())[..8])
}

impl Cursor {
    pub fn encode(&self) -> String {
        let payload = serde_json::to_vec(self).unwrap_or_default();
        format!("page_{}{}", hex::encode(&payload), checksum(&payload))
    }

    /// Decodes and checks a cursor against the list `scope`.
    pub fn decode(value: &str, scope: &str) -> ApiResult<Self> {
        let invalid = || ApiError::invalid(format!("page: invalid page cursor {value:?}"));
        let body = value.strip_prefix("page_").ok_or_else(invalid)?;
        if body.len() < 16 || !body.is_ascii() {
            return Err(invalid());
        }
        let (data, sum) = body.split_at(body.len() - 16);
        let payload = hex::decode(data).map_err(|_| invalid())?;
        if checksum(&payload) != sum {
            return Err(invalid());
        }
        let cursor: Cursor = serde_json::from_slice(&payload).map_err(|_| invalid())?;
        if cursor.s != scope {
            return Err(ApiError::invalid(
                "page: this cursor belongs to a different list (another endpoint, filter or beta header)",
            ));
        }
        Ok(cursor)
    }
}

/// One page of items, with the cursors around it.
#[derive(Debug)]
pub struct Paged<T> {
    pub data: Vec<T>,
    pub next_page: Option<String>,
    pub prev_page: Option<String>,
}

/// Pages `items`, which are already in output order (`desc` says which way the keys run).
pub fn paginate<T>(
    items: Vec<(Key, T)>,
    desc: bool,
    limit: usize,
    cursor: Option<&Cursor>,
    scope: &str,
) -> Paged<T> {
    let after = |key: &Key, k: &Key| if desc { key < k } else { key > k };
    let (start, end) = match cursor {
        None => (0, limit.min(items.len())),
        Some(c) if !c.p => {
            let s = items
                .iter()
                .position(|(key, _)| after(key, &c.k))
                .unwrap_or(items.len());
            (s, (s + limit).min(items.len()))
        }
        Some(c) => {
            let e = items
                .iter()
                .position(|(key, _)| after(key, &c.k) || *key == c.k)
                .unwrap_or(items.len());
            (e.saturating_sub(limit), e)
        }
    };
    let next_page = (end < items.len() && end > start).then(|| {
        Cursor {
            s: scope.to_string(),
            k: items[end - 1].0.clone(),
            p: false,
        }
        .encode()
    });
    let prev_page = (start > 0 && start < items.len()).then(|| {
        Cursor {
            s: scope.to_string(),
            k: items[start].0.clone(),
            p: true,
        }
        .encode()
    });
    let data = items
        .into_iter()
        .skip(start)
        .take(end - start)
        .map(|(_, t)| t)
        .collect();
    Paged {
        data,
        next_page,
        prev_page,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(n: u64) -> Vec<(Key, u64)> {
        (1..=n).map(|i| (Key::Seq(i), i)).collect()
    }

    #[test]
    fn pages_forward_and_back() {
        let p1 = paginate(keys(5), false, 2, None, "s");
        assert_eq!(p1.data, vec![1, 2]);
        assert!(p1.prev_page.is_none());
        let c = Cursor::decode(p1.next_page.as_deref().unwrap(), "s").unwrap();
        let p2 = paginate(keys(5), false, 2, Some(&c), "s");
        assert_eq!(p2.data, vec![3, 4]);
        let c = Cursor::decode(p2.next_page.as_deref().unwrap(), "s").unwrap();
        let p3 = paginate(keys(5), false, 2, Some(&c), "s");
        assert_eq!(p3.data, vec![5]);
        assert!(p3.next_page.is_none());
        let back = Cursor::decode(p3.prev_page.as_deref().unwrap(), "s").unwrap();
        assert_eq!(
            paginate(keys(5), false, 2, Some(&back), "s").data,
            vec![3, 4]
        );
    }

    #[test]
    fn rejects_bad_and_foreign_cursors() {
        let p = paginate(keys(5), false, 2, None, "s");
        let next = p.next_page.unwrap();
        assert!(Cursor::decode(&next, "other").is_err());
        assert!(Cursor::decode("garbage", "s").is_err());
        let mut tampered = next.clone();
        tampered.pop();
        tampered.push('0');
        assert!(Cursor::decode(&tampered, "s").is_err() || tampered == next);
    }
}
