//! SQLite write-through storage: one `objects` table of JSON records by kind and id, and one
//! `events` table per session in append order, and the bytes of uploaded files in
//! `file_contents` (committed in the same transaction as their record). WAL mode, `synchronous=FULL`, one transaction
//! per acknowledged write.

use std::path::Path;

use rusqlite::{Connection, params};

use crate::faults::CommitFaults;

/// One persisted change.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Put {
        kind: &'static str,
        id: String,
        json: String,
    },
    Delete {
        kind: &'static str,
        id: String,
    },
    Event {
        session_id: String,
        seq: u64,
        json: String,
    },
    DeleteEvents {
        session_id: String,
    },
    /// An uploaded file's bytes; `None` deletes them.
    FileContent {
        id: String,
        bytes: Option<bytes::Bytes>,
    },
}

#[derive(Debug, thiserror::Error)]
#[error("sqlite: {0}")]
pub struct PersistError(#[from] rusqlite::Error);

pub struct Persist {
    conn: Connection,
    faults: CommitFaults,
}

/// Everything loaded at start.
#[derive(Debug, Default)]
pub struct Loaded {
    /// (kind, id, json)
    pub objects: Vec<(String, String, String)>,
    /// (session id, json) in append order.
    pub events: Vec<(String, String)>,
    /// (file id, bytes).
    pub file_contents: Vec<(String, Vec<u8>)>,
}

impl Persist {
    pub fn open(dir: &Path) -> Result<Self, PersistError> {
        let conn = Connection::open(dir.join("emulator.sqlite3"))?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(
            "CREATE TABLE IF NOT EXISTS objects (
                 kind TEXT NOT NULL, id TEXT NOT NULL, json TEXT NOT NULL, PRIMARY KEY (kind, id));
             CREATE TABLE IF NOT EXISTS events (
                 session_id TEXT NOT NULL, seq INTEGER NOT NULL, json TEXT NOT NULL,
                 PRIMARY KEY (session_id, seq));
             CREATE TABLE IF NOT EXISTS file_contents (
                 id TEXT NOT NULL PRIMARY KEY, bytes BLOB NOT NULL);",
        )?;
        Ok(Self {
            conn,
            faults: CommitFaults::default(),
        })
    }

    pub fn load(&self) -> Result<Loaded, PersistError> {
        let mut loaded = Loaded::default();
        let mut stmt = self.conn.prepare("SELECT kind, id, json FROM objects")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
        for row in rows {
            loaded.objects.push(row?);
        }
        let mut stmt = self
            .conn
            .prepare("SELECT session_id, json FROM events ORDER BY session_id, seq")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for row in rows {
            loaded.events.push(row?);
        }
        let mut stmt = self.conn.prepare("SELECT id, bytes FROM file_contents")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        for row in rows {
            loaded.file_contents.push(row?);
        }
        Ok(loaded)
    }

    /// The switch that makes this store's commits fail (off unless a test arms it).
    pub fn commit_faults(&self) -> CommitFaults {
        self.faults.clone()
    }

    /// Commits `changes` in one transaction; on an error nothing of it is stored.
    pub fn apply(&mut self, changes: &[Change]) -> Result<(), PersistError> {
        let tx = self.conn.transaction()?;
        for change in changes {
            match change {
                Change::Put { kind, id, json } => {
                    tx.execute(
                        "INSERT INTO objects (kind, id, json) VALUES (?1, ?2, ?3)
                         ON CONFLICT (kind, id) DO UPDATE SET json = excluded.json",
                        params![kind, id, json],
                    )?;
                }
                Change::Delete { kind, id } => {
                    tx.execute(
                        "DELETE FROM objects WHERE kind = ?1 AND id = ?2",
                        params![kind, id],
                    )?;
                }
                Change::Event {
                    session_id,
                    seq,
                    json,
                } => {
                    let seq = i64::try_from(*seq).unwrap_or(i64::MAX);
                    tx.execute(
                        "INSERT OR REPLACE INTO events (session_id, seq, json) VALUES (?1, ?2, ?3)",
                        params![session_id, seq, json],
                    )?;
                }
                Change::DeleteEvents { session_id } => {
                    tx.execute(
                        "DELETE FROM events WHERE session_id = ?1",
                        params![session_id],
                    )?;
                }
                Change::FileContent {
                    id,
                    bytes: Some(bytes),
                } => {
                    tx.execute(
                        "INSERT OR REPLACE INTO file_contents (id, bytes) VALUES (?1, ?2)",
                        params![id, bytes.as_ref()],
                    )?;
                }
                Change::FileContent { id, bytes: None } => {
                    tx.execute("DELETE FROM file_contents WHERE id = ?1", params![id])?;
                }
            }
        }
        if self.faults.commit_fails() {
            // Dropping `tx` rolls the statements back, as SQLite does when the disk is full.
            return Err(PersistError(rusqlite::Error::SqliteFailure(
                rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_FULL),
                Some("database or disk is full (injected commit fault)".into()),
            )));
        }
        tx.commit()?;
        Ok(())
    }
}
