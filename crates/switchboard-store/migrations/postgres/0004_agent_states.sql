-- Every change of an agent's state, with its time: reports sum the time
-- each agent spent in each state from these rows.
CREATE TABLE agent_state_changes (
    agent_id TEXT NOT NULL,
    state    TEXT NOT NULL,
    at       BIGINT NOT NULL
);
CREATE INDEX agent_state_changes_agent ON agent_state_changes (agent_id, at);
