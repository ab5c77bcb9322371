//! Writing a contact's records, for every channel: one writer task per
//! contact (a call, a chat), fed by the contact's own task so that its
//! media or messages never wait for the database.
//!
//! - Records are written in the order they were made; when several are
//!   waiting, only the newest of each contact is written (a transfer writes
//!   two contacts, both kept).
//! - A write that fails is tried again (three times, 200 ms apart and
//!   doubling); while the database is away it waits for it, for up to a
//!   day ([`crate::recovery::store_when_possible`]), and the newer records
//!   queue behind it, in order.
//! - Words for contact search are indexed after the record they belong to.

use std::time::Duration;

use switchboard_model::ContactRecord;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::warn;

use crate::AppState;

/// What a contact's writer stores, in order.
#[derive(Debug)]
enum Write {
    Record(Box<ContactRecord>),
    /// The words contact search finds a contact by.
    Words(String, String),
}

/// Hands a contact's records to its writer task; cheap to clone.
#[derive(Debug, Clone)]
pub struct RecordWriter {
    tx: mpsc::UnboundedSender<Write>,
}

impl RecordWriter {
    /// Starts the writer. Await the handle once every clone of the writer
    /// is dropped: it ends when what was handed to it is written.
    pub fn start(app: AppState) -> (Self, JoinHandle<()>) {
        let (tx, rx) = mpsc::unbounded_channel();
        (Self { tx }, tokio::spawn(write(app, rx)))
    }

    /// Queues `record` (as it is now) for writing.
    pub fn record(&self, record: &ContactRecord) {
        let _ = self.tx.send(Write::Record(Box::new(record.clone())));
    }

    /// Queues the words contact search finds `contact` by.
    pub fn words(&self, contact: &str, words: String) {
        let _ = self.tx.send(Write::Words(contact.to_string(), words));
    }
}

async fn write(app: AppState, mut writes: mpsc::UnboundedReceiver<Write>) {
    let mut waiting: Option<ContactRecord> = None;
    while let Some(first) = writes.recv().await {
        let mut batch = vec![first];
        while let Ok(next) = writes.try_recv() {
            batch.push(next);
        }
        for write in batch {
            match write {
                Write::Record(r) => {
                    if let Some(w) = waiting.take_if(|w| w.id != r.id) {
                        put(&app, w).await;
                    }
                    waiting = Some(*r);
                }
                Write::Words(id, words) => {
                    if let Some(w) = waiting.take() {
                        put(&app, w).await;
                    }
                    if let Err(e) = app.store.set_contact_search_text(&id, &words).await {
                        warn!(contact = %id, "words for contact search not indexed: {e}");
                    }
                }
            }
        }
        if let Some(w) = waiting.take() {
            put(&app, w).await;
        }
    }
}

/// Writes one record: a few tries for a passing error, and through a
/// database outage, waiting for it.
async fn put(app: &AppState, record: ContactRecord) {
    for attempt in 0..3 {
        match app.store.put_contact(&record).await {
            Ok(()) => return,
            Err(e) if e.is_unavailable() => {
                warn!(contact = %record.id, "contact record waits for the database: {e}");
                crate::recovery::store_when_possible(app.clone(), record).await;
                return;
            }
            Err(e) => {
                warn!(contact = %record.id, attempt, "contact record not written: {e}");
                tokio::time::sleep(Duration::from_millis(200 << attempt)).await;
            }
        }
    }
    tracing::error!(contact = %record.id, record = ?record, "contact record not written after three tries");
}
