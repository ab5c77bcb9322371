//! Fine-grained permissions and the default security profiles.
//!
//! Names follow Amazon Connect's security-profile permissions where Connect has
//! one (`Queues.Edit`, `RoutingPolicies.View`, `TransferDestinations.View` for
//! quick connects, `AccessMetrics.RealTimeMetrics.Access`), so profiles read the
//! same to someone coming from Connect. A user's permissions are the union of
//! the permissions of all their security profiles.

use std::collections::BTreeSet;

/// Every permission Switchboard knows, with what it allows.
pub const CATALOGUE: &[(&str, &str)] = &[
    ("BasicAgentAccess", "Use the Contact Control Panel: set own status, handle contacts, see agent statuses and quick connects"),
    ("OutboundCallAccess", "Place outbound calls from the Contact Control Panel"),
    ("Users.View", "See users"),
    ("Users.Create", "Create users"),
    ("Users.Edit", "Edit users' names, phone settings and routing profile"),
    ("Users.EditPermission", "Change users' security profiles and reset their passwords"),
    ("Users.Delete", "Delete users"),
    ("SecurityProfiles.View", "See security profiles"),
    ("SecurityProfiles.Create", "Create security profiles"),
    ("SecurityProfiles.Edit", "Edit security profiles"),
    ("SecurityProfiles.Delete", "Delete security profiles"),
    ("AgentStates.View", "See agent statuses"),
    ("AgentStates.Create", "Create agent statuses"),
    ("AgentStates.Edit", "Edit agent statuses"),
    ("AgentStates.Delete", "Delete agent statuses"),
    ("HoursOfOperation.View", "See hours of operation"),
    ("HoursOfOperation.Create", "Create hours of operation"),
    ("HoursOfOperation.Edit", "Edit hours of operation"),
    ("HoursOfOperation.Delete", "Delete hours of operation"),
    ("Queues.View", "See queues"),
    ("Queues.Create", "Create queues"),
    ("Queues.Edit", "Edit queues"),
    ("Queues.Delete", "Delete queues"),
    ("RoutingPolicies.View", "See routing profiles"),
    ("RoutingPolicies.Create", "Create routing profiles"),
    ("RoutingPolicies.Edit", "Edit routing profiles"),
    ("RoutingPolicies.Delete", "Delete routing profiles"),
    ("PhoneNumbers.View", "See phone numbers"),
    ("PhoneNumbers.Claim", "Claim (add) phone numbers"),
    ("PhoneNumbers.Edit", "Edit phone numbers and the flow they run"),
    ("PhoneNumbers.Release", "Release (remove) phone numbers"),
    ("Prompts.View", "See and listen to prompts"),
    ("Prompts.Create", "Upload prompts"),
    ("Prompts.Edit", "Edit prompts"),
    ("Prompts.Delete", "Delete prompts"),
    ("TransferDestinations.View", "See quick connects"),
    ("TransferDestinations.Create", "Create quick connects"),
    ("TransferDestinations.Edit", "Edit quick connects"),
    ("TransferDestinations.Delete", "Delete quick connects"),
    ("ContactFlows.View", "See contact flows"),
    ("ContactFlows.Create", "Create contact flows"),
    ("ContactFlows.Edit", "Edit contact flows"),
    ("ContactFlows.Publish", "Publish contact flows"),
    ("ContactFlows.Delete", "Delete contact flows"),
    ("ExternalFunctions.View", "See external functions (the HTTP endpoints flows call)"),
    ("ExternalFunctions.Create", "Create external functions"),
    ("ExternalFunctions.Edit", "Edit external functions"),
    ("ExternalFunctions.Delete", "Delete external functions"),
    ("Bots.View", "See bots (intents, slots, prompts)"),
    ("Bots.Create", "Create and import bots"),
    ("Bots.Edit", "Edit bots"),
    ("Bots.Delete", "Delete bots"),
    ("SipTrunks.View", "See SIP trunks"),
    ("SipTrunks.Create", "Create SIP trunks"),
    ("SipTrunks.Edit", "Edit SIP trunks (addresses, proxy, credentials)"),
    ("SipTrunks.Delete", "Delete SIP trunks"),
    ("ContactSearch.View", "Search contacts and see contact records"),
    ("ListenCallRecordings", "Play call recordings and read chat transcripts (recorded conversations)"),
    ("DownloadCallRecordings", "Download call recordings"),
    ("AccessMetrics.RealTimeMetrics.Access", "See real-time metrics"),
    ("AccessMetrics.HistoricalMetrics.Access", "See historical metrics"),
    ("AccessMetrics.Dashboards.Access", "See dashboards"),
    ("ApiKeys.Manage", "Create and revoke API keys for machines (a key acts with its owner's permissions)"),
    ("AuditLog.View", "Read the audit log of configuration changes"),
];

