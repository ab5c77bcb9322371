//! Reports: real-time metrics (also pushed over a WebSocket), historical
//! metrics and usage with its cost, as JSON or CSV. The numbers are
//! computed by `switchboard-reports` from what the store and the router
//! hold; this module only gathers and serves them.

use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::Json;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_model::{PhoneNumber, Queue, RoutingProfile, User};
use switchboard_reports::historical::{self, AgentTimeline, GroupBy, Interval, Row};
use switchboard_reports::realtime::{self, AgentNow, ProfileServes, QueueNow, Snapshot};
use switchboard_reports::usage::{self, Bill, ContactUsage, Cost, Held, OwnedNumber};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiPath, ApiQuery};
use switchboard_runtime::AppState;

const REAL_TIME: &str = "AccessMetrics.RealTimeMetrics.Access";
const HISTORICAL: &str = "AccessMetrics.HistoricalMetrics.Access";
/// The longest period one report covers.
const MAX_DAYS: i64 = 93;
/// How often the real-time socket sends a snapshot when nothing changes.
const PUSH_EVERY: Duration = Duration::from_secs(5);
/// Changes are gathered this long before a snapshot goes out.
const SETTLE: Duration = Duration::from_millis(250);

/// Routing profile names by id.
async fn profile_names(app: &AppState) -> ApiResult<HashMap<String, String>> {
    Ok(app
        .store
        .list::<RoutingProfile>()
        .await?
        .into_iter()
        .map(|p| (p.id, p.spec.name))
        .collect())
}

/// The channel as the router's snapshots spell it (`VOICE`, `CHAT`).
pub(crate) fn channel_name(channel: impl Serialize) -> String {
    serde_json::to_value(channel)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default()
}

/// Every agent and queue as the wall board shows them now.
pub async fn snapshot(app: &AppState) -> ApiResult<Snapshot> {
    let users: HashMap<String, User> = app
        .store
        .list::<User>()
        .await?
        .into_iter()
        .map(|u| (u.id, u.spec))
        .collect();
    let queues: HashMap<String, String> = app
        .store
        .list::<Queue>()
        .await?
        .into_iter()
        .map(|q| (q.id, q.spec.name))
        .collect();
    // A profile names its queues by id (or, as imported, by name).
    let queue_id = |key: &str| -> Option<String> {
        if queues.contains_key(key) {
            return Some(key.to_string());
        }
        queues
            .iter()
            .find(|(_, name)| name.eq_ignore_ascii_case(key))
            .map(|(id, _)| id.clone())
    };
    let profiles: Vec<ProfileServes> = app
        .store
        .list::<RoutingProfile>()
        .await?
        .into_iter()
        .map(|p| ProfileServes {
            queues: p
                .spec
                .queue_configs
                .iter()
                .filter_map(|c| Some((queue_id(&c.queue)?, channel_name(c.channel))))
                .collect(),
            id: p.id,
            name: p.spec.name,
        })
        .collect();
    let profile_name: HashMap<&str, &str> = profiles
        .iter()
        .map(|p| (p.id.as_str(), p.name.as_str()))
        .collect();
    let board = app
        .routing
        .agents()
        .await
        .into_iter()
        .filter_map(|s| {
            let u = users.get(&s.agent)?;
            Some(AgentNow {
                agent: s.agent,
                name: u.username.clone(),
                routing_profile: profile_name
                    .get(u.routing_profile.as_str())
                    .map_or_else(|| u.routing_profile.clone(), |n| n.to_string()),
                routing_profile_id: u.routing_profile.clone(),
                state: s.state.to_string(),
                since: s.since,
                seconds_in_state: None,
            })
        })
        .collect();
    let waiting = app
        .routing
        .queues()
        .await
        .into_iter()
        .filter_map(|q| {
            Some(QueueNow {
                name: queues.get(&q.queue)?.clone(),
                queue: q.queue,
                channel: channel_name(q.channel),
                in_queue: q.waiting as u64,
                oldest_contact_age_seconds: q.oldest_waiting_seconds,
            })
        })
        .collect();
    Ok(realtime::snapshot(Utc::now(), board, waiting, &profiles))
}

