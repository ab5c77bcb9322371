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
    AgentStatus, ExternalFunction, Flow, HoursOfOperation, PhoneNumber, Prompt, Queue,
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
        session::login, session::logout, session::me,
        crate::api::list_permissions,
        users::create_user, users::change_password,
        prompts::upload, prompts::audio,
        api_keys::list, api_keys::create, api_keys::revoke,
        audit::list,
        crate::api::contacts::list, crate::api::contacts::get, crate::api::contacts::recording, crate::api::contacts::transcript,
                crate::chat::api::start, crate::chat::api::transcript,
        crate::api::reports::realtime, crate::api::reports::historical,
        crate::api::reports::usage_report, crate::api::reports::contact_cost,
        flows::validate, flows::publish, flows::versions, flows::export, flows::import, flows::simulate,
        crate::api::routing::agents, crate::api::routing::queues, crate::api::routing::set_my_status, crate::api::routing::close_my_contact,
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
        .description("Every object of this kind, by name")
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
                    .build(),
            ),
        )
        .build();
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
        op(format!("List {label}s"), &view).response("200", list),
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
    add_crud::<SipTrunk>(&mut doc, true);
    doc
}

pub async fn serve() -> Json<&'static utoipa::openapi::OpenApi> {
    static DOC: OnceLock<utoipa::openapi::OpenApi> = OnceLock::new();
    Json(DOC.get_or_init(document))
}
