//! A session's earlier exchanges, shared between the live record and its before-images.
//!
//! Every write that touches a session leaves a before-image of it ([`super::journal`]), several a
//! turn. With the exchanges in a plain `Vec<(String, String)>` each image copied the whole
//! conversation, so a turn's cost grew with the session (a sixth of the emulator's CPU by turn
//! 600 in a one-session profile, plus the allocator's work to free the copies). Each exchange is
//! now behind an `Arc`: an image costs a reference count per exchange, not two strings.

use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// `(user, agent)` exchanges, oldest first. Stored as a plain list of pairs, as before.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History(Vec<Arc<(String, String)>>);

impl History {
    pub fn push(&mut self, exchange: (String, String)) {
        self.0.push(Arc::new(exchange));
    }

    pub fn iter(&self) -> impl Iterator<Item = &(String, String)> {
        self.0.iter().map(|exchange| &**exchange)
    }
}

impl Serialize for History {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.iter())
    }
}

impl<'de> Deserialize<'de> for History {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(String, String)>::deserialize(deserializer)?;
        Ok(Self(pairs.into_iter().map(Arc::new).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stored form is the list of pairs it always was, so existing data directories load.
    #[test]
    fn stored_as_a_list_of_pairs() {
        let mut history = History::default();
        history.push(("hi".into(), "hello".into()));
        history.push(("size?".into(), "medium".into()));
        let json = serde_json::to_string(&history).unwrap();
        assert_eq!(json, r#"[["hi","hello"],["size?","medium"]]"#);
        let back: History = serde_json::from_str(&json).unwrap();
        assert_eq!(back, history);
        let users: Vec<&str> = back.iter().map(|(u, _)| u.as_str()).collect();
        assert_eq!(users, ["hi", "size?"]);
    }

    /// A before-image shares the exchanges: a later push does not reach it.
    #[test]
    fn a_copy_shares_exchanges_and_stays_as_it_was() {
        let mut history = History::default();
        history.push(("a".into(), "b".into()));
        let image = history.clone();
        assert!(Arc::ptr_eq(&image.0[0], &history.0[0]));
        history.push(("c".into(), "d".into()));
        assert_eq!(image.iter().count(), 1);
        assert_eq!(history.iter().count(), 2);
    }
}
