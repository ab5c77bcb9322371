//! Bots in and out as Lex V2 exports: `POST /api/v1/bots/import` takes the
//! zip Lex exports and reports what was mapped and what was not;
//! `GET /api/v1/bots/{id}/export` gives the bot back in the same format.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Serialize;
use serde_json::Value;
use switchboard_model::Bot;
use switchboard_nlu::lexv2::{self, ImportError};
use utoipa::ToSchema;

use crate::api::crud::{find, prepare, view};
use crate::api::resource::Resource;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::ApiPath;
use crate::AppState;

/// The largest export accepted, zipped.
pub const MAX_ZIP_BYTES: usize = 8 << 20;

/// What an import did.
#[derive(Serialize, ToSchema)]
pub struct BotImport {
    /// The bot as stored.
    #[schema(value_type = Object)]
    pub bot: Value,
    /// `created` or `updated` (a bot of that name was there).
    pub action: &'static str,
    /// What the bot took from the export and what it did not.
    #[schema(value_type = Object)]
    pub report: lexv2::Report,
}

/// Imports a Lex V2 bot export (the `.zip` Lex's console or
/// `aws lexv2-models create-export` makes), sent as the request body.
#[utoipa::path(post, path = "/api/v1/bots/import", tag = "Bots",
    // The zip's bytes as they are: any content type is read (application/zip from a browser).
    request_body(content_type = "application/octet-stream", content = Vec<u8>, description = "A Lex V2 export (the LexJson .zip), as the body"),
    responses((status = 200, body = BotImport), (status = 400, body = ApiError), (status = 403, body = ApiError), (status = 413, body = ApiError)),
    security(("bearer" = [])))]
pub async fn import(
    State(app): State<AppState>,
    who: Principal,
    body: Bytes,
) -> ApiResult<Json<BotImport>> {
    who.require_any(&[Bot::GUARDS.create, Bot::GUARDS.edit])?;
    if body.len() > MAX_ZIP_BYTES {
        return Err(ApiError::too_large("file", MAX_ZIP_BYTES));
    }
    let files = tokio::task::spawn_blocking(move || lexv2::unzip(&body))
        .await
        .map_err(ApiError::internal)?
        .map_err(|e| ApiError::bad_request("file", e.to_string()))?;
    // Parsing up to 32 MiB of JSON is CPU work: off the async workers.
    let imported = tokio::task::spawn_blocking(move || lexv2::import(&files))
        .await
        .map_err(ApiError::internal)?;
    let (mut spec, report) = imported.map_err(|e| match e {
        ImportError::Invalid(problems) => ApiError::validation(
            problems
                .into_iter()
                .map(|p| switchboard_model::FieldError::new(p.path, p.message))
                .collect(),
        ),
        other => ApiError::bad_request("file", other.to_string()),
    })?;
    if spec.name.is_empty() {
        return Err(ApiError::bad_request(
            "file",
            "the export has no Bot.json to name the bot",
        ));
    }
    let existing = app.store.get::<Bot>(&spec.name).await?;
    let refs = prepare(&app, &mut spec).await?;
    let (record, action) = match existing {
        Some(old) => {
            who.require(Bot::GUARDS.edit)?;
            // The code hook function is ours, not the export's: keep it.
            for locale in &mut spec.locales {
                if let Some(before) = old
                    .spec
                    .locales
                    .iter()
                    .find(|l| l.locale_id == locale.locale_id)
                {
                    locale.code_hook_function = before.code_hook_function.clone();
                }
            }
            (
                app.store
                    .update(&old.id, spec, &refs, None, &who.actor())
                    .await?,
                "updated",
            )
        }
        None => {
            who.require(Bot::GUARDS.create)?;
            (
                app.store.create(spec, &refs, false, &who.actor()).await?,
                "created",
            )
        }
    };
    Ok(Json(BotImport {
        bot: view(&record),
        action,
        report,
    }))
}

/// The bot as a Lex V2 export (LexJson zip).
#[utoipa::path(get, path = "/api/v1/bots/{id}/export", tag = "Bots",
    params(("id" = String, Path, description = "The bot's id or name")),
    responses((status = 200, content_type = "application/zip", body = Vec<u8>), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn export(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Response> {
    who.require_any(Bot::GUARDS.view)?;
    let bot = find::<Bot>(&app, &id).await?;
    let files = lexv2::export(&bot.spec);
    let bytes = lexv2::zip(&files).map_err(ApiError::internal)?;
    // The file name Lex gives an export, with characters safe in a header.
    let safe: String = bot
        .spec
        .name
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/zip".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{safe}-DRAFT-LexJson.zip\""),
            ),
        ],
        bytes,
    )
        .into_response())
}
