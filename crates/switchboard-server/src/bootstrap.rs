//! First-start setup: the objects every instance begins with (Connect's
//! defaults: security profiles, Available/Offline, Basic Hours, BasicQueue,
//! Basic Routing Profile, and the default prompts flows exported from
//! Connect name), the first Admin user, and the optional demo centre.
//!
//! Each step runs only on an instance that does not have it yet, so starting
//! again, or starting several nodes at once against one PostgreSQL, is safe:
//! the loser of a race meets a unique-name conflict and moves on.

use serde_json::json;
use switchboard_model::objects::agent_status::AgentStatusType;
use switchboard_model::objects::hours::always_open;
use switchboard_model::objects::routing_profile::{
    CrossChannelBehavior, MediaConcurrency, RoutingProfileQueue,
};
use switchboard_model::objects::user::PhoneConfig;
use switchboard_model::permissions;
use switchboard_model::{
    AgentStatus, Channel, ConfigSpec, Flow, FlowType, PhoneNumber, Queue, QueueStatus,
    RoutingProfile, SecurityProfile, SipTrunk, User,
};
use switchboard_store::{Actor, Blobs, Ref, Store, StoreError};

use crate::auth::{generate_password, hash_password};

pub const BASIC_HOURS: &str = "Basic Hours";
pub const BASIC_QUEUE: &str = "BasicQueue";
pub const BASIC_ROUTING_PROFILE: &str = "Basic Routing Profile";
pub const ADMIN_USERNAME: &str = "admin";

/// Connect's default prompts, which every Connect instance has and so
/// exported flows name (`CustomerQueue.wav` in a queue flow, `Beep.wav`
/// before voicemail): made here from the built-in hold music and a beep,
/// so such flows publish and play as they are. Replace the audio by
/// uploading a prompt of the same name after deleting these.
pub const CONNECT_PROMPTS: &[(&str, ConnectAudio)] = &[
    ("Beep.wav", ConnectAudio::Beep),
    ("CustomerQueue.wav", ConnectAudio::Music),
    ("CustomerHold.wav", ConnectAudio::Music),
    ("AgentHold.wav", ConnectAudio::Music),
    ("Music_Jazz_MyTimeInSeattle_Inst.wav", ConnectAudio::Music),
    ("Music_Pop_ThisAndThatIsLife_Inst.wav", ConnectAudio::Music),
    ("Music_Pop_ThrowAwayAndFollow_Inst.wav", ConnectAudio::Music),
    (
        "Music_Rock_EverywhereTheSunShines_Inst.wav",
        ConnectAudio::Music,
    ),
];

/// What a default prompt plays.
#[derive(Debug, Clone, Copy)]
pub enum ConnectAudio {
    Beep,
    Music,
}

#[derive(Debug, thiserror::Error)]
pub enum BootstrapError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Invalid(String),
}

/// Validates a spec and resolves its references by name, as the API would.
async fn prepare<T: ConfigSpec>(store: &Store, spec: &mut T) -> Result<Vec<Ref>, BootstrapError> {
    let name = spec.name().to_string();
    spec.validate()
        .map_err(|errors| BootstrapError::Invalid(format!("{} '{name}': {errors:?}", T::KIND)))?;
    store.resolve_refs(spec).await?.map_err(|e| {
        BootstrapError::Invalid(format!("{} refers to something missing: {e:?}", T::KIND))
    })
}

/// Stores a default object; if another node stored it first, uses theirs.
async fn put<T: ConfigSpec>(
    store: &Store,
    mut spec: T,
    builtin: bool,
) -> Result<String, BootstrapError> {
    let refs = prepare(store, &mut spec).await?;
    match store
        .create(spec.clone(), &refs, builtin, &Actor::system())
        .await
    {
        Ok(record) => Ok(record.id),
        Err(StoreError::Conflict { .. }) => {
            store.resolve(T::KIND, spec.name()).await?.ok_or_else(|| {
                BootstrapError::Invalid(format!("{} {} vanished", T::KIND, spec.name()))
            })
        }
        Err(e) => Err(e.into()),
    }
}

fn voice_and_chat(chat: u32) -> Vec<MediaConcurrency> {
    vec![
        MediaConcurrency {
            channel: Channel::Voice,
            concurrency: 1,
            cross_channel_behavior: CrossChannelBehavior::RouteCurrentChannelOnly,
        },
        MediaConcurrency {
            channel: Channel::Chat,
            concurrency: chat,
            cross_channel_behavior: CrossChannelBehavior::RouteCurrentChannelOnly,
        },
    ]
}

