//! After a crash: every contact the dead process left open ends.
//!
//! Calls and chats live in the memory of the process that runs them (SIP
//! dialogs, media, the chat room), so none survives a restart. The voice
//! shell first ends the contacts routing still holds (it rebuilds from its
//! log, and their agents must be freed and shown the end); this sweep then
//! closes every other record left open: contacts that were in a flow, or
//! between steps, when the process died. Each ends with a reason and times
//! ([`ContactRecord::close_lost`]), so reports and search see it ended.
//!
//! One node runs every contact today, so every open record is this node's.
//! With several nodes (issue 24) the sweep must take only the records of
//! the node that died.

use switchboard_model::ContactRecord;

use crate::AppState;

/// Records read per page: bounded memory however many were left open.
const PAGE: i64 = 500;

/// Closes every open contact begun before `now` (this process's start:
/// nothing begun before it is running); returns how many.
pub async fn close_lost_contacts(app: &AppState, now: chrono::DateTime<chrono::Utc>) -> usize {
    let mut closed = 0;
    let mut after = String::new();
    loop {
        let page = match app.store.open_contacts(&after, PAGE).await {
            Ok(page) => page,
            Err(e) => {
                tracing::error!("recovery: open contacts not read: {e}");
                return closed;
            }
        };
        let Some(last) = page.last() else {
            return closed;
        };
        after = last.id.clone();
        for record in page {
            if close_one(app, record, now).await {
                closed += 1;
            }
        }
    }
}

async fn close_one(
    app: &AppState,
    mut record: ContactRecord,
    now: chrono::DateTime<chrono::Utc>,
) -> bool {
    // A contact begun since the sweep started is this process's own (a
    // chat opened meanwhile), not lost.
    if record.initiation_timestamp >= now || !record.close_lost(now) {
        return false;
    }
    tracing::warn!(
        contact = %record.id,
        channel = %record.channel,
        "a contact lost in a restart is closed"
    );
    if let Err(e) = app.store.put_contact(&record).await {
        tracing::error!(contact = %record.id, "recovery: not closed: {e}");
        return false;
    }
    app.metrics.contact_ended(&record);
    true
}

/// How long a record waits for the database to come back before it is
/// given up (and logged whole, so it can still be entered by hand).
const KEEP_TRYING_FOR: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

/// Writes `record`, retrying through a database outage (backing off to
/// 30 s between tries): a contact accepted while the database was away
/// still leaves its record once it is back. Other errors are not retried.
pub async fn store_when_possible(app: AppState, record: ContactRecord) {
    let mut wait = std::time::Duration::from_millis(200);
    let give_up = std::time::Instant::now() + KEEP_TRYING_FOR;
    loop {
        match app.store.put_contact(&record).await {
            Ok(()) => return,
            Err(e) if e.is_unavailable() && std::time::Instant::now() < give_up => {
                tracing::warn!(contact = %record.id, "record waits for the database: {e}");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            Err(e) => {
                tracing::error!(contact = %record.id, record = ?record, "record not written: {e}");
                return;
            }
        }
    }
}