/// Agents by state, in all and per routing profile; contacts in each queue
/// and the oldest one's age; each agent's state and time in it.
#[utoipa::path(get, path = "/api/v1/reports/realtime", tag = "Reports",
    responses((status = 200, body = Snapshot), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn realtime(State(app): State<AppState>, who: Principal) -> ApiResult<Json<Snapshot>> {
    who.require(REAL_TIME)?;
    Ok(Json(snapshot(&app).await?))
}

/// The same snapshot pushed over a WebSocket: after `{"type":"hello","token":…}`,
/// whenever routing changes (gathered for a quarter second) and every 5 s.
pub async fn realtime_socket(State(app): State<AppState>, ws: WebSocketUpgrade) -> Response {
    ws.max_message_size(16 * 1024)
        .on_upgrade(move |socket| push(app, socket))
}

async fn push(app: AppState, mut socket: WebSocket) {
    let hello = tokio::time::timeout(Duration::from_secs(10), socket.recv()).await;
    let token = match hello {
        Ok(Some(Ok(Message::Text(t)))) => serde_json::from_str::<serde_json::Value>(&t)
            .ok()
            .filter(|v| v["type"] == "hello")
            .and_then(|v| v["token"].as_str().map(str::to_string)),
        _ => None,
    };
    let refuse = |message: &str| {
        Message::Text(
            json!({"type": "error", "field": "token", "message": message})
                .to_string()
                .into(),
        )
    };
    let Some(token) = token else {
        let _ = socket.send(refuse("say hello with a token first")).await;
        return;
    };
    // Checked again every PUSH_EVERY, not only at hello: a signed-out
    // session, an expired token or a permission taken away stops the feed
    // within seconds (not on every push, which may come 4 times a second).
    let allowed = |app: AppState, token: String| async move {
        match Principal::authenticate(&app, &token).await {
            Ok(p) if p.permissions.has(REAL_TIME) => Ok(()),
            Ok(_) => Err(format!("real-time metrics need the {REAL_TIME} permission")),
            Err(e) => Err(e.message),
        }
    };
    let mut updates = app.routing.subscribe();
    let mut every = tokio::time::interval(PUSH_EVERY);
    let mut checked: Option<tokio::time::Instant> = None;
    loop {
        if checked.is_none_or(|at| at.elapsed() >= PUSH_EVERY) {
            if let Err(why) = allowed(app.clone(), token.clone()).await {
                let _ = socket.send(refuse(&why)).await;
                break;
            }
            checked = Some(tokio::time::Instant::now());
        }
        let Ok(s) = snapshot(&app).await else { break };
        let frame = json!({"type": "snapshot", "snapshot": s}).to_string();
        if socket.send(Message::Text(frame.into())).await.is_err() {
            break;
        }
        tokio::select! {
            _ = every.tick() => {}
            changed = updates.recv() => {
                if matches!(changed, Err(tokio::sync::broadcast::error::RecvError::Closed)) {
                    break;
                }
                tokio::time::sleep(SETTLE).await;
                // Everything that came meanwhile is in the next snapshot.
                while updates.try_recv().is_ok() {}
            }
            incoming = socket.recv() => match incoming {
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                _ => {}
            },
        }
    }
}

#[derive(Debug, Clone, Copy, Default, Deserialize, ToSchema, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    #[default]
    Json,
    Csv,
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct HistoricalParams {
    /// Start of the period (RFC 3339), inclusive.
    pub from: DateTime<Utc>,
    /// End of the period (RFC 3339), exclusive; at most 93 days after `from`.
    pub to: DateTime<Utc>,
    /// `fifteen_minutes`, `hour`, `day` or `total` (default).
    pub interval: Option<Interval>,
    /// `queue` (default), `agent`, `routing_profile` or `channel`.
    pub group_by: Option<GroupBy>,
    /// Service level thresholds in seconds, comma-separated (default 20,60).
    pub service_levels: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<Format>,
}

#[derive(Serialize, ToSchema)]
pub struct HistoricalReport {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub interval: Interval,
    pub group_by: GroupBy,
    pub rows: Vec<Row>,
}

fn period(from: DateTime<Utc>, to: DateTime<Utc>) -> ApiResult<()> {
    if to <= from {
        return Err(ApiError::bad_request("to", "must be after from"));
    }
    if to - from > chrono::Duration::days(MAX_DAYS) {
        return Err(ApiError::bad_request(
            "to",
            format!("a report covers at most {MAX_DAYS} days"),
        ));
    }
    Ok(())
}

/// A CSV download named `name`.csv.
pub(crate) fn csv(name: &str, body: String) -> Response {
    (
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.csv\""),
            ),
        ],
        body,
    )
        .into_response()
}

