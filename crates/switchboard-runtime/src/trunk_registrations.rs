//! Where each trunk's registration with its carrier stands: the voice shell
//! writes it as its REGISTERs are answered; the API (the console's trunk
//! list) and `/metrics` read it. Kept in memory: it is the state of this
//! process's registrations, which start again with the process.

use std::collections::BTreeMap;
use std::sync::Mutex;

use serde::Serialize;
use utoipa::ToSchema;

/// Where one trunk's registration stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(tag = "state", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TrunkRegistration {
    /// Not registered yet: the first REGISTER is under way.
    Pending,
    /// Registered until then.
    Registered {
        until: chrono::DateTime<chrono::Utc>,
    },
    /// The last REGISTER failed: the carrier's status, or why no answer came.
    Failed { status: Option<u16>, reason: String },
}

/// Every registering trunk's state, by trunk name.
#[derive(Debug, Default)]
pub struct TrunkRegistrations {
    states: Mutex<BTreeMap<String, TrunkRegistration>>,
}

impl TrunkRegistrations {
    /// Each registering trunk (by name) and where it stands.
    pub fn states(&self) -> BTreeMap<String, TrunkRegistration> {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Records where `trunk` stands now.
    pub fn set(&self, trunk: &str, state: TrunkRegistration) {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(trunk.to_string(), state);
    }

    /// Forgets `trunk` (it no longer registers).
    pub fn remove(&self, trunk: &str) {
        self.states
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(trunk);
    }
}
