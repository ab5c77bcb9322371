-- The routing profile the agent had at each state change: reports by
-- routing profile count an agent's time under the profile they had then.
ALTER TABLE agent_state_changes ADD COLUMN routing_profile_id TEXT;