/// Every agent's state changes in the period, with the state each was in
/// when it began.
async fn timelines(
    app: &AppState,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> ApiResult<Vec<AgentTimeline>> {
    let users = app.store.list::<User>().await?;
    let profiles = profile_names(app).await?;
    let at_start = app.store.agent_states_at(from.timestamp_millis()).await?;
    let named = |id: &str| profiles.get(id).cloned().unwrap_or_else(|| id.to_string());
    let mut changes: HashMap<String, Vec<(String, i64)>> = HashMap::new();
    // Each agent's profile where a state change recorded it, kept only when it differs.
    let mut held: HashMap<String, Vec<(i64, String, String)>> = HashMap::new();
    let mut note_profile = |agent: &str, at: i64, profile: &Option<String>| {
        if let Some(id) = profile {
            let list = held.entry(agent.to_string()).or_default();
            if list.last().is_none_or(|(_, last, _)| last != id) {
                list.push((at, id.clone(), named(id)));
            }
        }
    };
    for c in at_start.values() {
        note_profile(&c.agent, c.at, &c.routing_profile);
    }
    for c in app
        .store
        .all_agent_states(from.timestamp_millis(), to.timestamp_millis())
        .await?
    {
        note_profile(&c.agent, c.at, &c.routing_profile);
        changes.entry(c.agent).or_default().push((c.state, c.at));
    }
    let known: Vec<_> = users
        .into_iter()
        .filter(|u| at_start.contains_key(&u.id) || changes.contains_key(&u.id))
        .collect();
    Ok(known
        .into_iter()
        .map(|u| AgentTimeline {
            state_at_start: at_start.get(&u.id).map(|c| c.state.clone()),
            changes: changes.remove(&u.id).unwrap_or_default(),
            profiles: held.remove(&u.id).unwrap_or_default(),
            routing_profile_name: named(&u.spec.routing_profile),
            routing_profile: u.spec.routing_profile,
            name: u.spec.username,
            agent: u.id,
        })
        .collect())
}

/// Contacts handled and abandoned, handle time, speed of answer, abandon
/// time, service level, occupancy and time in each agent state, per
/// interval and group.
#[utoipa::path(get, path = "/api/v1/reports/historical", tag = "Reports", params(HistoricalParams),
    responses((status = 200, body = HistoricalReport), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn historical(
    State(app): State<AppState>,
    who: Principal,
    ApiQuery(p): ApiQuery<HistoricalParams>,
) -> ApiResult<Response> {
    who.require(HISTORICAL)?;
    period(p.from, p.to)?;
    let service_levels = match &p.service_levels {
        None => vec![20, 60],
        Some(text) => {
            let mut levels = BTreeSet::new();
            for part in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
                match part.parse::<u32>() {
                    Ok(n) if (1..=86_400).contains(&n) => {
                        levels.insert(n);
                    }
                    _ => {
                        return Err(ApiError::bad_request(
                            "service_levels",
                            format!("'{part}' is not a number of seconds from 1 to 86400"),
                        ))
                    }
                }
            }
            levels.into_iter().collect()
        }
    };
    let query = historical::Query {
        from: p.from,
        to: p.to,
        now: Utc::now(),
        interval: p.interval.unwrap_or(Interval::Total),
        group_by: p.group_by.unwrap_or(GroupBy::Queue),
        service_levels,
    };
    // Contacts queued in the period may have started a little before it.
    let records = app
        .store
        .contacts_initiated_between(
            (p.from - chrono::Duration::days(1)).timestamp_millis(),
            p.to.timestamp_millis(),
        )
        .await?;
    let agents = timelines(&app, p.from, p.to).await?;
    let rows = historical::compute(&query, &records, &agents);
    if p.format.unwrap_or_default() == Format::Csv {
        return Ok(csv("historical-metrics", historical::to_csv(&rows)));
    }
    Ok(Json(HistoricalReport {
        from: p.from,
        to: p.to,
        interval: query.interval,
        group_by: query.group_by,
        rows,
    })
    .into_response())
}

/// Our numbers, by E.164, with each stretch they were ours: those we hold
/// now, and those released since `since` (from the audit log's delete
/// entries, claimed at their create entry's time).
async fn owned_numbers(
    app: &AppState,
    since: DateTime<Utc>,
) -> ApiResult<HashMap<String, OwnedNumber>> {
    let mut owned: HashMap<String, OwnedNumber> = HashMap::new();
    let mut hold = |spec: PhoneNumber, held: Held| {
        owned
            .entry(spec.number.clone())
            .or_insert_with(|| OwnedNumber {
                number: spec.number.clone(),
                country: spec.country_code.clone(),
                number_type: spec.number_type,
                held: vec![],
            })
            .held
            .push(held);
    };
    for n in app.store.list::<PhoneNumber>().await? {
        hold(
            n.spec,
            Held {
                claimed_at: n.created_at,
                released_at: None,
            },
        );
    }
    for d in app
        .store
        .deleted_since(switchboard_model::ObjectKind::PhoneNumber, since)
        .await?
    {
        let Ok(spec) = serde_json::from_value::<PhoneNumber>(d.spec) else {
            tracing::warn!(number = %d.id, "a released number's audit entry is unreadable; its days are not billed");
            continue;
        };
        hold(
            spec,
            Held {
                // Claimed before the audit log began: held all the period.
                claimed_at: d.created_at.unwrap_or(since),
                released_at: Some(d.deleted_at),
            },
        );
    }
    Ok(owned)
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct UsageParams {
    /// Start of the period (RFC 3339), inclusive.
    pub from: DateTime<Utc>,
    /// End of the period (RFC 3339), exclusive; at most 93 days after `from`.
    pub to: DateTime<Utc>,
    /// `json` (default) or `csv` (one line per day).
    pub format: Option<Format>,
}

/// Metered usage and its cost on the rate card: per day, per number, in total.
#[utoipa::path(get, path = "/api/v1/reports/usage", tag = "Reports", params(UsageParams),
    responses((status = 200, body = Bill), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn usage_report(
    State(app): State<AppState>,
    who: Principal,
    ApiQuery(p): ApiQuery<UsageParams>,
) -> ApiResult<Response> {
    who.require(HISTORICAL)?;
    period(p.from, p.to)?;
    let records = app
        .store
        .contacts_initiated_between(p.from.timestamp_millis(), p.to.timestamp_millis())
        .await?;
    let numbers = owned_numbers(&app, p.from).await?;
    let bill = usage::bill(
        &records,
        &numbers,
        &app.settings.rate_card,
        p.from,
        p.to,
        Utc::now(),
    );
    if p.format.unwrap_or_default() == Format::Csv {
        let mut out = String::from(
            "date,contacts,voice_minutes,chat_messages,number_days,service,telephony,chat,numbers,total,currency\r\n",
        );
        for d in &bill.days {
            let c = &d.cost;
            out.push_str(&format!(
                "{},{},{:.2},{},{},{:.4},{:.4},{:.4},{:.4},{:.4},{}\r\n",
                d.date,
                d.contacts,
                d.voice_minutes,
                d.chat_messages,
                d.number_days,
                c.service,
                c.telephony,
                c.chat,
                c.numbers,
                c.total,
                historical::field(&bill.currency)
            ));
        }
        return Ok(csv("usage", out));
    }
    Ok(Json(bill).into_response())
}

#[derive(Serialize, ToSchema)]
pub struct ContactCost {
    pub usage: ContactUsage,
    pub cost: Cost,
    pub currency: String,
}

/// What one contact used and what it cost.
#[utoipa::path(get, path = "/api/v1/contacts/{id}/cost", tag = "Reports",
    responses((status = 200, body = ContactCost), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn contact_cost(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ContactCost>> {
    who.require(HISTORICAL)?;
    let record = app.store.get_contact(&id).await?.ok_or_else(|| {
        ApiError::field(
            axum::http::StatusCode::NOT_FOUND,
            "not_found",
            "id",
            format!("no contact with id '{id}'"),
        )
    })?;
    // A number released since the contact began still prices its leg.
    let numbers = owned_numbers(&app, record.initiation_timestamp).await?;
    let usage = usage::usage_of(&record, &numbers, Utc::now());
    let cost = usage::cost_of(&usage, &app.settings.rate_card);
    Ok(Json(ContactCost {
        usage,
        cost,
        currency: app.settings.rate_card.currency.clone(),
    }))
}
