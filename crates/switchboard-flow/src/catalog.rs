//! Every action type of Connect's flow language that Switchboard does not
//! model with its own parameters: what each may branch on, which errors it
//! has, and which Connect feature it belongs to.
//!
//! These parse, validate and simulate like any other action. When a flow
//! runs, an action of a feature Switchboard does not have yet (customer
//! profiles, cases, tasks, step-by-step views, Voice ID...) takes the branch
//! Connect takes when that feature is not enabled on the instance: its
//! error branch (`NoMatchingError`). The simulator can answer them as if the
//! feature were there.
//!
//! The names, errors and conditions follow Connect's flow language
//! reference, and what Connect's console writes where the two differ (the
//! service takes `UntagContact`; the reference spells it `UnTagContact`:
//! both are read).

use std::fmt;

/// A Connect feature an action belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Feature {
    /// Amazon Connect Cases (CreateCase, GetCase, UpdateCase).
    Cases,
    /// Customer Profiles (Get/Create/UpdateCustomerProfile...).
    CustomerProfiles,
    /// Tasks (CreateTask, ResumeContact).
    Tasks,
    /// Queued callbacks (CreateCallbackContact).
    Callbacks,
    /// Step-by-step guides and other views in the agent workspace (ShowView).
    Views,
    /// Live media streaming to Kinesis (UpdateContactMediaStreamingBehavior).
    MediaStreaming,
    /// Voice ID (StartVoiceIdStream, CheckVoiceId).
    VoiceId,
    /// Amazon Q in Connect / Wisdom (CreateWisdomSession).
    Wisdom,
    /// Proficiency-based routing criteria (UpdateRoutingCriteria).
    RoutingCriteria,
    /// Outbound campaigns (CheckOutboundCallStatus).
    OutboundCampaigns,
    /// Outbound SMS chats (StartOutboundChatContact).
    OutboundMessaging,
    /// Contact Lens analytics and redaction
    /// (UpdateContactRecordingAndAnalyticsBehavior, UpdateContactMediaProcessing).
    ContactLens,
    /// Transfers that keep the transferring agent on the call
    /// (UpdatePreviousContactParticipantState, TransferContactToAgent,
    /// DequeueContactAndTransferToQueue).
    AgentTransfers,
}

impl Feature {
    /// How people call it.
    pub fn label(self) -> &'static str {
        match self {
            Feature::Cases => "Cases",
            Feature::CustomerProfiles => "Customer Profiles",
            Feature::Tasks => "tasks",
            Feature::Callbacks => "queued callbacks",
            Feature::Views => "step-by-step guides (views)",
            Feature::MediaStreaming => "live media streaming",
            Feature::VoiceId => "Voice ID",
            Feature::Wisdom => "Amazon Q in Connect (Wisdom)",
            Feature::RoutingCriteria => "routing criteria (proficiency routing)",
            Feature::OutboundCampaigns => "outbound campaigns",
            Feature::OutboundMessaging => "outbound SMS",
            Feature::ContactLens => "Contact Lens analytics",
            Feature::AgentTransfers => "consult and agent transfers",
        }
    }
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.label())
    }
}

/// What an action's conditions may test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Conditions {
    /// It takes none.
    None,
    /// `Equals` one of these results.
    OneOf(&'static [&'static str]),
    /// `Equals` a result the feature defines (a view's actions): any word.
    AnyResult,
}

/// One action type of the reference.
#[derive(Debug, PartialEq, Eq)]
pub struct ActionSpec {
    /// The `Type` as Connect writes it.
    pub name: &'static str,
    /// The feature it needs.
    pub feature: Feature,
    /// Its error types (`NoMatchingError` is always accepted as well: the
    /// console adds it to most blocks).
    pub errors: &'static [&'static str],
    /// What its conditions may test.
    pub conditions: Conditions,
    /// It ends the flow (no transitions).
    pub terminal: bool,
    /// It waits for a person (an agent working a view), so a cycle through
    /// it is not a runaway loop.
    pub waits: bool,
    /// Parameters it cannot do without.
    pub required: &'static [&'static str],
    /// Parameters that take one of a few words (as the reference lists them;
    /// compared without case, a reference `$.` is read when the flow runs).
    pub values: &'static [(&'static str, &'static [&'static str])],
}

const fn spec(
    name: &'static str,
    feature: Feature,
    errors: &'static [&'static str],
    conditions: Conditions,
) -> ActionSpec {
    ActionSpec {
        name,
        feature,
        errors,
        conditions,
        terminal: false,
        waits: false,
        required: &[],
        values: &[],
    }
}

const NME: &[&str] = &["NoMatchingError"];
const PROFILE_SEARCH: &[&str] = &["MultipleFoundError", "NoneFoundError", "NoMatchingError"];

