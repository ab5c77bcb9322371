//! The shell side of InvokeLambdaFunction: an HTTP POST of Connect's Lambda
//! event to an external function, with a time limit and a cap on the answer.
//!
//! The request body is the event a Connect Lambda receives, so functions
//! written for Connect work unchanged:
//! `{"Name": "ContactFlowEvent", "Details": {"ContactData": {...}, "Parameters": {...}}}`.
//! The answer must be a JSON object; its pairs become `$.External`.

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};
use switchboard_flow::ContactData;

/// Connect's limit on a Lambda's answer.
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024;
/// Connect's limit on how long a flow waits for a Lambda.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(8);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FunctionError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("could not reach the function: {0}")]
    Unreachable(String),
    #[error("the function answered HTTP {0}")]
    Status(u16),
    #[error("the answer is larger than {MAX_RESPONSE_BYTES} bytes")]
    TooLarge,
    #[error("the answer is not a JSON object: {0}")]
    NotAnObject(String),
    #[error("a STRING_MAP answer must be flat: '{0}' holds a list or object")]
    Nested(String),
}

/// Connect's Lambda event for a contact.
pub fn event(contact: &ContactData, parameters: &BTreeMap<String, String>) -> Value {
    let endpoint = |address: &str| json!({"Address": address, "Type": "TELEPHONE_NUMBER"});
    json!({
        "Name": "ContactFlowEvent",
        "Details": {
            "ContactData": {
                "Attributes": contact.attributes,
                "Channel": contact.channel,
                "ContactId": contact.contact_id,
                "InitialContactId": contact.initial_contact_id,
                "InitiationMethod": contact.initiation_method,
                "CustomerEndpoint": endpoint(&contact.customer_address),
                "SystemEndpoint": endpoint(&contact.system_address),
                "Queue": contact.queue.as_ref().map(|q| json!({"ARN": q.id, "Name": q.name})),
                "LanguageCode": contact.language,
            },
            "Parameters": parameters,
        }
    })
}

/// Calls external functions. Cheap to clone (one connection pool).
#[derive(Clone)]
pub struct FunctionClient {
    http: reqwest::Client,
}

impl Default for FunctionClient {
    fn default() -> Self {
        Self {
            http: reqwest::Client::builder()
                .connect_timeout(Duration::from_secs(3))
                // A function must answer itself, not send the flow elsewhere.
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
        }
    }
}

impl FunctionClient {
    /// POSTs `body` to `url` and reads the answer's bytes, within `timeout`
    /// and [`MAX_RESPONSE_BYTES`].
    async fn post(
        &self,
        url: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Vec<u8>, FunctionError> {
        let timeout = timeout.min(MAX_TIMEOUT);
        let call = async {
            let mut response = self
                .http
                .post(url)
                .json(body)
                .send()
                .await
                .map_err(|e| FunctionError::Unreachable(e.without_url().to_string()))?;
            if !response.status().is_success() {
                return Err(FunctionError::Status(response.status().as_u16()));
            }
            if response
                .content_length()
                .is_some_and(|n| n as usize > MAX_RESPONSE_BYTES)
            {
                return Err(FunctionError::TooLarge);
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| FunctionError::Unreachable(e.to_string()))?
            {
                body.extend_from_slice(&chunk);
                if body.len() > MAX_RESPONSE_BYTES {
                    return Err(FunctionError::TooLarge);
                }
            }
            Ok(body)
        };
        tokio::time::timeout(timeout, call)
            .await
            .map_err(|_| FunctionError::Timeout(timeout))?
    }

    /// POSTs a JSON document (a bot's code hook request) and returns the
    /// JSON object it answers.
    pub async fn invoke_json(
        &self,
        url: &str,
        body: &Value,
        timeout: Duration,
    ) -> Result<Value, FunctionError> {
        let body = self.post(url, body, timeout).await?;
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| FunctionError::NotAnObject(e.to_string()))?;
        if !value.is_object() {
            return Err(FunctionError::NotAnObject("it is not an object".into()));
        }
        Ok(value)
    }

    /// POSTs the event to `url` and reads the answer: a flat object of
    /// values for STRING_MAP, any object for JSON. Numbers and booleans in
    /// a STRING_MAP answer become text, as Connect does.
    pub async fn invoke(
        &self,
        url: &str,
        contact: &ContactData,
        parameters: &BTreeMap<String, String>,
        timeout: Duration,
        json_response: bool,
    ) -> Result<BTreeMap<String, Value>, FunctionError> {
        let body = self.post(url, &event(contact, parameters), timeout).await?;
        let value: Value =
            serde_json::from_slice(&body).map_err(|e| FunctionError::NotAnObject(e.to_string()))?;
        let Value::Object(map) = value else {
            return Err(FunctionError::NotAnObject("it is not an object".into()));
        };
        map.into_iter()
            .map(|(k, v)| match v {
                Value::String(_) => Ok((k, v)),
                Value::Number(_) | Value::Bool(_) if !json_response => {
                    Ok((k, Value::String(v.to_string())))
                }
                Value::Array(_) | Value::Object(_) if !json_response => {
                    Err(FunctionError::Nested(k))
                }
                other => Ok((k, other)),
            })
            .collect()
    }
}
