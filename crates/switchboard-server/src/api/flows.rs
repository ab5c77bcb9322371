//! Flow lifecycle beyond CRUD: validate, publish (versions), import from a
//! Connect export with its ARNs mapped to local objects, and export.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use switchboard_flow::import::arn_target;
use switchboard_flow::{Problem, Severity};
use switchboard_model::objects::flow::problem_reason;
use switchboard_model::{FieldError, Flow, ObjectKind};
use switchboard_store::{FlowVersion, Record};
use utoipa::{IntoParams, ToSchema};

use super::crud::{find, prepare, view};
use super::resource::Resource;
use crate::auth::Principal;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use switchboard_runtime::AppState;

/// Parses and validates a flow's content as its type, then checks that
/// every object it names exists in this instance.
async fn check(app: &AppState, flow: &Flow) -> ApiResult<Vec<Problem>> {
    let (parsed, mut problems) = switchboard_flow::check(&flow.content.to_string(), flow.flow_type);
    if let Some(parsed) = parsed {
        problems.extend(unknown_objects(app, &parsed, &flow.content).await?);
    }
    Ok(problems)
}

/// An error for each object the flow names that this instance does not
/// have: a misspelt queue would otherwise publish and fail callers.
async fn unknown_objects(
    app: &AppState,
    flow: &switchboard_flow::Flow,
    content: &Value,
) -> ApiResult<Vec<Problem>> {
    use switchboard_flow::references::{arns_in, object_refs, ObjectKind as Named};
    // What the blocks name, then ARNs kept anywhere else (flow attributes
    // that blocks read with `$.FlowAttributes.x`).
    let mut wanted: Vec<Wanted> = Vec::new();
    for named in object_refs(flow) {
        let kind = match named.kind {
            Named::Queue => ObjectKind::Queue,
            Named::HoursOfOperation => ObjectKind::HoursOfOperation,
            Named::Prompt => ObjectKind::Prompt,
            Named::Flow | Named::Module => ObjectKind::Flow,
            Named::Agent => ObjectKind::User,
            Named::Function => ObjectKind::ExternalFunction,
            // Connect's flows name bots by alias ARN, with Lex's bot id in
            // it, which an import cannot map to a local bot by name; the
            // contact looks the bot up by name, ARN and bot id when it
            // runs, and a bot it cannot find takes the block's error branch.
            Named::Bot => continue,
        };
        let from = if named.written != named.name {
            " (named by an ARN the import could not map)"
        } else {
            ""
        };
        let what = format!(
            "no {} named '{}' in this instance{from}",
            named.kind.noun(),
            named.name
        );
        wanted.push(Wanted {
            kind,
            name: named.name,
            path: named.path,
            what,
            action: Some(named.action),
        });
    }
    let named_at: std::collections::HashSet<String> =
        wanted.iter().map(|w| w.path.clone()).collect();
    for arn in arns_in(content) {
        let Some(kind) = local_kind(&arn.target.kind) else {
            continue;
        };
        if named_at.contains(&arn.path) {
            continue;
        }
        let what = format!(
            "no {} named '{}' in this instance (named by an ARN the import could not map)",
            arn.target.kind.replace('-', " "),
            arn.target.name
        );
        let action = action_of(content, &arn.path);
        wanted.push(Wanted {
            kind,
            name: arn.target.name,
            path: arn.path,
            what,
            action,
        });
    }
    let mut problems = Vec::new();
    // Each distinct name is looked up once, and only so many of them: a
    // flow is at most 1 MB, but that could name tens of thousands.
    let mut exists: std::collections::HashMap<(ObjectKind, String), bool> =
        std::collections::HashMap::new();
    for w in wanted {
        let key = (w.kind, w.name.clone());
        let found = match exists.get(&key) {
            Some(found) => *found,
            None if exists.len() >= MAX_REFERENCES => {
                problems.push(Problem {
                    severity: Severity::Error,
                    path: w.path,
                    action: w.action,
                    message: format!(
                        "the flow names more than {MAX_REFERENCES} different objects; split it into modules"
                    ),
                });
                break;
            }
            None => {
                // No object's name holds a control character (and
                // PostgreSQL refuses a NUL in a parameter): not there.
                let found = !w.name.chars().any(char::is_control)
                    && app.store.resolve(w.kind, &w.name).await?.is_some();
                exists.insert(key, found);
                found
            }
        };
        if found {
            continue;
        }
        problems.push(Problem {
            severity: Severity::Error,
            path: w.path,
            action: w.action,
            message: format!("{}: pick one that exists, or create it", w.what),
        });
    }
    Ok(problems)
}