/// The action types Switchboard knows by name without modelling their
/// parameters. Those it models (MessageParticipant, TagContact...) are
/// `ActionKind` variants of their own.
pub static SPECS: &[ActionSpec] = &[
    ActionSpec {
        required: &["CaseTemplateId"],
        values: &[("LinkContactToCase", &["true", "false"])],
        ..spec(
            "CreateCase",
            Feature::Cases,
            &["ContactNotLinked", "NoMatchingError"],
            Conditions::None,
        )
    },
    ActionSpec {
        values: &[
            ("LinkContactToCase", &["true", "false"]),
            ("GetLastUpdatedCase", &["true", "false"]),
        ],
        ..spec(
            "GetCase",
            Feature::Cases,
            &[
                "NoMatchingError",
                "ContactNotLinked",
                "MultipleFound",
                "NoneFound",
            ],
            Conditions::None,
        )
    },
    ActionSpec {
        values: &[("LinkContactToCase", &["true", "false"])],
        ..spec(
            "UpdateCase",
            Feature::Cases,
            &["ContactNotLinked", "NoMatchingError"],
            Conditions::None,
        )
    },
    ActionSpec {
        required: &["ContactFlowId", "Name"],
        ..spec("CreateTask", Feature::Tasks, NME, Conditions::None)
    },
    spec("ResumeContact", Feature::Tasks, NME, Conditions::None),
    ActionSpec {
        required: &["WisdomAssistantArn"],
        ..spec(
            "CreateWisdomSession",
            Feature::Wisdom,
            NME,
            Conditions::None,
        )
    },
    spec(
        "DequeueContactAndTransferToQueue",
        Feature::AgentTransfers,
        &["QueueAtCapacity", "NoMatchingError"],
        Conditions::None,
    ),
    ActionSpec {
        terminal: true,
        ..spec(
            "TransferContactToAgent",
            Feature::AgentTransfers,
            &[],
            Conditions::None,
        )
    },
    ActionSpec {
        required: &["PreviousContactParticipantState"],
        values: &[(
            "PreviousContactParticipantState",
            &["AgentOnHold", "CustomerOnHold", "OffHold"],
        )],
        ..spec(
            "UpdatePreviousContactParticipantState",
            Feature::AgentTransfers,
            NME,
            Conditions::None,
        )
    },
    ActionSpec {
        required: &["DestinationEndpoint"],
        values: &[("ContactSubtype", &["connect:SMS"])],
        ..spec(
            "StartOutboundChatContact",
            Feature::OutboundMessaging,
            NME,
            Conditions::None,
        )
    },
    spec(
        "UpdateContactMediaProcessing",
        Feature::ContactLens,
        &["NoMatchingError", "ChannelMismatch"],
        Conditions::None,
    ),
    spec(
        "UpdateContactRecordingAndAnalyticsBehavior",
        Feature::ContactLens,
        &[
            "NoMatchingError",
            "ChannelMismatch",
            "InFlightRedactionConfigurationFailed",
        ],
        Conditions::None,
    ),
    spec(
        "CheckOutboundCallStatus",
        Feature::OutboundCampaigns,
        NME,
        Conditions::OneOf(&[
            "CallAnswered",
            "VoicemailBeep",
            "VoicemailNoBeep",
            "NotDetected",
        ]),
    ),
    ActionSpec {
        required: &["CheckVoiceIdOption"],
        values: &[(
            "CheckVoiceIdOption",
            &["enrollmentStatus", "voiceAuthentication", "fraudDetection"],
        )],
        ..spec(
            "CheckVoiceId",
            Feature::VoiceId,
            NME,
            Conditions::OneOf(&[
                "Enrolled",
                "NotEnrolled",
                "OptedOut",
                "Authenticated",
                "NotAuthenticated",
                "Inconclusive",
                "HighRisk",
                "LowRisk",
            ]),
        )
    },
    spec(
        "StartVoiceIdStream",
        Feature::VoiceId,
        NME,
        Conditions::None,
    ),
    ActionSpec {
        required: &["RoutingCriteria"],
        ..spec(
            "UpdateRoutingCriteria",
            Feature::RoutingCriteria,
            NME,
            Conditions::None,
        )
    },
    ActionSpec {
        required: &["RoutingCriteria"],
        ..spec(
            "UpdateContactRoutingCriteria",
            Feature::RoutingCriteria,
            NME,
            Conditions::None,
        )
    },
    ActionSpec {
        required: &["ProfileRequestData"],
        ..spec(
            "AssociateContactToCustomerProfile",
            Feature::CustomerProfiles,
            NME,
            Conditions::None,
        )
    },
    spec(
        "CreateCallbackContact",
        Feature::Callbacks,
        NME,
        Conditions::None,
    ),
    spec(
        "CreateCustomerProfile",
        Feature::CustomerProfiles,
        NME,
        Conditions::None,
    ),
    spec(
        "GetCustomerProfile",
        Feature::CustomerProfiles,
        PROFILE_SEARCH,
        Conditions::None,
    ),
    ActionSpec {
        required: &["ProfileRequestData"],
        ..spec(
            "GetCustomerProfileObject",
            Feature::CustomerProfiles,
            &["NoneFoundError", "NoMatchingError"],
            Conditions::None,
        )
    },
    ActionSpec {
        required: &["ProfileRequestData"],
        ..spec(
            "GetCalculatedAttributesForCustomerProfile",
            Feature::CustomerProfiles,
            &["NoneFoundError", "NoMatchingError"],
            Conditions::None,
        )
    },
    spec(
        "UpdateCustomerProfile",
        Feature::CustomerProfiles,
        NME,
        Conditions::None,
    ),
    ActionSpec {
        waits: true,
        required: &["ViewResource"],
        ..spec(
            "ShowView",
            Feature::Views,
            &[
                "NoMatchingError",
                "NoMatchingCondition",
                "TimeLimitExceeded",
            ],
            Conditions::AnyResult,
        )
    },
];

/// The spec for an action type, if the reference has it and Switchboard
/// does not model it on its own.
pub fn find(type_name: &str) -> Option<&'static ActionSpec> {
    SPECS.iter().find(|s| s.name == type_name)
}

/// Where in `$.` a feature's results are read.
pub fn namespace(feature: Feature) -> Option<&'static str> {
    Some(match feature {
        Feature::Cases => "Case",
        Feature::CustomerProfiles => "Customer",
        Feature::Views => "Views",
        Feature::MediaStreaming => "MediaStreams",
        Feature::Wisdom => "Wisdom",
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_listed_once() {
        let mut names: Vec<&str> = SPECS.iter().map(|s| s.name).collect();
        names.sort_unstable();
        let before = names.len();
        names.dedup();
        assert_eq!(before, names.len());
    }
}
