//! Prometheus metrics (`GET /metrics`, text exposition format, through
//! the `prometheus-client` crate).
//!
//! Two kinds: counters kept as things happen (HTTP requests and their
//! durations; contacts started and ended by outcome; queue waits, call
//! set-up and routing latencies; SIP and RTP counters in the voice shell), and gauges
//! read at scrape time from the router (contacts by
//! stage, queue sizes and oldest contact, agents by state). Each scrape
//! builds a fresh registry so the gauges are never stale; the counters
//! are shared into it.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::AppState;
use switchboard_model::contact_record::InitiationMethod;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct HttpLabels {
    method: String,
    /// The route's pattern (`/api/v1/queues/{id}`), never the raw path, so
    /// ids do not multiply the series.
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

/// 1 ms to about 16 s.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

type Latencies = Family<RouteLabels, Histogram, fn() -> Histogram>;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StartLabels {
    channel: String,
    initiation_method: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndLabels {
    channel: String,
    /// handled, abandoned, transferred_out, ended_in_flow or not_connected.
    outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

/// 10 us to about 0.16 s: the router answers in microseconds.
pub(crate) fn routing_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_01, 2.0, 15))
}

/// 1 s to about 68 min.
fn wait_histogram() -> Histogram {
    Histogram::new(exponential_buckets(1.0, 2.0, 13))
}

/// The counters kept as things happen (requests, contacts, latencies).
/// Cheap to clone.
#[derive(Clone)]
pub struct Metrics {
    requests: Family<HttpLabels, Counter>,
    latency: Latencies,
    contacts_started: Family<StartLabels, Counter>,
    contacts_ended: Family<EndLabels, Counter>,
    queue_wait: Family<ChannelLabels, Histogram, fn() -> Histogram>,
    call_setup: Histogram,
    /// Chats running on this node, kept by the chat shell.
    pub chats_live: Gauge,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            contacts_started: Family::default(),
            contacts_ended: Family::default(),
            queue_wait: Family::new_with_constructor(wait_histogram),
            call_setup: latency_histogram(),
            chats_live: Gauge::default(),
        }
    }
}

impl Metrics {
    /// A contact began.
    pub fn contact_started(
        &self,
        channel: switchboard_model::contact_record::Channel,
        initiation_method: switchboard_model::contact_record::InitiationMethod,
    ) {
        self.contacts_started
            .get_or_create(&StartLabels {
                channel: channel.as_str().to_lowercase(),
                initiation_method: initiation_method.as_str().to_lowercase(),
            })
            .inc();
    }

    /// A contact's final record: counts how it ended, and how long a
    /// handled contact waited in its queue.
    pub fn contact_ended(&self, record: &switchboard_model::ContactRecord) {
        use switchboard_reports::historical::Outcome;
        let outcome = Outcome::of(record);
        if outcome == Outcome::Live {
            return;
        }
        let channel = record.channel.as_str().to_lowercase();
        self.contacts_ended
            .get_or_create(&EndLabels {
                channel: channel.clone(),
                outcome: outcome.as_str().into(),
            })
            .inc();
        if let (Outcome::Handled, Some(q)) = (outcome, &record.queue) {
            if record.initiation_method != InitiationMethod::Outbound {
                if let Some(waited) = q.duration_seconds {
                    self.queue_wait
                        .get_or_create(&ChannelLabels { channel })
                        .observe(waited);
                }
            }
        }
    }

    /// An inbound call was answered this long after its INVITE arrived.
    pub fn call_set_up(&self, seconds: f64) {
        self.call_setup.observe(seconds);
    }
}