fn queue(name: &str, description: &str) -> Queue {
    Queue {
        name: name.into(),
        description: description.into(),
        hours_of_operation: BASIC_HOURS.into(),
        max_contacts: None,
        customer_queue_flow: None,
        outbound_caller_id_name: None,
        outbound_caller_id_number: None,
        outbound_flow: None,
        quick_connects: vec![],
        status: QueueStatus::Enabled,
        routing_strategy: Default::default(),
        min_agent_idle_seconds: 0,
    }
}

fn queue_config(queue: &str, channel: Channel, priority: u32, delay: u32) -> RoutingProfileQueue {
    RoutingProfileQueue {
        queue: queue.into(),
        channel,
        priority,
        delay,
    }
}

/// Creates the default objects on a new instance (one with no security profiles).
pub async fn ensure_defaults(store: &Store) -> Result<(), BootstrapError> {
    if store.count(SecurityProfile::KIND).await? > 0 {
        return Ok(());
    }
    for (name, description, perms) in permissions::default_profiles() {
        let profile = SecurityProfile {
            name: name.into(),
            description: description.into(),
            permissions: perms,
        };
        put(store, profile, true).await?;
    }
    for (name, status_type, order) in [
        ("Available", AgentStatusType::Routable, 1),
        ("Offline", AgentStatusType::Offline, 2),
    ] {
        let status = AgentStatus {
            name: name.into(),
            description: String::new(),
            status_type,
            enabled: true,
            display_order: Some(order),
        };
        put(store, status, true).await?;
    }
    put(store, always_open(BASIC_HOURS, "UTC"), false).await?;
    put(
        store,
        queue(BASIC_QUEUE, "The queue every instance starts with"),
        false,
    )
    .await?;
    let profile = RoutingProfile {
        name: BASIC_ROUTING_PROFILE.into(),
        description: "Voice and chat from BasicQueue".into(),
        media_concurrencies: voice_and_chat(3),
        queue_configs: vec![
            queue_config(BASIC_QUEUE, Channel::Voice, 1, 0),
            queue_config(BASIC_QUEUE, Channel::Chat, 1, 0),
        ],
        default_outbound_queue: BASIC_QUEUE.into(),
    };
    put(store, profile, false).await?;
    Ok(())
}

