//! Contact records: one row per contact, rewritten at each state change.

use sqlx::Row;
use switchboard_model::ContactRecord;

use crate::{Store, StoreError};

/// Which timestamp a search's time range applies to: any of the record's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ContactTime {
    #[default]
    Initiated,
    ConnectedToSystem,
    Enqueued,
    Dequeued,
    ConnectedToAgent,
    AfterContactWorkStarted,
    AfterContactWorkEnded,
    Disconnected,
}

impl ContactTime {
    /// Every one, with the name the API takes.
    pub const ALL: [(&'static str, ContactTime); 8] = [
        ("initiated", ContactTime::Initiated),
        ("connected_to_system", ContactTime::ConnectedToSystem),
        ("enqueued", ContactTime::Enqueued),
        ("dequeued", ContactTime::Dequeued),
        ("connected_to_agent", ContactTime::ConnectedToAgent),
        (
            "after_contact_work_start",
            ContactTime::AfterContactWorkStarted,
        ),
        ("after_contact_work_end", ContactTime::AfterContactWorkEnded),
        ("disconnected", ContactTime::Disconnected),
    ];

    /// The API's name for it (`connected_to_agent`...).
    pub fn parse(name: &str) -> Option<ContactTime> {
        Self::ALL.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
    }

    fn column(self) -> &'static str {
        match self {
            ContactTime::Initiated => "initiated_at",
            ContactTime::ConnectedToSystem => "connected_at",
            ContactTime::Enqueued => "enqueued_at",
            ContactTime::Dequeued => "dequeued_at",
            ContactTime::ConnectedToAgent => "agent_connected_at",
            ContactTime::AfterContactWorkStarted => "acw_started_at",
            ContactTime::AfterContactWorkEnded => "acw_ended_at",
            ContactTime::Disconnected => "disconnected_at",
        }
    }
}

/// Which columns a row is written with (`row_version`); rows below it are
/// filled from their record at start ([`Store::reindex_old_contacts`]).
const CONTACT_ROW_VERSION: i64 = 1;

/// The record's timestamps other than initiation and disconnection, in
/// the order of the columns after `system_address` (Unix ms).
fn later_times(r: &ContactRecord) -> [Option<i64>; 6] {
    let ms = |t: Option<chrono::DateTime<chrono::Utc>>| t.map(|t| t.timestamp_millis());
    let queue = r.queue.as_ref();
    let agent = r.agent.as_ref();
    [
        ms(r.connected_to_system_timestamp),
        ms(queue.map(|q| q.enqueue_timestamp)),
        ms(queue.and_then(|q| q.dequeue_timestamp)),
        ms(agent.map(|a| a.connected_to_agent_timestamp)),
        ms(agent.and_then(|a| a.after_contact_work_start_timestamp)),
        ms(agent.and_then(|a| a.after_contact_work_end_timestamp)),
    ]
}

/// Filters for listing contact records (all optional, newest first).
#[derive(Debug, Clone, Default)]
pub struct ContactQuery {
    pub time: ContactTime,
    /// Unix ms, inclusive.
    pub initiated_from: Option<i64>,
    /// Unix ms, exclusive.
    pub initiated_to: Option<i64>,
    pub agent_id: Option<String>,
    pub queue_id: Option<String>,
    pub channel: Option<String>,
    pub initiation_method: Option<String>,
    pub disconnect_reason: Option<String>,
    /// The customer's or our number (exact).
    pub number: Option<String>,
    /// An attribute's exact value.
    pub attribute: Option<(String, String)>,
    /// A tag's exact value (TagContact).
    pub tag: Option<(String, String)>,
    /// Words in the contact's name or description (set by its flow; case-insensitive).
    pub name: Option<String>,
    /// Words in a chat's transcript (case-insensitive substring).
    pub text: Option<String>,
    /// Continue after this contact (the `next` of the previous page).
    pub after: Option<ContactCursor>,
    pub limit: i64,
}

/// Where a page of contacts ended: its last row's time and id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactCursor {
    pub at: i64,
    pub id: String,
}

impl ContactCursor {
    /// `at.id`, opaque to clients.
    pub fn encode(&self) -> String {
        format!("{}.{}", self.at, self.id)
    }

    pub fn decode(s: &str) -> Option<ContactCursor> {
        let (at, id) = s.split_once('.')?;
        Some(ContactCursor {
            at: at.parse().ok()?,
            id: id.to_string(),
        })
    }
}

/// A page of contacts and where the next one starts.
#[derive(Debug, Clone, Default)]
pub struct ContactPage {
    pub items: Vec<ContactRecord>,
    pub next: Option<ContactCursor>,
}

/// `s` for a LIKE pattern, its wildcards taken literally (escape `\`).
fn like_literal(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_")
}