/// The most different objects one flow may name (each is looked up).
const MAX_REFERENCES: usize = 1000;

/// An object a flow names, to look for.
struct Wanted {
    kind: ObjectKind,
    name: String,
    /// Where the flow names it (JSON path).
    path: String,
    /// What the error says if it is not found.
    what: String,
    action: Option<String>,
}

/// The Identifier of the action a path like `Actions[6].Parameters...` is in.
fn action_of(content: &Value, path: &str) -> Option<String> {
    let index: usize = path
        .strip_prefix("Actions[")?
        .split(']')
        .next()?
        .parse()
        .ok()?;
    content["Actions"][index]["Identifier"]
        .as_str()
        .map(str::to_string)
}

fn as_field_errors(problems: &[Problem]) -> Vec<FieldError> {
    problems
        .iter()
        .filter(|p| p.severity == Severity::Error)
        .map(|p| FieldError::new(format!("content.{}", p.path), problem_reason(p)))
        .collect()
}

#[derive(Serialize, ToSchema)]
pub struct ValidationReport {
    pub valid: bool,
    /// Every error and warning, with its JSON path and action.
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<Problem>,
}

/// Validates the draft as publishing would, without publishing.
#[utoipa::path(post, path = "/api/v1/flows/{id}/validate", tag = "Flows",
    params(("id" = String, Path, description = "Flow id or name")),
    responses((status = 200, body = ValidationReport), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn validate(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<ValidationReport>> {
    who.require_any(Flow::GUARDS.view)?;
    let flow = find::<Flow>(&app, &id).await?;
    let problems = check(&app, &flow.spec).await?;
    Ok(Json(ValidationReport {
        valid: !problems.iter().any(|p| p.severity == Severity::Error),
        problems,
    }))
}

#[derive(Serialize, ToSchema)]
pub struct Published {
    #[schema(value_type = Object)]
    pub version: FlowVersion,
    #[schema(value_type = Vec<Object>)]
    pub warnings: Vec<Problem>,
}

/// Validates the draft and, if it has no errors, publishes it as the next
/// version: the one that serves traffic from now on.
#[utoipa::path(post, path = "/api/v1/flows/{id}/publish", tag = "Flows",
    params(("id" = String, Path, description = "Flow id or name")),
    responses((status = 201, body = Published), (status = 400, body = ApiError, description = "The flow has errors; each is listed"), (status = 403, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn publish(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<(StatusCode, Json<Published>)> {
    who.require("ContactFlows.Publish")?;
    let flow = find::<Flow>(&app, &id).await?;
    publish_record(&app, &who, &flow)
        .await
        .map(|p| (StatusCode::CREATED, Json(p)))
}

async fn publish_record(
    app: &AppState,
    who: &Principal,
    flow: &Record<Flow>,
) -> ApiResult<Published> {
    let problems = check(app, &flow.spec).await?;
    let errors = as_field_errors(&problems);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let flow_type = serde_json::to_value(flow.spec.flow_type)
        .ok()
        .and_then(|v| v.as_str().map(str::to_string))
        .unwrap_or_default();
    let version = app
        .store
        .publish_flow(
            &flow.id,
            &flow.spec.name,
            &flow_type,
            &flow.spec.content,
            &who.actor(),
        )
        .await?;
    Ok(Published {
        version,
        warnings: problems,
    })
}

#[derive(Serialize, ToSchema)]
pub struct Versions {
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<FlowVersion>,
}

/// Published versions, newest first.
#[utoipa::path(get, path = "/api/v1/flows/{id}/versions", tag = "Flows",
    params(("id" = String, Path, description = "Flow id or name")),
    responses((status = 200, body = Versions), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn versions(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
) -> ApiResult<Json<Versions>> {
    who.require_any(Flow::GUARDS.view)?;
    let flow = find::<Flow>(&app, &id).await?;
    Ok(Json(Versions {
        items: app.store.flow_versions(&flow.id).await?,
    }))
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ExportParams {
    /// A published version; absent: the draft.
    pub version: Option<i64>,
}

/// The flow in Connect's export format: `{"Name", "Type", "Description", "Content": "<flow JSON>"}`.
#[utoipa::path(get, path = "/api/v1/flows/{id}/export", tag = "Flows",
    params(("id" = String, Path, description = "Flow id or name"), ExportParams),
    responses((status = 200, description = "Connect export wrapper"), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn export(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
    ApiQuery(p): ApiQuery<ExportParams>,
) -> ApiResult<Json<Value>> {
    who.require_any(Flow::GUARDS.view)?;
    let flow = find::<Flow>(&app, &id).await?;
    let content = match p.version {
        None => flow.spec.content.clone(),
        Some(n) => {
            app.store
                .flow_version(&flow.id, Some(n))
                .await?
                .ok_or_else(|| {
                    ApiError::field(
                        StatusCode::NOT_FOUND,
                        "not_found",
                        "version",
                        format!("flow '{}' has no version {n}", flow.spec.name),
                    )
                })?
                .content
        }
    };
    let type_name = flow.spec.flow_type;
    let mut out = serde_json::json!({"Name": flow.spec.name, "Description": flow.spec.description, "Content": content.to_string()});
    if type_name != switchboard_flow::FlowType::Module {
        out["Type"] = Value::String(type_name.as_str().to_string());
    }
    Ok(Json(out))
}

/// How one ARN of an imported flow was mapped.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct ArnMapping {
    pub arn: String,
    /// What the ARN names: `queue`, `contact-flow`, `prompt`, `function`...
    pub kind: String,
    pub name: String,
    /// `mapped` (replaced by the local object's id), `missing` (no local
    /// object of that kind and name: create it and import again), or `kept`
    /// (a kind Switchboard has no objects for yet, such as bots).
    pub status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub local_id: Option<String>,
}

fn local_kind(arn_kind: &str) -> Option<ObjectKind> {
    Some(match arn_kind {
        "queue" => ObjectKind::Queue,
        "contact-flow" | "flow-module" => ObjectKind::Flow,
        "prompt" => ObjectKind::Prompt,
        "hours-of-operation" | "operating-hours" => ObjectKind::HoursOfOperation,
        "agent" => ObjectKind::User,
        "phone-number" => ObjectKind::PhoneNumber,
        "transfer-destination" => ObjectKind::QuickConnect,
        "function" => ObjectKind::ExternalFunction,
        _ => return None,
    })
}

/// Replaces every ARN in `value` that names a local object with its id.
async fn map_arns(
    app: &AppState,
    value: &mut Value,
    report: &mut Vec<ArnMapping>,
) -> ApiResult<()> {
    // Iterative walk: flow JSON nests only a few levels, but input is untrusted.
    let mut stack = vec![value];
    while let Some(v) = stack.pop() {
        match v {
            Value::String(s) => {
                let Some(target) = arn_target(s) else {
                    continue;
                };
                let arn = s.clone();
                let (status, local_id) = match local_kind(&target.kind) {
                    Some(kind) => match app.store.resolve(kind, &target.name).await? {
                        Some(id) => {
                            *s = id.clone();
                            ("mapped", Some(id))
                        }
                        None => ("missing", None),
                    },
                    None => ("kept", None),
                };
                if !report.iter().any(|m| m.arn == arn) {
                    report.push(ArnMapping {
                        arn,
                        kind: target.kind,
                        name: target.name,
                        status: status.into(),
                        local_id,
                    });
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            Value::Object(map) => stack.extend(map.values_mut()),
            _ => {}
        }
    }
    Ok(())
}

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct ImportParams {
    /// Publish the imported flow at once (only if it validates).
    #[serde(default)]
    pub publish: bool,
    /// The flow's name, for a bare flow that does not carry one (in its
    /// `Metadata.name`); a wrapper's `Name` wins.
    pub name: Option<String>,
    /// The flow's type (`CONTACT_FLOW`...), for a bare flow that does not
    /// say; a wrapper's `Type` wins.
    #[serde(rename = "type")]
    pub flow_type: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ImportReport {
    #[schema(value_type = Object)]
    pub flow: Value,
    /// `created` or `updated` (a flow of that name existed: its draft was replaced).
    pub action: &'static str,
    pub mappings: Vec<ArnMapping>,
    #[schema(value_type = Vec<Object>)]
    pub problems: Vec<Problem>,
    pub published_version: Option<i64>,
}

/// Imports a flow from Amazon Connect in any of the shapes it comes in:
/// the export (`{"Name", "Type" or "ContactFlowType", "Description",
/// "Content"}`), what `aws connect describe-contact-flow` prints
/// (`{"ContactFlow": {...}}`), or a bare flow as the console saves it (its
/// name and type from `Metadata`, or the `name` and `type` parameters). Its
/// ARNs are mapped to local objects by name.
#[utoipa::path(post, path = "/api/v1/flows/import", tag = "Flows",
    params(ImportParams),
    request_body(content = Object, description = "A Connect flow: export, describe-contact-flow output, or bare"),
    responses((status = 200, body = ImportReport), (status = 400, body = ApiError), (status = 403, body = ApiError)),
    security(("bearer" = [])))]
pub async fn import(
    State(app): State<AppState>,
    who: Principal,
    ApiQuery(params): ApiQuery<ImportParams>,
    ApiJson(body): ApiJson<Value>,
) -> ApiResult<Json<ImportReport>> {
    // Permissions first, so a refused caller learns nothing about what exists.
    who.require_any(&[Flow::GUARDS.create, Flow::GUARDS.edit])?;
    if params.publish {
        who.require("ContactFlows.Publish")?;
    }
    let export = Export::read(body, &params)?;
    let language_type = match export.flow_type.as_deref() {
        None => switchboard_flow::FlowType::Module,
        Some(t) => switchboard_flow::FlowType::from_connect(t)
            .map(|(t, _)| t)
            .ok_or_else(|| ApiError::bad_request("Type", format!("unknown flow type '{t}'")))?,
    };
    let mut content = export.content;
    let mut mappings = Vec::new();
    map_arns(&app, &mut content, &mut mappings).await?;
    let mut spec = Flow {
        name: export.name.clone(),
        description: export.description.chars().take(250).collect(),
        flow_type: language_type,
        content,
    };
    let existing = app.store.get::<Flow>(&export.name).await?;
    let refs = prepare(&app, &mut spec).await?;
    let (record, action) = match existing {
        Some(old) => {
            who.require(Flow::GUARDS.edit)?;
            (
                app.store
                    .update(&old.id, spec, &refs, None, &who.actor())
                    .await?,
                "updated",
            )
        }
        None => {
            who.require(Flow::GUARDS.create)?;
            (
                app.store.create(spec, &refs, false, &who.actor()).await?,
                "created",
            )
        }
    };
    let problems = check(&app, &record.spec).await?;
    let published_version = if params.publish {
        Some(publish_record(&app, &who, &record).await?.version.version)
    } else {
        None
    };
    Ok(Json(ImportReport {
        flow: view(&record),
        action,
        mappings,
        problems,
        published_version,
    }))
}

/// A flow to import, whatever shape it came in.
struct Export {
    name: String,
    /// Connect's name of the type; `None` for a module (Connect exports
    /// modules without one).
    flow_type: Option<String>,
    description: String,
    content: Value,
}

impl Export {
    fn read(body: Value, params: &ImportParams) -> ApiResult<Export> {
        let Value::Object(mut top) = body else {
            return Err(ApiError::bad_request("$", "a flow must be a JSON object"));
        };
        // describe-contact-flow: the export one level down.
        if !top.contains_key("Actions") {
            if let Some(Value::Object(inner)) = top.remove("ContactFlow") {
                top = inner;
            }
        }
        let text = |top: &serde_json::Map<String, Value>, key: &str| {
            top.get(key).and_then(Value::as_str).map(str::to_string)
        };
        if let Some(content) = top.get("Content").cloned() {
            let content = match content {
                Value::String(s) => serde_json::from_str(&s)
                    .map_err(|e| ApiError::bad_request("Content", format!("is not JSON: {e}")))?,
                v @ Value::Object(_) => v,
                _ => {
                    return Err(ApiError::bad_request(
                        "Content",
                        "must be the flow, as a JSON string or object",
                    ))
                }
            };
            let name = text(&top, "Name")
                .or_else(|| params.name.clone())
                .ok_or_else(|| ApiError::bad_request("Name", "missing: the flow's name"))?;
            return Ok(Export {
                name,
                flow_type: text(&top, "Type").or_else(|| text(&top, "ContactFlowType")),
                description: text(&top, "Description").unwrap_or_default(),
                content,
            });
        }
        if !top.contains_key("Actions") {
            return Err(ApiError::bad_request(
                "Content",
                "missing: send Connect's export, describe-contact-flow output, or a bare flow",
            ));
        }
        // A bare flow: what the console saved says its name and type.
        let metadata = top.get("Metadata").cloned().unwrap_or(Value::Null);
        let meta = |key: &str| {
            metadata
                .get(key)
                .and_then(Value::as_str)
                .map(str::to_string)
        };
        let name = params
            .name
            .clone()
            .or_else(|| meta("name"))
            .ok_or_else(|| ApiError::bad_request("name", "a bare flow has no name: give ?name="))?;
        let flow_type = match params.flow_type.clone() {
            Some(t) => Some(t),
            None => {
                match meta("type").and_then(|t| switchboard_flow::FlowType::from_metadata(&t)) {
                    Some(switchboard_flow::FlowType::Module) => None,
                    Some(t) => Some(t.as_str().to_string()),
                    None if top.contains_key("Settings") => None,
                    None => Some(switchboard_flow::FlowType::ContactFlow.as_str().to_string()),
                }
            }
        };
        Ok(Export {
            name,
            flow_type,
            description: meta("description").unwrap_or_default(),
            content: Value::Object(top),
        })
    }
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SimulateRequest {
    /// Keys the customer presses at each input in turn; `timeout` for none.
    #[serde(default)]
    pub digits: Vec<String>,
    /// Intents a bot recognises in turn.
    #[serde(default)]
    pub intents: Vec<String>,
    #[serde(default)]
    pub attributes: std::collections::BTreeMap<String, String>,
    /// The caller's number.
    #[serde(default = "default_from")]
    pub from: String,
    /// The number called.
    #[serde(default = "default_to")]
    pub to: String,
    /// `VOICE` or `CHAT`.
    #[serde(default = "default_channel")]
    pub channel: String,
    /// When the contact arrives, for hours checks; default now.
    #[serde(default)]
    pub now: Option<chrono::DateTime<chrono::Utc>>,
    /// A published version; default the draft.
    #[serde(default)]
    pub version: Option<i64>,
    #[serde(default)]
    pub seed: u64,
}

fn default_from() -> String {
    "+447700900123".into()
}
fn default_to() -> String {
    "+442079460123".into()
}
fn default_channel() -> String {
    "VOICE".into()
}

/// Runs the flow against this instance's real hours, queues, flows and
/// external functions, with the customer's part scripted, and returns the
/// path taken, the effects and the outcome.
#[utoipa::path(post, path = "/api/v1/flows/{id}/simulate", tag = "Flows",
    params(("id" = String, Path, description = "Flow id or name")),
    request_body = SimulateRequest,
    responses((status = 200, description = "The run: path, effects, outcome, contact"), (status = 400, body = ApiError), (status = 404, body = ApiError)),
    security(("bearer" = [])))]
pub async fn simulate(
    State(app): State<AppState>,
    who: Principal,
    ApiPath(id): ApiPath<String>,
    ApiJson(req): ApiJson<SimulateRequest>,
) -> ApiResult<Json<Value>> {
    // Simulation calls the instance's real external functions: it is for
    // people who build flows, not everyone who may read them.
    who.require(Flow::GUARDS.edit)?;
    let record = find::<Flow>(&app, &id).await?;
    let content = match req.version {
        None => record.spec.content.clone(),
        Some(n) => {
            app.store
                .flow_version(&record.id, Some(n))
                .await?
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "version",
                        format!("flow '{}' has no version {n}", record.spec.name),
                    )
                })?
                .content
        }
    };
    let (flow, problems) = switchboard_flow::check(&content.to_string(), record.spec.flow_type);
    let errors = as_field_errors(&problems);
    let Some(flow) = flow.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let channel = req.channel.to_uppercase();
    if channel != "VOICE" && channel != "CHAT" {
        return Err(ApiError::bad_request("channel", "must be VOICE or CHAT"));
    }
    let mut contact =
        switchboard_flow::ContactData::voice(&uuid::Uuid::new_v4().to_string(), &req.from, &req.to);
    contact.channel = channel;
    contact.attributes = req.attributes;
    let mut customer = switchboard_flow::simulate::Script {
        keypresses: req
            .digits
            .iter()
            .map(|d| switchboard_flow::simulate::Keypress::parse(d))
            .collect(),
        intents: req.intents.into(),
        ..Default::default()
    };
    let now = req.now.unwrap_or_else(chrono::Utc::now);
    let report = switchboard_runtime::flow_shell::run(
        &app,
        std::sync::Arc::new(flow),
        contact,
        &mut customer,
        now,
        req.seed,
    )
    .await;
    Ok(Json(
        serde_json::to_value(report).map_err(ApiError::internal)?,
    ))
}
