//! Where a contact stands on the agent's screen, the same for every channel.

use serde::Serialize;

/// Where a contact card stands in the agent's CCP, for calls and chats
/// alike (`dialing`, `incoming`, `connected`, `on_hold`, `ended` in JSON;
/// `ended` is after-contact work).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CardState {
    /// The agent's own outbound call, ringing the customer.
    Dialing,
    /// Offered to the agent, not yet accepted.
    Incoming,
    /// The agent is with the customer.
    Connected,
    /// The agent put the customer on hold.
    OnHold,
    /// Over: after-contact work until the agent closes the card.
    Ended,
}

impl CardState {
    /// The name the CCP uses.
    pub fn as_str(self) -> &'static str {
        match self {
            CardState::Dialing => "dialing",
            CardState::Incoming => "incoming",
            CardState::Connected => "connected",
            CardState::OnHold => "on_hold",
            CardState::Ended => "ended",
        }
    }
}

impl std::fmt::Display for CardState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
