//! Where each SIP trunk that registers with its carrier stands (the
//! console's trunk list shows it beside each trunk).

use axum::extract::State;
use axum::Json;
use serde::Serialize;
use switchboard_runtime::trunk_registrations::TrunkRegistration;
use switchboard_runtime::AppState;
use utoipa::ToSchema;

use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};

#[derive(Serialize, ToSchema)]
pub struct TrunkRegistrationRow {
    /// The trunk's name.
    pub trunk: String,
    #[serde(flatten)]
    pub registration: TrunkRegistration,
}

#[derive(Serialize, ToSchema)]
pub struct TrunkRegistrationList {
    pub items: Vec<TrunkRegistrationRow>,
}

/// Each trunk that registers with its carrier, and where its registration
/// stands (PENDING, REGISTERED until, FAILED with the carrier's answer).
#[utoipa::path(get, path = "/api/v1/sip-trunk-registrations", tag = "SIP trunks",
    responses((status = 200, body = TrunkRegistrationList), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn registrations(
    State(app): State<AppState>,
    who: Principal,
) -> ApiResult<Json<TrunkRegistrationList>> {
    who.require("SipTrunks.View")?;
    let items = app
        .trunk_registrations
        .states()
        .into_iter()
        .map(|(trunk, registration)| TrunkRegistrationRow {
            trunk,
            registration,
        })
        .collect();
    Ok(Json(TrunkRegistrationList { items }))
}