/// Whether `name` is a permission Switchboard knows.
pub fn is_known(name: &str) -> bool {
    CATALOGUE.iter().any(|(p, _)| *p == name)
}

/// The four security profiles every instance starts with.
pub const ADMIN: &str = "Admin";
pub const CALL_CENTER_MANAGER: &str = "CallCenterManager";
pub const QUALITY_ANALYST: &str = "QualityAnalyst";
pub const AGENT: &str = "Agent";

/// The default profiles: name, description and permissions.
pub fn default_profiles() -> Vec<(&'static str, &'static str, Vec<String>)> {
    let all = || CATALOGUE.iter().map(|(p, _)| p.to_string()).collect();
    let of = |names: &[&str]| names.iter().map(|p| p.to_string()).collect();
    vec![
        (ADMIN, "Full access to everything", all()),
        (
            CALL_CENTER_MANAGER,
            "Runs the centre: people, queues, routing, hours, prompts, metrics, contact search and recordings",
            of(&[
                "BasicAgentAccess",
                "OutboundCallAccess",
                "Users.View",
                "Users.Create",
                "Users.Edit",
                "SecurityProfiles.View",
                "AgentStates.View",
                "AgentStates.Create",
                "AgentStates.Edit",
                "AgentStates.Delete",
                "HoursOfOperation.View",
                "HoursOfOperation.Create",
                "HoursOfOperation.Edit",
                "HoursOfOperation.Delete",
                "Queues.View",
                "Queues.Create",
                "Queues.Edit",
                "Queues.Delete",
                "RoutingPolicies.View",
                "RoutingPolicies.Create",
                "RoutingPolicies.Edit",
                "RoutingPolicies.Delete",
                "PhoneNumbers.View",
                "Prompts.View",
                "Prompts.Create",
                "Prompts.Edit",
                "Prompts.Delete",
                "TransferDestinations.View",
                "TransferDestinations.Create",
                "TransferDestinations.Edit",
                "TransferDestinations.Delete",
                "ContactFlows.View",
                "ContactSearch.View",
                "ListenCallRecordings",
                "DownloadCallRecordings",
                "AccessMetrics.RealTimeMetrics.Access",
                "AccessMetrics.HistoricalMetrics.Access",
                "AccessMetrics.Dashboards.Access",
            ]),
        ),
        (
            QUALITY_ANALYST,
            "Reviews contacts: search, recordings, transcripts and metrics",
            of(&[
                "Users.View",
                "Queues.View",
                "ContactSearch.View",
                "ListenCallRecordings",
                "AccessMetrics.RealTimeMetrics.Access",
                "AccessMetrics.HistoricalMetrics.Access",
                "AccessMetrics.Dashboards.Access",
            ]),
        ),
        (
            AGENT,
            "Handles contacts in the Contact Control Panel",
            of(&["BasicAgentAccess", "OutboundCallAccess"]),
        ),
    ]
}

/// The permissions a principal holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet(BTreeSet<String>);

impl PermissionSet {
    pub fn has(&self, permission: &str) -> bool {
        self.0.contains(permission)
    }

    pub fn extend<I: IntoIterator<Item = String>>(&mut self, permissions: I) {
        self.0.extend(permissions);
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }
}

impl FromIterator<String> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_profiles_only_name_known_permissions() {
        for (name, _, perms) in default_profiles() {
            for p in perms {
                assert!(is_known(&p), "{name} names unknown permission {p}");
            }
        }
    }

    #[test]
    fn catalogue_has_no_duplicates() {
        let set: BTreeSet<_> = CATALOGUE.iter().map(|(p, _)| *p).collect();
        assert_eq!(set.len(), CATALOGUE.len());
    }
}
