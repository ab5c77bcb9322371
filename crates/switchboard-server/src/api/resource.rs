//! What the API needs to know about each kind of object beyond the model:
//! its URL, the permissions that guard it, and any rule that needs the store
//! or the caller (which the pure model cannot check).

use std::future::Future;

use switchboard_model::objects::agent_status::AgentStatusType;
use switchboard_model::permissions::ADMIN;
use switchboard_model::{
    AgentStatus, Bot, ConfigSpec, ExternalFunction, Flow, HoursOfOperation, PhoneNumber, Prompt,
    Queue, QuickConnect, RoutingProfile, SecurityProfile, SipTrunk, User,
};
use switchboard_store::Record;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use switchboard_runtime::AppState;

/// The permissions guarding one kind of object.
pub struct Guards {
    /// Any one of these lets a caller read.
    pub view: &'static [&'static str],
    pub create: &'static str,
    pub edit: &'static str,
    pub delete: &'static str,
}

pub trait Resource: ConfigSpec {
    /// Path segment under `/api/v1`, e.g. `routing-profiles`.
    const PATH: &'static str;
    /// OpenAPI tag.
    const TAG: &'static str;
    const GUARDS: Guards;

    /// Rules that need the caller or the store, checked after validation and
    /// before a create (`stored` is `None`) or an update.
    fn check_write(
        _app: &AppState,
        _who: &Principal,
        _stored: Option<&Record<Self>>,
        _new: &Self,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        async { Ok(()) }
    }

    /// Rules checked before a delete, beyond "nothing refers to it".
    fn check_delete(
        _app: &AppState,
        _who: &Principal,
        _stored: &Record<Self>,
    ) -> impl Future<Output = ApiResult<()>> + Send {
        async { Ok(()) }
    }

    /// Clean-up after a delete (e.g. the prompt's audio).
    fn after_delete(_app: &AppState, _deleted: &Record<Self>) -> impl Future<Output = ()> + Send {
        async {}
    }
}

impl Resource for SecurityProfile {
    const PATH: &'static str = "security-profiles";
    const TAG: &'static str = "Security profiles";
    const GUARDS: Guards = Guards {
        view: &["SecurityProfiles.View"],
        create: "SecurityProfiles.Create",
        edit: "SecurityProfiles.Edit",
        delete: "SecurityProfiles.Delete",
    };

    async fn check_write(
        _app: &AppState,
        who: &Principal,
        stored: Option<&Record<Self>>,
        new: &Self,
    ) -> ApiResult<()> {
        if let Some(old) = stored.filter(|o| o.builtin && o.spec.name == ADMIN) {
            if old.spec != *new {
                return Err(ApiError::conflict(
                    "name",
                    "the built-in Admin profile always holds every permission and cannot be changed",
                ));
            }
        }
        // Nobody can hand out more than they hold.
        for (i, p) in new.permissions.iter().enumerate() {
            if !who.permissions.has(p) {
                return Err(ApiError::forbidden_field(
                    format!("permissions[{i}]"),
                    format!("you cannot grant {p}, which you do not hold"),
                ));
            }
        }
        Ok(())
    }
}

/// Refuses to give a user profiles carrying permissions the caller lacks.
pub async fn check_assignable_profiles(
    app: &AppState,
    who: &Principal,
    user: &User,
) -> ApiResult<()> {
    for (i, id) in user.security_profiles.iter().enumerate() {
        let Some(profile) = app.store.get::<SecurityProfile>(id).await? else {
            continue;
        };
        let grants = crate::auth::permissions_of(std::slice::from_ref(&profile));
        let lacking = grants
            .iter()
            .find(|p| !who.permissions.has(p))
            .map(str::to_string);
        if let Some(p) = lacking {
            return Err(ApiError::forbidden_field(
                format!("security_profiles[{i}]"),
                format!(
                    "you cannot assign '{}': it grants {p}, which you do not hold",
                    profile.spec.name
                ),
            ));
        }
    }
    Ok(())
}

impl Resource for User {
    const PATH: &'static str = "users";
    const TAG: &'static str = "Users";
    const GUARDS: Guards = Guards {
        view: &["Users.View"],
        create: "Users.Create",
        edit: "Users.Edit",
        delete: "Users.Delete",
    };

    async fn check_write(
        app: &AppState,
        who: &Principal,
        stored: Option<&Record<Self>>,
        new: &Self,
    ) -> ApiResult<()> {
        let profiles_changed =
            stored.is_none_or(|old| old.spec.security_profiles != new.security_profiles);
        if profiles_changed {
            if stored.is_some() {
                who.require("Users.EditPermission")?;
            }
            check_assignable_profiles(app, who, new).await?;
        }
        if let Some(old) = stored {
            if holds_admin(app, &old.spec).await? && !holds_admin(app, new).await? {
                ensure_another_admin(app, &old.id).await?;
            }
        }
        Ok(())
    }

    async fn check_delete(app: &AppState, who: &Principal, stored: &Record<Self>) -> ApiResult<()> {
        if stored.id == who.user.id {
            return Err(ApiError::conflict("id", "you cannot delete yourself"));
        }
        if holds_admin(app, &stored.spec).await? {
            ensure_another_admin(app, &stored.id).await?;
        }
        Ok(())
    }
}

async fn admin_profile_id(app: &AppState) -> ApiResult<Option<String>> {
    Ok(app
        .store
        .get::<SecurityProfile>(ADMIN)
        .await?
        .filter(|p| p.builtin)
        .map(|p| p.id))
}

