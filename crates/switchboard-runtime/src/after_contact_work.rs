//! Ending an agent's after-contact work: from the CCP's Close, from the API
//! (`POST /api/v1/me/contacts/{id}/close`, for an agent with only a desk
//! phone or a script), and the record of how long the work took.

use chrono::{DateTime, Utc};
use switchboard_model::Channel;

use crate::routing::RoutingEvent;
use crate::AppState;
use switchboard_model::contact_record::ContactState;

/// Why a close was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CloseError {
    #[error("the contact is not in your after-contact work")]
    NotYours,
}

/// Ends `agent`'s after-contact work on `contact`, now. A chat's work is
/// recorded here (chats run side by side, so each notes its own); a call's
/// is recorded by the voice shell when the agent's state leaves it.
pub async fn close(app: &AppState, agent: &str, contact: &str) -> Result<(), CloseError> {
    let channel = app
        .routing
        .contacts()
        .await
        .into_iter()
        .find(|c| c.contact == contact && c.agent.as_deref() == Some(agent))
        .filter(|c| c.stage == switchboard_routing::ContactStage::AfterContactWork)
        .map(|c| c.channel)
        .ok_or(CloseError::NotYours)?;
    app.routing
        .send(RoutingEvent::CloseAcw {
            agent: agent.to_string(),
            contact: contact.to_string(),
        })
        .await
        .map_err(|_| CloseError::NotYours)?;
    if channel == Channel::Chat {
        tokio::spawn(record(app.clone(), contact.to_string(), Utc::now()));
    }
    Ok(())
}

/// Writes the end of after-contact work into the contact record (its start
/// is the disconnect). The contact's shell writes its final record just
/// before, so a record not yet ENDED is read again shortly.
pub async fn record(app: AppState, contact: String, ended: DateTime<Utc>) {
    // The call may still be running (an agent who transferred it closes
    // their after-contact work first): wait for its final record, up to a day.
    let mut wait = std::time::Duration::from_millis(100);
    let give_up = std::time::Instant::now() + std::time::Duration::from_secs(24 * 3600);
    while std::time::Instant::now() < give_up {
        match app.store.get_contact(&contact).await {
            Ok(Some(mut record)) if record.state == ContactState::Ended => {
                let start = record.disconnect_timestamp.unwrap_or(ended);
                if let Some(agent) = &mut record.agent {
                    agent.after_contact_work_start_timestamp = Some(start);
                    agent.after_contact_work_end_timestamp = Some(ended);
                    agent.after_contact_work_duration_seconds =
                        Some((ended - start).num_milliseconds().max(0) as f64 / 1000.0);
                }
                crate::recovery::store_when_possible(app.clone(), record).await;
                return;
            }
            Ok(_) => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(5));
            }
            Err(e) if e.is_unavailable() => {
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(std::time::Duration::from_secs(30));
            }
            Err(e) => {
                tracing::warn!(%contact, "after-contact work not recorded: {e}");
                return;
            }
        }
    }
}
