use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind};
use crate::validation::{Errors, FieldError};

/// An HTTP endpoint flows call with InvokeLambdaFunction: Switchboard's
/// stand-in for Connect's Lambda. It receives Connect's Lambda event
/// (`Details.ContactData`, `Details.Parameters`) as a JSON POST and answers
/// with a JSON object whose values become `$.External`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ExternalFunction {
    /// What flows call it by (also the last part of a Lambda ARN in imports).
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `http://` or `https://` URL to POST to.
    pub url: String,
}

impl ConfigSpec for ExternalFunction {
    const KIND: ObjectKind = ObjectKind::ExternalFunction;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        let url = self.url.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"));
        let host_ok = rest.is_some_and(|r| {
            let host = r.split(['/', '?', '#']).next().unwrap_or("");
            !host.is_empty() && !host.contains(char::is_whitespace)
        });
        e.check(
            host_ok && url.len() <= 2048,
            "url",
            "must be an http:// or https:// URL with a host",
        );
        e.finish()
    }
}
