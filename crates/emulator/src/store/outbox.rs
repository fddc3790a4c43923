//! Webhooks waiting for delivery (`cma serve --webhook`): one row per event and URL, stored by
//! the write that caused the event (so an announced change is a committed one, and a restart
//! finds what was not yet delivered), counted before each attempt and removed once delivered or
//! given up ([`crate::webhooks`] does the sending). The table is an ordinary journaled one: no
//! storage code of its own.

use std::sync::{Arc, Weak};

use cma_types::WebhookEvent;
use serde::{Deserialize, Serialize};

use super::{Db, Effect, Model};
use crate::webhooks::{self, Attempt, Delivery, MAX_ATTEMPTS, Notifier};

pub const KIND_WEBHOOK: &str = "webhook";

/// One event waiting for one URL.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WebhookRec {
    /// Delivery order.
    pub seq: u64,
    pub event: WebhookEvent,
    /// The URL's fingerprint ([`webhooks::fingerprint`]).
    pub target: String,
    /// Attempts made (or about to be made) so far.
    pub attempts: u32,
}

impl Model {
    /// Queues a webhook about object `id` for every URL: stored with the current write, sent
    /// once it is committed.
    pub(crate) fn webhook(&mut self, kind: &str, id: &str) {
        if !self.webhooks.is_active() {
            return;
        }
        let event = Notifier::event(webhooks::data(kind, id));
        let targets: Vec<String> = self.webhooks.targets().map(str::to_string).collect();
        for target in targets {
            let key = format!("{}:{target}", event.id);
            let seq = self.next_seq();
            self.outbox.insert(
                key.clone(),
                WebhookRec {
                    seq,
                    event: event.clone(),
                    target: target.clone(),
                    attempts: 0,
                },
            );
            let delivery = Box::new(Delivery {
                key,
                event: event.clone(),
                attempts: 0,
            });
            self.after_commit(Effect::Webhook(self.webhooks.clone(), target, delivery));
        }
    }
}

/// The outbox as the delivery tasks see it: each count and removal is a write. It holds the
/// database weakly (the database holds the tasks' queues).
pub struct DbOutbox(Weak<Db>);

impl DbOutbox {
    pub fn new(db: &Arc<Db>) -> Self {
        Self(Arc::downgrade(db))
    }
}

impl webhooks::Outbox for DbOutbox {
    fn attempting(&self, key: &str, attempt: u32) -> Attempt {
        let Some(db) = self.0.upgrade() else {
            return Attempt::Stop;
        };
        let counted = db.write(|m| {
            Ok(match m.outbox.get_mut(key) {
                Some(rec) => {
                    rec.attempts = attempt;
                    Attempt::Go
                }
                None => Attempt::Skip,
            })
        });
        // Refused: the emulator is stopping (or the disk is full); a restart resumes the
        // delivery from what is stored.
        counted.unwrap_or(Attempt::Stop)
    }

    fn finished(&self, key: &str) {
        if let Some(db) = self.0.upgrade() {
            let _ = db.write(|m| {
                m.outbox.remove(key);
                Ok(())
            });
        }
    }
}

impl Db {
    /// Announces committed changes through `notifier` from now on, and hands it what the outbox
    /// still holds (after a restart), in order. A stored event whose URL is no longer
    /// configured, or that used up its attempts, is dropped.
    pub(crate) fn set_webhooks(&self, notifier: Notifier) {
        let stale: Vec<String> = {
            let mut m = self.lock();
            m.webhooks = notifier.clone();
            let mut rows: Vec<(&String, &WebhookRec)> = m.outbox.iter().collect();
            rows.sort_by_key(|(_, r)| r.seq);
            let mut stale = Vec::new();
            for (key, rec) in rows {
                let delivery = Delivery {
                    key: key.clone(),
                    event: rec.event.clone(),
                    attempts: rec.attempts,
                };
                if rec.attempts >= MAX_ATTEMPTS || !notifier.send(&rec.target, delivery) {
                    stale.push(key.clone());
                }
            }
            stale
        };
        if stale.is_empty() {
            return;
        }
        tracing::warn!(
            events = stale.len(),
            "stored webhooks for URLs no longer configured (or out of attempts) are dropped"
        );
        let _ = self.write(|m| {
            for key in &stale {
                m.outbox.remove(key);
            }
            Ok(())
        });
    }
}
