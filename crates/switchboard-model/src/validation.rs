//! Field-level validation errors.
//!
//! Every rule in this crate reports *which field* is wrong and *why*, so the
//! API can hand the caller a precise error (`queue_configs[2].priority: must be
//! between 1 and 99`) instead of a generic 400.

use serde::Serialize;
use utoipa::ToSchema;

/// One problem with one field of a request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Path of the field in the request body, e.g. `queue_configs[0].priority`.
    pub field: String,
    /// What is wrong with it, in plain words.
    pub reason: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            reason: reason.into(),
        }
    }
}

/// Collects every problem in an object rather than stopping at the first, so a
/// form can show all of them at once.
#[derive(Debug, Default)]
pub struct Errors(Vec<FieldError>);

impl Errors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn add(&mut self, field: impl Into<String>, reason: impl Into<String>) {
        self.0.push(FieldError::new(field, reason));
    }

    /// Records `reason` against `field` unless `ok` holds.
    pub fn check(&mut self, ok: bool, field: impl Into<String>, reason: impl Into<String>) {
        if !ok {
            self.add(field, reason);
        }
    }

    pub fn name(&mut self, field: &str, value: &str) {
        check_name(self, field, value);
    }

    pub fn description(&mut self, field: &str, value: &str) {
        self.check(
            value.chars().count() <= 250,
            field,
            "must be at most 250 characters",
        );
    }

    pub fn range(&mut self, field: impl Into<String>, value: i64, min: i64, max: i64) {
        self.check(
            (min..=max).contains(&value),
            field,
            format!("must be between {min} and {max}, got {value}"),
        );
    }

    pub fn finish(self) -> Result<(), Vec<FieldError>> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(self.0)
        }
    }
}

/// Names are what people type and see; they must be non-blank, reasonably short
/// and free of control characters (which would corrupt CSV exports and logs).
fn check_name(errors: &mut Errors, field: &str, value: &str) {
    if value.trim().is_empty() {
        errors.add(field, "must not be empty");
    } else if value.trim() != value {
        errors.add(field, "must not start or end with spaces");
    } else if value.chars().count() > 127 {
        errors.add(field, "must be at most 127 characters");
    } else if value.chars().any(char::is_control) {
        errors.add(field, "must not contain control characters");
    } else if looks_like_id(value) {
        errors.add(field, ID_SHAPED);
    }
}

/// Why a name shaped like an id is refused.
pub const ID_SHAPED: &str =
    "must not look like an id (a UUID): references by name and by id would be confused";

/// Whether `value` has the shape of an object id (a UUID, any case):
/// every id is one, so a name of that shape could stand for another
/// object in a lookup by id or name.
pub fn looks_like_id(value: &str) -> bool {
    let b = value.as_bytes();
    b.len() == 36
        && b.iter().enumerate().all(|(i, c)| match i {
            8 | 13 | 18 | 23 => *c == b'-',
            _ => c.is_ascii_hexdigit(),
        })
}
