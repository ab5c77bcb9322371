//! Where an agent's transfer sends a contact: a quick connect (to a phone
//! number, a queue, or another agent's own queue), and, for what a desk
//! phone's REFER names, a queue or a number. The CCP and the voice
//! channel's REFER both resolve targets here.

use switchboard_model::objects::quick_connect::QuickConnectTarget;
use switchboard_model::objects::routing_profile::Channel;
use switchboard_model::{Queue, QuickConnect, RoutingProfile, User};

use crate::routing::agent_queue;
use crate::AppState;

/// Where a transfer sends the contact.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TransferTarget {
    /// An external number, through a trunk.
    Number(String),
    /// A queue (id, name); an agent's own queue for an agent quick connect.
    Queue(String, String),
}

/// Why a transfer target does not resolve.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransferError {
    #[error("{0}")]
    Store(String),
    #[error("no quick connect '{0}'")]
    NoQuickConnect(String),
    #[error("the queue '{0}' does not exist")]
    NoQueue(String),
    #[error("the agent '{0}' does not exist")]
    NoAgent(String),
    #[error("that quick connect is you")]
    Yourself,
    #[error("{username} does not take {what} (their routing profile has no {channel})")]
    DoesNotTake {
        username: String,
        what: &'static str,
        channel: &'static str,
    },
    #[error("'{0}' is neither a quick connect, a queue nor a phone number")]
    Unknown(String),
}

/// Whether `user`'s routing profile takes contacts of `channel`.
pub async fn takes(app: &AppState, user: &User, channel: Channel) -> bool {
    match app.store.get::<RoutingProfile>(&user.routing_profile).await {
        Ok(Some(p)) => p
            .spec
            .media_concurrencies
            .iter()
            .any(|m| m.channel == channel && m.concurrency > 0),
        _ => false,
    }
}

/// The quick connect `quick_connect` (id or name) as a transfer target for
/// `agent`'s contact of `channel`.
pub async fn quick_connect(
    app: &AppState,
    agent: &str,
    quick_connect: &str,
    channel: Channel,
) -> Result<TransferTarget, TransferError> {
    let found = app
        .store
        .list::<QuickConnect>()
        .await
        .map_err(|e| TransferError::Store(e.to_string()))?
        .into_iter()
        .find(|q| q.id == quick_connect || q.spec.name == quick_connect);
    match found.map(|q| q.spec.target) {
        Some(QuickConnectTarget::PhoneNumber { phone_number }) => {
            Ok(TransferTarget::Number(phone_number))
        }
        Some(QuickConnectTarget::Queue { queue, .. }) => match app.store.get::<Queue>(&queue).await
        {
            Ok(Some(q)) => Ok(TransferTarget::Queue(q.id, q.spec.name)),
            _ => Err(TransferError::NoQueue(queue)),
        },
        Some(QuickConnectTarget::User { user, .. }) => {
            let users = app.store.list::<User>().await.unwrap_or_default();
            match users
                .into_iter()
                .find(|u| u.id == user || u.spec.username == user)
            {
                Some(u) if u.id == agent => Err(TransferError::Yourself),
                Some(u) if !takes(app, &u.spec, channel).await => {
                    let chat = channel == Channel::Chat;
                    Err(TransferError::DoesNotTake {
                        username: u.spec.username,
                        what: if chat { "chats" } else { "calls" },
                        channel: if chat { "chat" } else { "voice" },
                    })
                }
                Some(u) => Ok(TransferTarget::Queue(agent_queue(&u.id), u.spec.username)),
                None => Err(TransferError::NoAgent(user)),
            }
        }
        None => Err(TransferError::NoQuickConnect(quick_connect.to_string())),
    }
}

/// What a desk phone's transfer names (the user part of its REFER's
/// Refer-To): a quick connect, else a queue (id or name, any case), else a
/// phone number (digits, optionally `+`, spaces and dashes ignored).
pub async fn dialled(
    app: &AppState,
    agent: &str,
    dialled: &str,
) -> Result<TransferTarget, TransferError> {
    match quick_connect(app, agent, dialled, Channel::Voice).await {
        Err(TransferError::NoQuickConnect(_)) => {}
        resolved => return resolved,
    }
    let queues = app
        .store
        .list::<Queue>()
        .await
        .map_err(|e| TransferError::Store(e.to_string()))?;
    if let Some(q) = queues
        .into_iter()
        .find(|q| q.id == dialled || q.spec.name.eq_ignore_ascii_case(dialled))
    {
        return Ok(TransferTarget::Queue(q.id, q.spec.name));
    }
    let number: String = dialled
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '(' | ')' | '.'))
        .collect();
    let digits = number.strip_prefix('+').unwrap_or(&number);
    if (3..=15).contains(&digits.len()) && digits.chars().all(|c| c.is_ascii_digit()) {
        return Ok(TransferTarget::Number(number));
    }
    Err(TransferError::Unknown(dialled.to_string()))
}
