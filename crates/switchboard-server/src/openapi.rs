//! The OpenAPI 3.1 document served at `/api/v1/openapi.json`.
//!
//! Hand-written endpoints carry `#[utoipa::path]` annotations. The five CRUD
//! operations of each configuration object are generated here from the
//! [`Resource`] trait, so the document cannot drift from the router: both
//! come from the same list of kinds.

use std::sync::OnceLock;

use axum::Json;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, ParameterBuilder, ParameterIn};
use utoipa::openapi::request_body::RequestBodyBuilder;
use utoipa::openapi::schema::{AllOfBuilder, ComponentsBuilder, Ref};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, ObjectBuilder, Required, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::api::crud::RecordMeta;
use crate::api::resource::Resource;
use crate::api::{api_keys, audit, flows, prompts, session, users};
use crate::error::ApiError;
use switchboard_model::{
    AgentStatus, Bot, ExternalFunction, Flow, HoursOfOperation, PhoneNumber, Prompt, Queue,
    QuickConnect, RoutingProfile, SecurityProfile, SipTrunk, User,
};

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A session token from /api/v1/auth/login, or an API key",
                    ))
                    .build(),
            ),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Switchboard API",
        version = "1",
        description = "Configure and run a Switchboard contact centre. Every error is JSON naming the field and the reason."
    ),
    paths(
        session::login, session::logout, session::me, session::instance,
        crate::api::list_permissions,
        users::create_user, users::change_password,
        prompts::upload, prompts::audio,
        api_keys::list, api_keys::create, api_keys::revoke,
        audit::list,
        crate::api::contacts::list, crate::api::contacts::get, crate::api::contacts::recording, crate::api::contacts::transcript,
                crate::chat::start, crate::chat::transcript,
        crate::api::reports::realtime, crate::api::reports::historical,
        crate::api::reports::usage_report, crate::api::reports::contact_cost,
        crate::api::preferences::thresholds, crate::api::preferences::set_thresholds,
        flows::validate, flows::publish, flows::versions, flows::export, flows::import, flows::simulate,
        crate::api::routing::agents, crate::api::routing::queues, crate::api::routing::set_my_status, crate::api::routing::close_my_contact,
        crate::api::trunks::registrations,
        crate::api::bots::import, crate::api::bots::export,
    ),
    components(schemas(ApiError, RecordMeta, crate::api::reports::Format)),
    modifiers(&BearerAuth)
)]
struct Documented;

fn schema_ref(name: &str) -> Ref {
    Ref::from_schema_name(name)
}

fn json(schema: impl Into<utoipa::openapi::RefOr<utoipa::openapi::Schema>>) -> Content {
    Content::new(Some(schema))
}

fn error(status: &str, what: &str) -> (String, utoipa::openapi::Response) {
    (
        status.to_string(),
        ResponseBuilder::new()
            .description(what)
            .content("application/json", json(schema_ref("ApiError")))
            .build(),
    )
}