/// Adds each of Connect's default prompts this instance does not have (by
/// name, so one an administrator replaced stays theirs).
pub async fn ensure_connect_prompts(store: &Store, blobs: &Blobs) -> Result<(), BootstrapError> {
    use switchboard_media::audio::{beep, hold_music, telephone_wav};
    use switchboard_model::Prompt;
    for (name, audio) in CONNECT_PROMPTS {
        if store.resolve(Prompt::KIND, name).await?.is_some() {
            continue;
        }
        let samples = match audio {
            ConnectAudio::Beep => beep(),
            ConnectAudio::Music => hold_music(),
        };
        let wav = telephone_wav(&samples);
        let mut info = crate::api::prompts::inspect_wav(&wav)
            .map_err(|e| BootstrapError::Invalid(format!("prompt '{name}': {e}")))?;
        info.blob_key = format!("prompts/connect-default/{name}");
        blobs
            .put(&info.blob_key, wav.into())
            .await
            .map_err(|e| BootstrapError::Invalid(format!("storing prompt '{name}': {e}")))?;
        let prompt = Prompt {
            name: (*name).to_string(),
            description:
                "Connect's default prompt, made by Switchboard; replace it with your own recording"
                    .into(),
            audio: info,
        };
        match store.create(prompt, &[], false, &Actor::system()).await {
            // Another node starting at once made it first.
            Ok(_) | Err(StoreError::Conflict { .. }) => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// The password of an account created on this start, to show once.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub username: String,
    /// `None` when the password came from the environment.
    pub generated_password: Option<String>,
}

async fn create_user(
    store: &Store,
    username: &str,
    first_name: &str,
    profile: &str,
    routing_profile: &str,
    password: Option<String>,
) -> Result<NewAccount, BootstrapError> {
    let generated = password.is_none();
    let password = password.unwrap_or_else(generate_password);
    if let Err(reason) = switchboard_model::objects::user::check_password(&password) {
        return Err(BootstrapError::Invalid(format!(
            "the password for {username} {reason}"
        )));
    }
    let mut user = User {
        username: username.into(),
        first_name: first_name.into(),
        last_name: String::new(),
        email: None,
        security_profiles: vec![profile.into()],
        routing_profile: routing_profile.into(),
        phone_config: PhoneConfig::default(),
    };
    let refs = prepare(store, &mut user).await?;
    let hash = hash_password(password.clone())
        .await
        .map_err(|e| BootstrapError::Invalid(e.message))?;
    store
        .create_user(user, &refs, &hash, &Actor::system())
        .await?;
    Ok(NewAccount {
        username: username.into(),
        generated_password: generated.then_some(password),
    })
}

/// Creates the `admin` user when there are no users at all. The password is
/// `admin_password` if given (from `SWITCHBOARD_ADMIN_PASSWORD`), else generated.
pub async fn ensure_admin(
    store: &Store,
    admin_password: Option<String>,
) -> Result<Option<NewAccount>, BootstrapError> {
    if store.count(User::KIND).await? > 0 {
        return Ok(None);
    }
    match create_user(
        store,
        ADMIN_USERNAME,
        "Administrator",
        permissions::ADMIN,
        BASIC_ROUTING_PROFILE,
        admin_password,
    )
    .await
    {
        Ok(account) => Ok(Some(account)),
        // Another node made it first.
        Err(BootstrapError::Store(StoreError::Conflict { .. })) => Ok(None),
        Err(e) => Err(e),
    }
}

pub const DEMO_NUMBER: &str = "+442079460123";
pub const DEMO_FLOW: &str = "Demo inbound";

/// The demo centre's inbound flow, in Connect's flow language: greet, offer
/// 1 for sales and 2 for support, queue the caller.
pub fn demo_flow_content() -> serde_json::Value {
    json!({
        "Version": "2019-10-30",
        "StartAction": "greet",
        "Metadata": {"name": DEMO_FLOW},
        "Actions": [
            {"Identifier": "greet", "Type": "MessageParticipant",
             "Parameters": {"Text": "Thank you for calling the Switchboard demo."},
             "Transitions": {"NextAction": "menu", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "to-sales"}]}},
            {"Identifier": "menu", "Type": "GetParticipantInput",
             "Parameters": {"Text": "For sales, press 1. For support, press 2.", "StoreInput": "False", "InputTimeLimitSeconds": "5"},
             "Transitions": {"NextAction": "to-sales",
                "Conditions": [
                    {"NextAction": "to-sales", "Condition": {"Operator": "Equals", "Operands": ["1"]}},
                    {"NextAction": "to-support", "Condition": {"Operator": "Equals", "Operands": ["2"]}}],
                "Errors": [
                    {"ErrorType": "InputTimeLimitExceeded", "NextAction": "to-sales"},
                    {"ErrorType": "NoMatchingCondition", "NextAction": "menu"},
                    {"ErrorType": "NoMatchingError", "NextAction": "to-sales"}]}},
            {"Identifier": "to-sales", "Type": "UpdateContactTargetQueue",
             "Parameters": {"QueueId": "Sales"},
             "Transitions": {"NextAction": "transfer", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "to-support", "Type": "UpdateContactTargetQueue",
             "Parameters": {"QueueId": "Support"},
             "Transitions": {"NextAction": "transfer", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "transfer", "Type": "TransferContactToQueue", "Parameters": {},
             "Transitions": {"NextAction": "sorry", "Errors": [
                {"ErrorType": "QueueAtCapacity", "NextAction": "sorry"},
                {"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "sorry", "Type": "MessageParticipant",
             "Parameters": {"Text": "Sorry, we cannot take your call now. Goodbye."},
             "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
        ]
    })
}

pub const DEMO_CHAT_FLOW: &str = "Demo chat";

/// The demo centre's chat flow: greet, ask "sales or support" (the customer
/// types it), queue the chat.
pub fn demo_chat_flow_content() -> serde_json::Value {
    json!({
        "Version": "2019-10-30",
        "StartAction": "greet",
        "Metadata": {"name": DEMO_CHAT_FLOW},
        "Actions": [
            {"Identifier": "greet", "Type": "MessageParticipant",
             "Parameters": {"Text": "Hi! Thanks for contacting the Switchboard demo."},
             "Transitions": {"NextAction": "menu", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "menu"}]}},
            {"Identifier": "menu", "Type": "GetParticipantInput",
             "Parameters": {"Text": "Type sales or support.", "StoreInput": "False", "InputTimeLimitSeconds": "180"},
             "Transitions": {"NextAction": "to-sales",
                "Conditions": [
                    {"NextAction": "to-sales", "Condition": {"Operator": "Equals", "Operands": ["sales"]}},
                    {"NextAction": "to-support", "Condition": {"Operator": "Equals", "Operands": ["support"]}}],
                "Errors": [
                    {"ErrorType": "InputTimeLimitExceeded", "NextAction": "to-sales"},
                    {"ErrorType": "NoMatchingCondition", "NextAction": "to-sales"},
                    {"ErrorType": "NoMatchingError", "NextAction": "to-sales"}]}},
            {"Identifier": "to-sales", "Type": "UpdateContactTargetQueue",
             "Parameters": {"QueueId": "Sales"},
             "Transitions": {"NextAction": "wait-msg", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "to-support", "Type": "UpdateContactTargetQueue",
             "Parameters": {"QueueId": "Support"},
             "Transitions": {"NextAction": "wait-msg", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "wait-msg", "Type": "MessageParticipant",
             "Parameters": {"Text": "Thanks. An agent will be with you shortly."},
             "Transitions": {"NextAction": "transfer", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "transfer"}]}},
            {"Identifier": "transfer", "Type": "TransferContactToQueue", "Parameters": {},
             "Transitions": {"NextAction": "sorry", "Errors": [
                {"ErrorType": "QueueAtCapacity", "NextAction": "sorry"},
                {"ErrorType": "NoMatchingError", "NextAction": "sorry"}]}},
            {"Identifier": "sorry", "Type": "MessageParticipant",
             "Parameters": {"Text": "Sorry, nobody can chat now. Please try again later."},
             "Transitions": {"NextAction": "bye", "Errors": [{"ErrorType": "NoMatchingError", "NextAction": "bye"}]}},
            {"Identifier": "bye", "Type": "DisconnectParticipant", "Parameters": {}, "Transitions": {}}
        ]
    })
}

/// The demo chat flow, published; added to demo centres made before it existed.
async fn seed_demo_chat(store: &Store) -> Result<(), BootstrapError> {
    if store.resolve(Flow::KIND, DEMO_CHAT_FLOW).await?.is_some() {
        return Ok(());
    }
    let flow = Flow {
        name: DEMO_CHAT_FLOW.into(),
        description: "Greets the chat customer, asks sales or support, queues the chat".into(),
        flow_type: FlowType::ContactFlow,
        content: demo_chat_flow_content(),
    };
    let id = put(store, flow, false).await?;
    store
        .publish_flow(
            &id,
            DEMO_CHAT_FLOW,
            "CONTACT_FLOW",
            &demo_chat_flow_content(),
            &Actor::system(),
        )
        .await?;
    Ok(())
}

/// Seeds a working demo centre: a number, an inbound flow and a chat flow,
/// two queues, a routing profile and two agents. Does nothing if the demo
/// flows exist.
pub async fn seed_demo(store: &Store) -> Result<Vec<NewAccount>, BootstrapError> {
    if store.resolve(Flow::KIND, DEMO_FLOW).await?.is_some() {
        seed_demo_chat(store).await?;
        return Ok(vec![]);
    }
    put(store, queue("Sales", "Demo: callers who pressed 1"), false).await?;
    put(
        store,
        queue("Support", "Demo: callers who pressed 2"),
        false,
    )
    .await?;
    let profile = RoutingProfile {
        name: "Demo agents".into(),
        description: "Sales first, then support after 10 seconds' wait".into(),
        media_concurrencies: voice_and_chat(3),
        queue_configs: vec![
            queue_config("Sales", Channel::Voice, 1, 0),
            queue_config("Support", Channel::Voice, 2, 10),
            queue_config("Sales", Channel::Chat, 1, 0),
            queue_config("Support", Channel::Chat, 2, 0),
        ],
        default_outbound_queue: "Sales".into(),
    };
    put(store, profile, false).await?;
    let flow = Flow {
        name: DEMO_FLOW.into(),
        description: "Greets the caller and offers sales or support".into(),
        flow_type: FlowType::ContactFlow,
        content: demo_flow_content(),
    };
    let flow_id = put(store, flow, false).await?;
    // Published, so it serves calls from the start.
    store
        .publish_flow(
            &flow_id,
            DEMO_FLOW,
            "CONTACT_FLOW",
            &demo_flow_content(),
            &Actor::system(),
        )
        .await?;
    let number = PhoneNumber {
        number: DEMO_NUMBER.into(),
        description: "Demo number (a UK drama range: not a real subscriber)".into(),
        flow: Some(DEMO_FLOW.into()),
        country_code: String::new(),
        number_type: Default::default(),
    };
    put(store, number, false).await?;
    seed_demo_chat(store).await?;
    // Lets a SIP phone or SIPp on this machine call the demo number.
    let trunk = SipTrunk {
        name: "Local test trunk".into(),
        description: "Demo: calls from this machine (127.0.0.1)".into(),
        inbound_addresses: vec!["127.0.0.1".into(), "::1".into()],
        outbound_proxy: None,
        username: None,
        password: None,
        caller_id_number: None,
        strict_media_source: false,
        authenticate_inbound: false,
        register: false,
        registrar: None,
        registration_seconds: None,
        transport: Default::default(),
    };
    if store.resolve(SipTrunk::KIND, &trunk.name).await?.is_none() {
        put(store, trunk, false).await?;
    }
    let mut accounts = Vec::new();
    for (username, first_name) in [("alice", "Alice"), ("bob", "Bob")] {
        if store.resolve(User::KIND, username).await?.is_none() {
            accounts.push(
                create_user(
                    store,
                    username,
                    first_name,
                    permissions::AGENT,
                    "Demo agents",
                    None,
                )
                .await?,
            );
        }
    }
    Ok(accounts)
}
