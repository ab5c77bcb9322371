//! The router's event log, and the agent state changes it produced.

use sqlx::Row;

use crate::{Store, StoreError};

impl Store {
    /// Appends one routing event (JSON) that happened at `at` (Unix ms).
    pub async fn append_routing_event(&self, at: i64, event: &str) -> Result<(), StoreError> {
        sqlx::query("INSERT INTO routing_events (at, event) VALUES ($1, $2)")
            .bind(at)
            .bind(event)
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Every routing event, oldest first, as (Unix ms, JSON).
    pub async fn routing_events(&self) -> Result<Vec<(i64, String)>, StoreError> {
        let rows = sqlx::query("SELECT at, event FROM routing_events ORDER BY seq")
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("at")?, r.try_get("event")?)))
            .collect()
    }
}

impl Store {
    /// Records that `agent` entered `state` at `at` (Unix ms).
    pub async fn record_agent_state(
        &self,
        agent: &str,
        state: &str,
        at: i64,
        routing_profile: Option<&str>,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO agent_state_changes (agent_id, state, at, routing_profile_id) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(agent)
        .bind(state)
        .bind(at)
        .bind(routing_profile)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// An agent's state changes in `[from, to)`, oldest first, as (state, Unix ms).
    pub async fn agent_states(
        &self,
        agent: &str,
        from: i64,
        to: i64,
    ) -> Result<Vec<(String, i64)>, StoreError> {
        let rows = sqlx::query(
            "SELECT state, at FROM agent_state_changes WHERE agent_id = $1 AND at >= $2 AND at < $3 ORDER BY at",
        )
        .bind(agent)
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| Ok((r.try_get("state")?, r.try_get("at")?)))
            .collect()
    }
}

impl Store {
    /// Every agent's state changes in `[from, to)`, oldest first, as
    /// (agent, state, Unix ms).
    pub async fn all_agent_states(
        &self,
        from: i64,
        to: i64,
    ) -> Result<Vec<AgentStateChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT agent_id, state, at, routing_profile_id FROM agent_state_changes \
             WHERE at >= $1 AND at < $2 ORDER BY at, agent_id",
        )
        .bind(from)
        .bind(to)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(AgentStateChange {
                    agent: r.try_get("agent_id")?,
                    state: r.try_get("state")?,
                    at: r.try_get("at")?,
                    routing_profile: r.try_get("routing_profile_id")?,
                })
            })
            .collect()
    }

    /// The state each agent was in at `at` (their last change before it).
    pub async fn agent_states_at(
        &self,
        at: i64,
    ) -> Result<std::collections::HashMap<String, AgentStateChange>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.agent_id, a.state, a.at, a.routing_profile_id FROM agent_state_changes a
             WHERE a.at = (SELECT MAX(b.at) FROM agent_state_changes b WHERE b.agent_id = a.agent_id AND b.at < $1)",
        )
        .bind(at)
        .fetch_all(&self.pool)
        .await?;
        rows.iter()
            .map(|r| {
                let change = AgentStateChange {
                    agent: r.try_get("agent_id")?,
                    state: r.try_get("state")?,
                    at: r.try_get("at")?,
                    routing_profile: r.try_get("routing_profile_id")?,
                };
                Ok((change.agent.clone(), change))
            })
            .collect()
    }
}

/// One change of an agent's state, with the routing profile they had then
/// (`None` in rows from before it was kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentStateChange {
    pub agent: String,
    pub state: String,
    /// Unix milliseconds.
    pub at: i64,
    pub routing_profile: Option<String>,
}
