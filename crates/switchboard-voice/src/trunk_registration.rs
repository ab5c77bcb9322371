//! Registering with carriers: a trunk with `register` set keeps a
//! registration at its carrier's registrar (RFC 3261 section 10, digest
//! with the trunk's credentials, through rsipstack's `Registration`),
//! refreshed when 80% of what the carrier granted has passed, retried with
//! a growing pause after a failure. Its state is kept per trunk in
//! `AppState::trunk_registrations`: the console's trunk list and `/metrics`
//! (`sip_trunk_registered`) show it.
//!
//! Trunks are read again every [`RELOAD`]: a new, changed or removed trunk
//! starts, restarts or stops its registration (a removed one unregisters).

use std::collections::BTreeMap;
use std::time::Duration;

use rsipstack::dialog::authenticate::Credential;
use rsipstack::dialog::registration::Registration;
use rsipstack::sip::typed::Contact;
use rsipstack::sip::Uri;
use switchboard_model::objects::sip_trunk::SipTransport;
use switchboard_model::SipTrunk;
use switchboard_runtime::trunk_registrations::TrunkRegistration;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use crate::sip::Voice;

/// How often trunks are read again for changes.
pub const RELOAD: Duration = Duration::from_secs(30);
/// A registration is refreshed when this share of its time has passed.
const REFRESH_SHARE: f64 = 0.8;
/// The shortest pause between two REGISTERs (a carrier granting seconds).
const MIN_PAUSE: Duration = Duration::from_secs(5);
/// Pauses after failures: doubling from the first to the last.
const RETRY: (Duration, Duration) = (Duration::from_secs(15), Duration::from_secs(300));
/// A REGISTER's answer must come within this.
const ANSWER_WITHIN: Duration = Duration::from_secs(32);

/// Keeps every registering trunk registered until the voice shell stops.
pub(crate) async fn run(voice: Voice, reload: Duration) {
    // Trunk id -> (the settings its task runs with, the task).
    let mut running: BTreeMap<String, (SipTrunk, JoinHandle<()>)> = BTreeMap::new();
    let mut every = tokio::time::interval(reload);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        every.tick().await;
        let trunks = match voice.app().store.list::<SipTrunk>().await {
            Ok(t) => t,
            Err(e) => {
                warn!("trunk registrations: trunks not read: {e}");
                continue;
            }
        };
        let wanted: BTreeMap<String, SipTrunk> = trunks
            .into_iter()
            .filter(|t| t.spec.register)
            .map(|t| (t.id, t.spec))
            .collect();
        let stale: Vec<String> = running
            .iter()
            .filter(|(id, (spec, _))| wanted.get(*id) != Some(spec))
            .map(|(id, _)| id.clone())
            .collect();
        for id in stale {
            if let Some((spec, task)) = running.remove(&id) {
                task.abort();
                voice.trunk_registrations().remove(&spec.name);
                if !wanted.contains_key(&id) {
                    tokio::spawn(unregister(voice.clone(), spec));
                }
            }
        }
        for (id, spec) in wanted {
            if running.contains_key(&id) {
                continue;
            }
            voice
                .trunk_registrations()
                .set(&spec.name, TrunkRegistration::Pending);
            let task = tokio::spawn(keep_registered(voice.clone(), spec.clone()));
            running.insert(id, (spec, task));
        }
    }
}

/// The registrar's URI for `trunk`, with its transport.
fn registrar_uri(trunk: &SipTrunk) -> Option<Uri> {
    let host = trunk.registrar.as_ref().or(trunk.outbound_proxy.as_ref())?;
    // No transport set: the carrier's DNS chooses (RFC 3263, NAPTR).
    let transport = match trunk.transport {
        None => "",
        Some(SipTransport::Udp) => ";transport=udp",
        Some(SipTransport::Tcp) => ";transport=tcp",
        Some(SipTransport::Tls) => ";transport=tls",
    };
    Uri::try_from(format!("sip:{host}{transport}").as_str()).ok()
}

fn registration(voice: &Voice, trunk: &SipTrunk) -> Registration {
    let credential = trunk.username.clone().map(|username| Credential {
        username,
        password: trunk.password.clone().unwrap_or_default(),
        realm: None,
        auth_username: None,
    });
    let mut registration = Registration::new(voice.dialogs().endpoint.clone(), credential);
    // Our Contact as the carrier's user: where it sends our numbers' calls.
    let mut contact = voice.contact_uri(voice.local_sip().ip());
    contact.auth = trunk.username.clone().map(|user| rsipstack::sip::Auth {
        user,
        password: None,
    });
    registration.contact = Some(Contact::from(contact));
    registration
}

async fn keep_registered(voice: Voice, trunk: SipTrunk) {
    let Some(server) = registrar_uri(&trunk) else {
        return;
    };
    let asked = trunk.registration_seconds.unwrap_or(3600);
    let mut registration = registration(&voice, &trunk);
    let mut retry = RETRY.0;
    loop {
        let answer = tokio::time::timeout(
            ANSWER_WITHIN,
            registration.register(server.clone(), Some(asked)),
        )
        .await;
        let pause = match answer {
            Ok(Ok(response))
                if response.status_code.kind() == rsipstack::sip::StatusCodeKind::Successful =>
            {
                let granted = registration.expires().min(asked).max(1);
                let until = chrono::Utc::now() + chrono::Duration::seconds(i64::from(granted));
                info!(trunk = %trunk.name, granted, "registered with the carrier");
                voice
                    .trunk_registrations()
                    .set(&trunk.name, TrunkRegistration::Registered { until });
                retry = RETRY.0;
                Duration::from_secs(u64::from(granted))
                    .mul_f64(REFRESH_SHARE)
                    .max(MIN_PAUSE)
            }
            Ok(Ok(response)) => {
                let status = u16::from(response.status_code.clone());
                let reason = response.status_code.to_string();
                failed(&voice, &trunk, Some(status), reason, &mut retry)
            }
            Ok(Err(e)) => failed(&voice, &trunk, None, e.to_string(), &mut retry),
            Err(_) => failed(&voice, &trunk, None, "no answer".into(), &mut retry),
        };
        tokio::time::sleep(pause).await;
    }
}

/// A REGISTER refused (`status`) or unanswered: noted, and the pause
/// before the next try.
fn failed(
    voice: &Voice,
    trunk: &SipTrunk,
    status: Option<u16>,
    reason: String,
    retry: &mut Duration,
) -> Duration {
    warn!(trunk = %trunk.name, ?status, "registration with the carrier failed: {reason}");
    voice
        .trunk_registrations()
        .set(&trunk.name, TrunkRegistration::Failed { status, reason });
    next_retry(retry)
}

fn next_retry(retry: &mut Duration) -> Duration {
    let pause = *retry;
    *retry = (*retry * 2).min(RETRY.1);
    pause
}

/// A trunk no longer registering: REGISTER with expiry 0, once.
async fn unregister(voice: Voice, trunk: SipTrunk) {
    let Some(server) = registrar_uri(&trunk) else {
        return;
    };
    let mut registration = registration(&voice, &trunk);
    let _ = tokio::time::timeout(ANSWER_WITHIN, registration.register(server, Some(0))).await;
    info!(trunk = %trunk.name, "unregistered from the carrier");
}