/// Adds the CRUD operations of one kind to the document.
fn add_crud<T: Resource>(doc: &mut utoipa::openapi::OpenApi, with_create: bool) {
    let name = <T as utoipa::ToSchema>::name().to_string();
    let components = doc.components.take().unwrap_or_default();
    // The kind's own schema and those of the types inside it.
    let mut nested = Vec::new();
    T::schemas(&mut nested);
    doc.components = Some(
        ComponentsBuilder::from(components)
            .schema_from::<T>()
            .schemas_from_iter(nested)
            .build(),
    );

    let record = || -> utoipa::openapi::Schema {
        AllOfBuilder::new()
            .item(schema_ref(&name))
            .item(schema_ref("RecordMeta"))
            .build()
            .into()
    };
    let one = |what: &str| {
        ResponseBuilder::new()
            .description(what)
            .content("application/json", json(record()))
            .build()
    };
    let list = ResponseBuilder::new()
        .description("The objects of this kind by name: all, or a page")
        .content(
            "application/json",
            json(
                ObjectBuilder::new()
                    .property(
                        "items",
                        utoipa::openapi::schema::ArrayBuilder::new()
                            .items(utoipa::openapi::RefOr::T(record())),
                    )
                    .required("items")
                    .property(
                        "next",
                        ObjectBuilder::new()
                            .schema_type(utoipa::openapi::schema::Type::String)
                            .description(Some("The next page's `after`; absent on the last page")),
                    )
                    .build(),
            ),
        )
        .build();
    let paging = <crate::api::crud::ListParams as utoipa::IntoParams>::into_params(|| {
        Some(ParameterIn::Query)
    });
    let body = RequestBodyBuilder::new()
        .required(Some(Required::True))
        .content("application/json", json(schema_ref(&name)))
        .build();
    let id = ParameterBuilder::new()
        .name("id")
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some("The object's id or its unique name"))
        .build();
    let if_match = ParameterBuilder::new()
        .name("If-Match")
        .parameter_in(ParameterIn::Header)
        .required(Required::False)
        .description(Some(
            "Refuse the update (409) unless the object is at this version",
        ))
        .build();
    let view = T::GUARDS.view.join(" or ");
    let op = |summary: String, permission: &str| {
        OperationBuilder::new()
            .tag(T::TAG)
            .summary(Some(summary))
            .description(Some(format!("Needs {permission}.")))
            .security(SecurityRequirement::new("bearer", Vec::<String>::new()))
            .responses(
                utoipa::openapi::ResponsesBuilder::new()
                    .response("401", error("401", "Not signed in").1)
                    .response("403", error("403", "Missing the permission").1)
                    .build(),
            )
    };
    let label = T::KIND.label();
    let collection = format!("/api/v1/{}", T::PATH);
    let item = format!("/api/v1/{}/{{id}}", T::PATH);

    let paths = &mut doc.paths;
    paths.add_path_operation(
        &collection,
        vec![HttpMethod::Get],
        op(format!("List {label}s"), &view)
            .parameters(Some(paging))
            .response("200", list)
            .response("400", error("400", "A paging parameter is invalid").1),
    );
    if with_create {
        paths.add_path_operation(
            &collection,
            vec![HttpMethod::Post],
            op(format!("Create a {label}"), T::GUARDS.create)
                .request_body(Some(body.clone()))
                .response("201", one("Created"))
                .response("400", error("400", "A field is invalid").1)
                .response("409", error("409", "The name is taken").1),
        );
    }
    paths.add_path_operation(
        &item,
        vec![HttpMethod::Get],
        op(format!("Read a {label}"), &view)
            .parameter(id.clone())
            .response("200", one("The object"))
            .response("404", error("404", "No such object").1),
    );
    paths.add_path_operation(
        &item,
        vec![HttpMethod::Put],
        op(format!("Replace a {label}"), T::GUARDS.edit)
            .parameter(id.clone())
            .parameter(if_match)
            .request_body(Some(body))
            .response("200", one("Updated"))
            .response("400", error("400", "A field is invalid").1)
            .response("404", error("404", "No such object").1)
            .response(
                "409",
                error("409", "The name is taken, or the version is stale").1,
            ),
    );
    paths.add_path_operation(
        &item,
        vec![HttpMethod::Delete],
        op(format!("Delete a {label}"), T::GUARDS.delete)
            .parameter(id)
            .response("204", ResponseBuilder::new().description("Deleted").build())
            .response("404", error("404", "No such object").1)
            .response("409", error("409", "Still referenced, or built in").1),
    );
}

/// The whole document.
pub fn document() -> utoipa::openapi::OpenApi {
    let mut doc = Documented::openapi();
    add_crud::<SecurityProfile>(&mut doc, true);
    add_crud::<User>(&mut doc, false);
    add_crud::<AgentStatus>(&mut doc, true);
    add_crud::<HoursOfOperation>(&mut doc, true);
    add_crud::<Queue>(&mut doc, true);
    add_crud::<RoutingProfile>(&mut doc, true);
    add_crud::<PhoneNumber>(&mut doc, true);
    add_crud::<Prompt>(&mut doc, false);
    add_crud::<QuickConnect>(&mut doc, true);
    add_crud::<Flow>(&mut doc, true);
    add_crud::<ExternalFunction>(&mut doc, true);
    add_crud::<Bot>(&mut doc, true);
    add_crud::<SipTrunk>(&mut doc, true);
    doc
}

/// The document as served: [`document`] with what every operation can
/// answer written in (`complete`).
pub fn served() -> serde_json::Value {
    let mut doc = serde_json::to_value(document()).unwrap_or_default();
    complete(&mut doc);
    doc
}

pub async fn serve() -> Json<&'static serde_json::Value> {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    Json(DOC.get_or_init(served))
}

