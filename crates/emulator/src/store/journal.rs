//! Undo for the model's tables: a write is applied to the live model, and every record it touches
//! first leaves a before-image here. [`super::Db::write`] drops the images once the write is
//! durable, or puts them back when it is not, so a failed commit leaves every table as it was.
//!
//! Reads go through `Deref` to the `HashMap`; the only ways to change a table are the journaled
//! [`Table::get_mut`], [`Table::insert`] and [`Table::remove`], so the compiler finds any
//! mutation that would escape the undo log.

use std::collections::HashMap;
use std::ops::Deref;

/// A record that can leave a before-image of itself.
pub trait Undo: Sized {
    /// What to put back if the write fails. Derived state that is rebuilt on rollback (such as a
    /// store's path index) may be left out.
    fn before_image(&self) -> Self;
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