impl Store {
    /// Writes the record as it stands now (insert or replace).
    pub async fn put_contact(&self, record: &ContactRecord) -> Result<(), StoreError> {
        let json = serde_json::to_string(record).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut query = sqlx::query(
            "INSERT INTO contacts (id, channel, state, initiated_at, disconnected_at, queue_id, agent_id, customer_address, record,
               initiation_method, disconnect_reason, system_address,
               connected_at, enqueued_at, dequeued_at, agent_connected_at, acw_started_at, acw_ended_at, row_version)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)
             ON CONFLICT (id) DO UPDATE SET state = excluded.state, disconnected_at = excluded.disconnected_at,
               queue_id = excluded.queue_id, agent_id = excluded.agent_id, record = excluded.record,
               initiation_method = excluded.initiation_method, disconnect_reason = excluded.disconnect_reason,
               system_address = excluded.system_address, connected_at = excluded.connected_at,
               enqueued_at = excluded.enqueued_at, dequeued_at = excluded.dequeued_at,
               agent_connected_at = excluded.agent_connected_at, acw_started_at = excluded.acw_started_at,
               acw_ended_at = excluded.acw_ended_at, row_version = excluded.row_version",
        )
        .bind(&record.id)
        .bind(record.channel.as_str())
        .bind(record.state.as_str())
        .bind(record.initiation_timestamp.timestamp_millis())
        .bind(record.disconnect_timestamp.map(|t| t.timestamp_millis()))
        .bind(record.queue.as_ref().map(|q| q.id.clone()))
        .bind(record.agent.as_ref().map(|a| a.id.clone()))
        .bind(&record.customer_endpoint.address)
        .bind(json)
        .bind(record.initiation_method.as_str())
        .bind(record.disconnect_reason.map(|r| r.as_str()))
        .bind(&record.system_endpoint.address);
        for t in later_times(record) {
            query = query.bind(t);
        }
        query.bind(CONTACT_ROW_VERSION).execute(&self.pool).await?;
        Ok(())
    }

    /// Fills the time columns of rows written before they existed, from each
    /// row's record, a batch at a time. Only the columns are written, and only
    /// while the row is still old, so a node already writing newer records
    /// beside this one loses nothing.
    pub(crate) async fn reindex_old_contacts(&self) -> Result<(), StoreError> {
        loop {
            let rows = sqlx::query(
                "SELECT id, record FROM contacts WHERE row_version < $1 ORDER BY id LIMIT 500",
            )
            .bind(CONTACT_ROW_VERSION)
            .fetch_all(&self.pool)
            .await?;
            if rows.is_empty() {
                return Ok(());
            }
            for row in &rows {
                let id: String = row.try_get("id")?;
                let text: String = row.try_get("record")?;
                // A record that no longer decodes keeps its row as it is (it is
                // still listed by the other columns); it is marked so the
                // loop ends.
                let times = decode(&text).map(|r| later_times(&r)).unwrap_or_default();
                let mut query = sqlx::query(
                    "UPDATE contacts SET connected_at = $1, enqueued_at = $2, dequeued_at = $3,
                       agent_connected_at = $4, acw_started_at = $5, acw_ended_at = $6, row_version = $7
                     WHERE id = $8 AND row_version < $7",
                );
                for t in times {
                    query = query.bind(t);
                }
                query
                    .bind(CONTACT_ROW_VERSION)
                    .bind(id)
                    .execute(&self.pool)
                    .await?;
            }
        }
    }

    /// The words contact search finds the contact by (a chat's messages).
    pub async fn set_contact_search_text(&self, id: &str, text: &str) -> Result<(), StoreError> {
        sqlx::query("UPDATE contacts SET search_text = $1 WHERE id = $2")
            .bind(text.to_lowercase())
            .bind(id)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Up to `limit` contacts not yet ended, by id after `after`: those a
    /// dead process left open, read at start to close them.
    pub async fn open_contacts(
        &self,
        after: &str,
        limit: i64,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT record FROM contacts WHERE state <> 'ENDED' AND id > $1 ORDER BY id LIMIT $2",
        )
        .bind(after)
        .bind(limit)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_of).collect()
    }

    pub async fn get_contact(&self, id: &str) -> Result<Option<ContactRecord>, StoreError> {
        let row = sqlx::query("SELECT record FROM contacts WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await?;
        row.as_ref().map(record_of).transpose()
    }

    /// Every contact initiated in `[from, to)` (Unix ms), oldest first: what
    /// reports read.
    pub async fn contacts_initiated_between(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<ContactRecord>, StoreError> {
        let rows = sqlx::query(
            "SELECT record FROM contacts WHERE initiated_at >= $1 AND initiated_at < $2 ORDER BY initiated_at, id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(record_of).collect()
    }

    /// A page of contacts matching `q`, newest first.
    pub async fn search_contacts(&self, q: &ContactQuery) -> Result<ContactPage, StoreError> {
        // Only the filters given become conditions, so every parameter has a
        // type PostgreSQL can infer.
        let time = q.time.column();
        let mut w = Where::default();
        if let Some(v) = q.initiated_from {
            w.add(&format!("{time} >= ?"), Bind::Int(v));
        }
        if let Some(v) = q.initiated_to {
            w.add(&format!("{time} < ?"), Bind::Int(v));
        }
        if q.time != ContactTime::Initiated {
            // Contacts that have not reached that point yet have no such time.
            w.conditions.push(format!("{time} IS NOT NULL"));
        }
        for (column, value) in [
            ("agent_id", &q.agent_id),
            ("queue_id", &q.queue_id),
            ("channel", &q.channel),
            ("initiation_method", &q.initiation_method),
            ("disconnect_reason", &q.disconnect_reason),
        ] {
            if let Some(v) = value {
                w.add(&format!("{column} = ?"), Bind::Text(v.clone()));
            }
        }
        if let Some(n) = &q.number {
            let i = w.param(Bind::Text(n.clone()));
            w.conditions.push(format!(
                "(customer_address = ${i} OR system_address = ${i})"
            ));
        }
        if let Some(t) = &q.text {
            w.add(
                "search_text LIKE ? ESCAPE '\\'",
                Bind::Text(format!("%{}%", like_literal(&t.to_lowercase()))),
            );
        }
        // An attribute's or a tag's pair: a pre-filter on the JSON text;
        // the exact check is below.
        for (k, v) in q.attribute.iter().chain(&q.tag) {
            let pair = serde_json::to_string(&serde_json::json!({ k: v })).unwrap_or_default();
            let pair = pair.trim_start_matches('{').trim_end_matches('}');
            w.add(
                "record LIKE ? ESCAPE '\\'",
                Bind::Text(format!("%{}%", like_literal(pair))),
            );
        }
        if let Some(words) = &q.name {
            // A pre-filter on the record's text; the exact check is below.
            w.add(
                "LOWER(record) LIKE ? ESCAPE '\\'",
                Bind::Text(format!("%{}%", like_literal(&words.to_lowercase()))),
            );
        }
        if let Some(c) = &q.after {
            let at = w.param(Bind::Int(c.at));
            let id = w.param(Bind::Text(c.id.clone()));
            w.conditions.push(format!(
                "({time} < ${at} OR ({time} = ${at} AND id > ${id}))"
            ));
        }
        let limit = q.limit.clamp(1, 1000);
        let n = w.param(Bind::Int(limit));
        let filter = if w.conditions.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", w.conditions.join(" AND "))
        };
        let sql = format!(
            "SELECT record, {time} AS t, id FROM contacts {filter} ORDER BY {time} DESC, id LIMIT ${n}"
        );
        let mut query = sqlx::query(&sql);
        for b in w.binds {
            query = match b {
                Bind::Int(v) => query.bind(v),
                Bind::Text(v) => query.bind(v),
            };
        }
        let rows = query.fetch_all(&self.pool).await?;
        let next = (rows.len() as i64 == limit)
            .then(|| rows.last())
            .flatten()
            .map(|r| {
                Ok::<_, StoreError>(ContactCursor {
                    at: r.try_get::<Option<i64>, _>("t")?.unwrap_or(0),
                    id: r.try_get("id")?,
                })
            })
            .transpose()?;
        let mut items = Vec::with_capacity(rows.len());
        for r in &rows {
            let record = record_of(r)?;
            if let Some((k, v)) = &q.attribute {
                if record.attributes.get(k) != Some(v) {
                    continue;
                }
            }
            if let Some((k, v)) = &q.tag {
                if record.tags.get(k) != Some(v) {
                    continue;
                }
            }
            if let Some(words) = &q.name {
                let words = words.to_lowercase();
                let has = |t: &Option<String>| {
                    t.as_deref()
                        .is_some_and(|t| t.to_lowercase().contains(&words))
                };
                if !has(&record.name) && !has(&record.description) {
                    continue;
                }
            }
            items.push(record);
        }
        Ok(ContactPage { items, next })
    }

    /// Contacts matching `q`, newest first (one page).
    pub async fn list_contacts(&self, q: &ContactQuery) -> Result<Vec<ContactRecord>, StoreError> {
        Ok(self.search_contacts(q).await?.items)
    }
}

enum Bind {
    Int(i64),
    Text(String),
}

/// A WHERE clause being built, with its numbered parameters.
#[derive(Default)]
struct Where {
    conditions: Vec<String>,
    binds: Vec<Bind>,
}

impl Where {
    /// A parameter; returns its number.
    fn param(&mut self, b: Bind) -> usize {
        self.binds.push(b);
        self.binds.len()
    }

    /// A condition whose one `?` is `b`.
    fn add(&mut self, sql: &str, b: Bind) {
        let i = self.param(b);
        self.conditions.push(sql.replace('?', &format!("${i}")));
    }
}

fn decode(json: &str) -> Result<ContactRecord, StoreError> {
    serde_json::from_str(json).map_err(|e| StoreError::Corrupt(format!("contact record: {e}")))
}

/// The record in a row's `record` column.
fn record_of(row: &sqlx::any::AnyRow) -> Result<ContactRecord, StoreError> {
    decode(&row.try_get::<String, _>("record")?)
}