/// A stored object is its kind's fields plus [`RecordMeta`]'s. The kinds
/// refuse unknown fields (`additionalProperties: false`), so `allOf` of the
/// two would refuse every record: each such `allOf` becomes one object
/// schema with both sets of properties.
fn merge_records(value: &mut serde_json::Value, schemas: &serde_json::Value) {
    use serde_json::Value;
    const META: &str = "#/components/schemas/RecordMeta";
    if let Some(all) = value.get("allOf").and_then(Value::as_array) {
        let refs: Vec<&str> = all.iter().filter_map(|s| s["$ref"].as_str()).collect();
        if refs.len() == 2 && all.len() == 2 && refs[1] == META {
            let kind = refs[0].rsplit('/').next().unwrap_or_default();
            let mut merged = schemas[kind].clone();
            let meta = &schemas["RecordMeta"];
            if merged.get("properties").is_some() {
                if let (Some(props), Some(meta_props)) = (
                    merged["properties"].as_object_mut(),
                    meta["properties"].as_object(),
                ) {
                    props.extend(meta_props.clone());
                }
                let mut required = merged["required"].as_array().cloned().unwrap_or_default();
                required.extend(meta["required"].as_array().cloned().unwrap_or_default());
                merged["required"] = Value::Array(required);
                *value = merged;
                return;
            }
        }
    }
    match value {
        Value::Object(map) => map.values_mut().for_each(|v| merge_records(v, schemas)),
        Value::Array(items) => items.iter_mut().for_each(|v| merge_records(v, schemas)),
        _ => {}
    }
}

/// Answers the layers in front of every handler give, so clients (and
/// schemathesis) find each one documented: 401 and 403 where a sign-in is
/// needed, 400 and 415 where a JSON body is read (and 413 for one too
/// large), 429 where attempts are throttled, 503 everywhere (the database
/// away, a bounded queue full). Every parameter gets a schema (a string
/// unless it says otherwise), and every `{name}` in a path is declared.
fn complete(doc: &mut serde_json::Value) {
    use serde_json::{json, Value};
    let error = |what: &str| {
        json!({"description": what,
               "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}})
    };
    let schemas = doc["components"]["schemas"].clone();
    if let Some(paths) = doc.get_mut("paths") {
        merge_records(paths, &schemas);
    }
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else {
        return;
    };
    for (path, item) in paths.iter_mut() {
        let in_path: Vec<String> = path
            .split('{')
            .skip(1)
            .filter_map(|p| p.split('}').next())
            .map(str::to_string)
            .collect();
        let Some(item) = item.as_object_mut() else {
            continue;
        };
        for (method, op) in item.iter_mut() {
            if !["get", "put", "post", "delete", "patch"].contains(&method.as_str()) {
                continue;
            }
            let Some(op) = op.as_object_mut() else {
                continue;
            };
            let params = op
                .entry("parameters")
                .or_insert_with(|| json!([]))
                .as_array_mut()
                .map(std::mem::take)
                .unwrap_or_default();
            let mut params: Vec<Value> = params
                .into_iter()
                .map(|mut p| {
                    if p.get("schema").is_none() && p.get("content").is_none() {
                        p["schema"] = json!({"type": "string"});
                    }
                    p
                })
                .collect();
            for name in &in_path {
                let declared = params
                    .iter()
                    .any(|p| p["in"] == "path" && p["name"] == name.as_str());
                if !declared {
                    params.push(json!({"name": name, "in": "path", "required": true,
                                       "schema": {"type": "string"}}));
                }
            }
            let has_params = !params.is_empty();
            op.insert("parameters".into(), Value::Array(params));
            let secured = op
                .get("security")
                .and_then(Value::as_array)
                .is_some_and(|s| !s.is_empty());
            let json_body = op
                .get("requestBody")
                .and_then(|b| b.get("content"))
                .and_then(Value::as_object)
                .is_some_and(|c| c.contains_key("application/json"));
            let any_body = op.get("requestBody").is_some();
            let responses = op
                .entry("responses")
                .or_insert_with(|| json!({}))
                .as_object_mut();
            let Some(responses) = responses else {
                continue;
            };
            let mut add = |status: &str, what: &str| {
                responses
                    .entry(status.to_string())
                    .or_insert_with(|| error(what));
            };
            if secured {
                add(
                    "401",
                    "Not signed in, or the session or key is no longer valid",
                );
                add("403", "Signed in without the permission this needs");
            }
            if any_body || has_params {
                add(
                    "400",
                    "A field or parameter is not valid; the error names it",
                );
            }
            if json_body {
                add("415", "The body is not sent as application/json");
            }
            if any_body {
                add("413", "The body is too large");
            }
            add(
                "503",
                "Busy or the database is away; Retry-After says when to try again",
            );
        }
    }
}
