//! Undo for the model's tables: a write is applied to the live model, and every record it touches
//! first leaves a before-image here. [`super::Db::write`] drops the images once the write is
//! durable, or puts them back when it is not, so a failed commit leaves every table as it was.
//!
//! Reads go through `Deref` to the `HashMap`; the only ways to change a table are the journaled
//! [`Table::get_mut`], [`Table::insert`] and [`Table::remove`], so the compiler finds any
//! mutation that would escape the undo log.
//!
//! The same log makes writes durable: what a write stores is exactly the rows its journal lists
//! ([`Table::stage`]), each as it is once the write is done — put if present, deleted if not. A
//! record is stored by being [`Durable`]; no write path has anything to remember.

use std::collections::{HashMap, HashSet};
use std::ops::Deref;

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::persist::Change;

/// A record that can leave a before-image of itself.
pub trait Undo: Sized {
    /// What to put back if the write fails. Derived state that is rebuilt on rollback (such as a
    /// store's path index) may be left out.
    fn before_image(&self) -> Self;
}

/// A record stored in the `objects` table under its kind.
pub trait Durable: Undo + Serialize + DeserializeOwned {
    const KIND: &'static str;
}

/// A stored row that does not decode into its table's record.
#[derive(Debug, thiserror::Error)]
#[error("record {kind} {id} does not decode: {source}")]
pub struct DecodeError {
    kind: &'static str,
    id: String,
    source: serde_json::Error,
}

/// Past this many images a write is a bulk one (a store deletion): touching a record twice then
/// only costs a second image, which rollback handles (images are restored newest first).
const DEDUP_SCAN: usize = 16;

/// Records by id, with the before-images of the current write.
#[derive(Debug)]
pub struct Table<T> {
    map: HashMap<String, T>,
    /// `(id, record before the write)`, in the order touched; `None`: the id was absent.
    undo: Vec<(String, Option<T>)>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Self {
            map: HashMap::new(),
            undo: Vec::new(),
        }
    }
}

impl<T> Deref for Table<T> {
    type Target = HashMap<String, T>;

    fn deref(&self) -> &Self::Target {
        &self.map
    }
}

impl<T: Undo> Table<T> {
    fn save(&mut self, id: &str) {
        if self.undo.len() <= DEDUP_SCAN && self.undo.iter().any(|(k, _)| k == id) {
            return;
        }
        let image = self.map.get(id).map(Undo::before_image);
        self.undo.push((id.to_string(), image));
    }

    pub fn get_mut(&mut self, id: &str) -> Option<&mut T> {
        if !self.map.contains_key(id) {
            return None;
        }
        self.save(id);
        self.map.get_mut(id)
    }

    pub fn insert(&mut self, id: String, rec: T) -> Option<T> {
        self.save(&id);
        self.map.insert(id, rec)
    }

    pub fn remove(&mut self, id: &str) -> Option<T> {
        if !self.map.contains_key(id) {
            return None;
        }
        self.save(id);
        self.map.remove(id)
    }

    /// Changes a record without journaling (nothing to undo, nothing stored): only for fields a
    /// restart rebuilds the same way from what is stored, such as a session's runner state.
    pub(crate) fn get_mut_unjournaled(&mut self, id: &str) -> Option<&mut T> {
        self.map.get_mut(id)
    }

    /// Mutates every record without journaling; only for state rebuilt from the records
    /// themselves (indexes), which rollback rebuilds as well.
    pub(crate) fn values_mut_unjournaled(&mut self) -> impl Iterator<Item = &mut T> {
        self.map.values_mut()
    }

    /// Whether the current write touched this table.
    pub(crate) fn touched(&self) -> bool {
        !self.undo.is_empty()
    }

    /// The write is durable: forget the images.
    pub(crate) fn commit(&mut self) {
        self.undo.clear();
    }

    /// The write failed: put every touched record back, newest image first.
    pub(crate) fn rollback(&mut self) {
        while let Some((id, image)) = self.undo.pop() {
            match image {
                Some(rec) => {
                    self.map.insert(id, rec);
                }
                None => {
                    self.map.remove(&id);
                }
            }
        }
    }
}

impl<T: Durable> Table<T> {
    /// The rows the current write touched, as they are now: each present one put, each removed
    /// one deleted, once per row. A row that does not serialize fails the write.
    pub(crate) fn stage(&self, out: &mut Vec<Change>) -> Result<(), serde_json::Error> {
        let mut seen = HashSet::new();
        for (id, _) in &self.undo {
            if !seen.insert(id.as_str()) {
                continue;
            }
            out.push(match self.map.get(id) {
                Some(rec) => Change::Put {
                    kind: T::KIND,
                    id: id.clone(),
                    json: serde_json::to_string(rec)?,
                },
                None => Change::Delete {
                    kind: T::KIND,
                    id: id.clone(),
                },
            });
        }
        Ok(())
    }