async fn holds_admin(app: &AppState, user: &User) -> ApiResult<bool> {
    let admin = admin_profile_id(app).await?;
    Ok(admin.is_some_and(|id| user.security_profiles.contains(&id)))
}

/// An instance must always keep someone who can administer it.
async fn ensure_another_admin(app: &AppState, leaving_user_id: &str) -> ApiResult<()> {
    for user in app.store.list::<User>().await? {
        if user.id != leaving_user_id && holds_admin(app, &user.spec).await? {
            return Ok(());
        }
    }
    Err(ApiError::conflict(
        "security_profiles",
        "this is the last user with the Admin profile; give it to someone else first",
    ))
}

impl Resource for AgentStatus {
    const PATH: &'static str = "agent-statuses";
    const TAG: &'static str = "Agent statuses";
    const GUARDS: Guards = Guards {
        // Agents pick their status from this list.
        view: &["AgentStates.View", "BasicAgentAccess"],
        create: "AgentStates.Create",
        edit: "AgentStates.Edit",
        delete: "AgentStates.Delete",
    };

    async fn check_write(
        _app: &AppState,
        _who: &Principal,
        stored: Option<&Record<Self>>,
        new: &Self,
    ) -> ApiResult<()> {
        let allowed = stored.map_or(AgentStatusType::Custom, |old| old.spec.status_type);
        if new.status_type != allowed {
            return Err(ApiError::bad_request(
                "type",
                "only CUSTOM statuses can be created; the type of a status cannot change",
            ));
        }
        if stored.is_some_and(|old| old.builtin) && !new.enabled {
            return Err(ApiError::bad_request(
                "enabled",
                "the built-in statuses cannot be disabled",
            ));
        }
        Ok(())
    }
}

impl Resource for HoursOfOperation {
    const PATH: &'static str = "hours-of-operation";
    const TAG: &'static str = "Hours of operation";
    const GUARDS: Guards = Guards {
        view: &["HoursOfOperation.View"],
        create: "HoursOfOperation.Create",
        edit: "HoursOfOperation.Edit",
        delete: "HoursOfOperation.Delete",
    };
}

impl Resource for Queue {
    const PATH: &'static str = "queues";
    const TAG: &'static str = "Queues";
    const GUARDS: Guards = Guards {
        view: &["Queues.View"],
        create: "Queues.Create",
        edit: "Queues.Edit",
        delete: "Queues.Delete",
    };
}

impl Resource for RoutingProfile {
    const PATH: &'static str = "routing-profiles";
    const TAG: &'static str = "Routing profiles";
    const GUARDS: Guards = Guards {
        view: &["RoutingPolicies.View"],
        create: "RoutingPolicies.Create",
        edit: "RoutingPolicies.Edit",
        delete: "RoutingPolicies.Delete",
    };
}

impl Resource for PhoneNumber {
    const PATH: &'static str = "phone-numbers";
    const TAG: &'static str = "Phone numbers";
    const GUARDS: Guards = Guards {
        view: &["PhoneNumbers.View"],
        create: "PhoneNumbers.Claim",
        edit: "PhoneNumbers.Edit",
        delete: "PhoneNumbers.Release",
    };
}

impl Resource for Prompt {
    const PATH: &'static str = "prompts";
    const TAG: &'static str = "Prompts";
    const GUARDS: Guards = Guards {
        view: &["Prompts.View"],
        create: "Prompts.Create",
        edit: "Prompts.Edit",
        delete: "Prompts.Delete",
    };

    async fn after_delete(app: &AppState, deleted: &Record<Self>) {
        if let Err(e) = app.blobs.delete(&deleted.spec.audio.blob_key).await {
            // The prompt is gone; an orphaned file wastes space but loses nothing.
            tracing::warn!(key = %deleted.spec.audio.blob_key, error = %e, "could not remove prompt audio");
        }
    }
}

impl Resource for QuickConnect {
    const PATH: &'static str = "quick-connects";
    const TAG: &'static str = "Quick connects";
    const GUARDS: Guards = Guards {
        // Agents transfer to quick connects from the CCP.
        view: &["TransferDestinations.View", "BasicAgentAccess"],
        create: "TransferDestinations.Create",
        edit: "TransferDestinations.Edit",
        delete: "TransferDestinations.Delete",
    };
}

impl Resource for Flow {
    const PATH: &'static str = "flows";
    const TAG: &'static str = "Flows";
    const GUARDS: Guards = Guards {
        view: &["ContactFlows.View"],
        create: "ContactFlows.Create",
        edit: "ContactFlows.Edit",
        delete: "ContactFlows.Delete",
    };
}

impl Resource for ExternalFunction {
    const PATH: &'static str = "external-functions";
    const TAG: &'static str = "External functions";
    const GUARDS: Guards = Guards {
        view: &["ExternalFunctions.View"],
        create: "ExternalFunctions.Create",
        edit: "ExternalFunctions.Edit",
        delete: "ExternalFunctions.Delete",
    };
}

impl Resource for Bot {
    const PATH: &'static str = "bots";
    const TAG: &'static str = "Bots";
    const GUARDS: Guards = Guards {
        view: &["Bots.View"],
        create: "Bots.Create",
        edit: "Bots.Edit",
        delete: "Bots.Delete",
    };
}

impl Resource for SipTrunk {
    const PATH: &'static str = "sip-trunks";
    const TAG: &'static str = "SIP trunks";
    const GUARDS: Guards = Guards {
        view: &["SipTrunks.View"],
        create: "SipTrunks.Create",
        edit: "SipTrunks.Edit",
        delete: "SipTrunks.Delete",
    };
}