impl Metrics {
    /// One HTTP request answered: `method` as [`Metrics`]' label (an
    /// invented method is `OTHER`), `route` the route's pattern, never the
    /// raw path, so ids do not multiply the series.
    pub fn request_served(&self, method: &'static str, route: String, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&HttpLabels {
                method: method.to_string(),
                route: route.clone(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route,
            })
            .observe(seconds);
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StageLabels {
    channel: String,
    stage: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StateLabels {
    state: String,
}

/// A channel as a label: `voice`, `chat`.
fn lower(channel: impl serde::Serialize) -> String {
    serde_json::to_value(channel)
        .ok()
        .and_then(|v| v.as_str().map(str::to_lowercase))
        .unwrap_or_default()
}

/// A registry with everything this crate knows; shells add theirs.
pub async fn registry(app: &AppState) -> Registry {
    let mut r = Registry::with_prefix("switchboard");
    r.register(
        "http_requests",
        "HTTP requests by method, route and status",
        app.metrics.requests.clone(),
    );
    r.register(
        "http_request_duration_seconds",
        "HTTP request duration by method and route",
        app.metrics.latency.clone(),
    );
    r.register(
        "contacts_started",
        "Contacts begun, by channel and initiation method",
        app.metrics.contacts_started.clone(),
    );
    r.register(
        "contacts_ended",
        "Contacts ended, by channel and outcome (handled, abandoned, transferred_out, ended_in_flow, not_connected)",
        app.metrics.contacts_ended.clone(),
    );
    r.register(
        "queue_wait_seconds",
        "Time handled contacts waited in queue before an agent was connected",
        app.metrics.queue_wait.clone(),
    );
    r.register(
        "sip_call_setup_seconds",
        "Time from an inbound INVITE to its 200 OK",
        app.metrics.call_setup.clone(),
    );
    r.register(
        "routing_event_seconds",
        "Time the router took to answer one event, from the shell's side",
        app.routing.latency(),
    );
    let contacts = Family::<StageLabels, Gauge>::default();
    for c in app.routing.contacts().await {
        contacts
            .get_or_create(&StageLabels {
                channel: lower(c.channel),
                stage: c.stage.to_string(),
            })
            .inc();
    }
    r.register(
        "routed_contacts",
        "Contacts routing holds, by channel and stage (waiting, offered, connected, after_contact_work)",
        contacts,
    );
    let waiting = Family::<QueueLabels, Gauge>::default();
    let oldest = Family::<QueueLabels, Gauge>::default();
    let names: std::collections::HashMap<String, String> = app
        .store
        .list::<switchboard_model::Queue>()
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|q| (q.id, q.spec.name))
        .collect();
    for q in app.routing.queues().await {
        let labels = QueueLabels {
            queue: names.get(&q.queue).cloned().unwrap_or(q.queue),
            channel: lower(q.channel),
        };
        waiting.get_or_create(&labels).set(q.waiting as i64);
        oldest
            .get_or_create(&labels)
            .set(q.oldest_waiting_seconds.unwrap_or(0) as i64);
    }
    r.register("queue_contacts", "Contacts waiting in each queue", waiting);
    r.register(
        "queue_oldest_contact_age_seconds",
        "How long the oldest contact in each queue has waited (0 when none)",
        oldest,
    );
    let agents = Family::<StateLabels, Gauge>::default();
    for a in app.routing.agents().await {
        agents
            .get_or_create(&StateLabels {
                state: a.state.to_string(),
            })
            .inc();
    }
    r.register("agents", "Agents by routing state", agents);
    r.register(
        "chats_live",
        "Chats running on this node",
        app.metrics.chats_live.clone(),
    );
    r
}

/// Adds a counter read from an atomic (a shell's own statistics).
pub fn counter(r: &mut Registry, name: &str, help: &str, value: u64) {
    r.register(name, help, ConstCounter::new(value));
}

/// Adds a gauge read now.
pub fn gauge(r: &mut Registry, name: &str, help: &str, value: i64) {
    r.register(name, help, ConstGauge::new(value));
}

/// Adds a gauge per value of one label (`label="value"`), read now. The
/// label set is bounded by what the caller passes (trunks, say).
pub fn gauge_by(r: &mut Registry, name: &str, help: &str, label: &str, values: &[(String, i64)]) {
    let family = Family::<Vec<(String, String)>, Gauge>::default();
    for (value, n) in values {
        family
            .get_or_create(&vec![(label.to_string(), value.clone())])
            .set(*n);
    }
    r.register(name, help, family);
}

/// The registry in Prometheus' text format.
pub fn render(r: &Registry) -> Result<String, std::fmt::Error> {
    let mut body = String::new();
    prometheus_client::encoding::text::encode(&mut body, r)?;
    Ok(body)
}