    /// Decodes a stored row of this table's kind (at start; not journaled).
    pub(crate) fn load(&mut self, id: &str, json: &str) -> Result<&mut T, DecodeError> {
        let rec: T = serde_json::from_str(json).map_err(|source| DecodeError {
            kind: T::KIND,
            id: id.to_string(),
            source,
        })?;
        Ok(self.map.entry(id.to_string()).insert_entry(rec).into_mut())
    }
}

#[cfg(test)]
mod tests {
    use serde::Deserialize;

    use super::*;
    use crate::persist::Persist;

    #[derive(Debug, Clone, PartialEq)]
    struct Rec(u32);

    impl Undo for Rec {
        fn before_image(&self) -> Self {
            self.clone()
        }
    }

    /// Rollback must restore updates, insertions and removals, including a record touched more
    /// often than the dedup scan covers (break it: restore images oldest first).
    #[test]
    fn rollback_restores_every_touched_record() {
        let mut t: Table<Rec> = Table::default();
        t.insert("a".into(), Rec(1));
        t.insert("b".into(), Rec(2));
        t.commit();
        if let Some(a) = t.get_mut("a") {
            a.0 = 10;
        }
        t.remove("b");
        t.insert("c".into(), Rec(3));
        for i in 0..40 {
            t.insert(format!("bulk{i}"), Rec(i));
            if let Some(a) = t.get_mut("a") {
                a.0 += 1;
            }
        }
        assert!(t.touched());
        t.rollback();
        assert!(!t.touched());
        let mut now: Vec<_> = t.iter().map(|(k, v)| (k.clone(), v.0)).collect();
        now.sort();
        assert_eq!(now, vec![("a".into(), 1), ("b".into(), 2)]);
        // Committed changes stay.
        t.insert("d".into(), Rec(4));
        t.commit();
        t.rollback();
        assert_eq!(t.get("d"), Some(&Rec(4)));
    }

    #[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
    struct Gadget {
        colour: String,
    }

    impl Undo for Gadget {
        fn before_image(&self) -> Self {
            self.clone()
        }
    }

    impl Durable for Gadget {
        const KIND: &'static str = "gadget";
    }

    /// Commits what a write touched the way `Db::write` does: stage, store, forget the images.
    fn commit(table: &mut Table<Gadget>, persist: &mut Persist) {
        let mut rows = Vec::new();
        table.stage(&mut rows).unwrap();
        persist.apply(&rows).unwrap();
        table.commit();
    }

    fn gadget(colour: &str) -> Gadget {
        Gadget {
            colour: colour.into(),
        }
    }

    /// A table nobody wrote storage code for: its record being `Durable` is all it takes for a
    /// committed write to store exactly the rows it touched (puts and deletions), and for a
    /// restart to read them back; a rolled-back write stores nothing. Break it: make `stage`
    /// skip rows it has seen in an earlier write, or stage removed rows as puts, and this fails.
    #[test]
    fn a_made_up_table_survives_a_restart_with_no_storage_code() {
        let dir = tempfile::tempdir().unwrap();
        {
            let mut persist = Persist::open(dir.path()).unwrap();
            let mut table: Table<Gadget> = Table::default();
            table.insert("g1".into(), gadget("red"));
            table.insert("g2".into(), gadget("green"));
            commit(&mut table, &mut persist);
            // A second write changes one row (twice) and removes the other.
            table.get_mut("g1").unwrap().colour = "amber".into();
            table.get_mut("g1").unwrap().colour = "blue".into();
            table.remove("g2");
            table.insert("g3".into(), gadget("grey"));
            commit(&mut table, &mut persist);
            // A write that is rolled back leaves nothing to store.
            table.insert("g4".into(), gadget("pink"));
            table.rollback();
            let mut rows = Vec::new();
            table.stage(&mut rows).unwrap();
            assert!(rows.is_empty(), "{rows:?}");
        }
        let persist = Persist::open(dir.path()).unwrap();
        let mut back: Table<Gadget> = Table::default();
        for (kind, id, json) in persist.load().unwrap().objects {
            assert_eq!(kind, Gadget::KIND);
            back.load(&id, &json).unwrap();
        }
        let mut rows: Vec<(String, String)> = back
            .iter()
            .map(|(k, v)| (k.clone(), v.colour.clone()))
            .collect();
        rows.sort();
        assert_eq!(
            rows,
            [
                ("g1".to_string(), "blue".to_string()),
                ("g3".into(), "grey".into())
            ]
        );
        // A row that does not decode is a clear error, naming its kind and id.
        let err = back.load("g9", "{\"colour\": 7}").unwrap_err().to_string();
        assert!(err.starts_with("record gadget g9 does not decode"), "{err}");
    }
}
