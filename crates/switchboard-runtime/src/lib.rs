//! # switchboard-runtime
//!
//! What every channel shell (voice, chat) and the HTTP shell run on, and
//! nothing that belongs to one of them:
//!
//! - [`AppState`]: the store, blobs, routing, functions, metrics and
//!   settings a node shares, cheap to clone;
//! - [`routing`]: the service around the pure router (its log, the
//!   routing configuration, decisions fanned out to the shells);
//! - [`flow_shell`]: loading flows and answering the effects every channel
//!   answers the same way (lookups, queue checks, hours, functions);
//! - [`functions`]: external functions (HTTP, with limits);
//! - [`records`] and [`recovery`]: writing contact records in order and
//!   retrying, and closing what a crash left open;
//! - [`after_contact_work`], [`metrics`], [`throttle`] (sign-in guards),
//!   [`limits`] (bounded connections) and [`card`] (the agent's view of a
//!   contact, the same for every channel).

pub mod after_contact_work;
pub mod bots;
pub mod card;
pub mod flow_shell;
pub mod functions;
pub mod limits;
pub mod metrics;
pub mod records;
pub mod recovery;
pub mod routing;
pub mod throttle;
pub mod transfer;
pub mod trunk_registrations;

use std::sync::Arc;

use switchboard_store::{Blobs, Store};

pub use card::CardState;

/// Tunables of the HTTP layer.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long a session token lasts after sign-in.
    pub session_ttl: chrono::Duration,
    /// Largest prompt file accepted.
    pub max_prompt_bytes: usize,
    /// Prices for usage reports.
    pub rate_card: switchboard_reports::usage::RateCard,
    /// What the instance is called on its pages (Connect's instance alias).
    pub instance_name: String,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            session_ttl: chrono::Duration::hours(12),
            max_prompt_bytes: 20 * 1024 * 1024,
            rate_card: Default::default(),
            instance_name: "Switchboard".into(),
        }
    }
}

/// What every shell and handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    pub store: Store,
    pub blobs: Blobs,
    pub functions: functions::FunctionClient,
    pub routing: routing::RoutingHandle,
    /// Failed sign-ins (HTTP, SIP digest, own password changes) per user and address.
    pub login_throttle: Arc<throttle::SignInGuard>,
    pub settings: Arc<Settings>,
    /// Counters for `/metrics` (HTTP requests; gauges are read at scrape time).
    pub metrics: metrics::Metrics,
    /// Where each trunk's registration with its carrier stands.
    pub trunk_registrations: Arc<trunk_registrations::TrunkRegistrations>,
}

impl AppState {
    /// The routing profile `agent` has now, for their contact record (reports
    /// group a contact by the profile the agent had when connected).
    pub async fn routing_profile_of(
        &self,
        agent: &str,
    ) -> Option<switchboard_model::contact_record::RoutingProfileRef> {
        let user = self
            .store
            .get::<switchboard_model::User>(agent)
            .await
            .ok()??;
        Some(self.routing_profile_ref(&user.spec.routing_profile).await)
    }

    /// The routing profile with this id, named (its id if it is gone).
    pub async fn routing_profile_ref(
        &self,
        id: &str,
    ) -> switchboard_model::contact_record::RoutingProfileRef {
        let name = match self
            .store
            .get::<switchboard_model::RoutingProfile>(id)
            .await
        {
            Ok(Some(p)) => p.spec.name,
            _ => id.to_string(),
        };
        switchboard_model::contact_record::RoutingProfileRef {
            id: id.to_string(),
            name,
        }
    }
}
