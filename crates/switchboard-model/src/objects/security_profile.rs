use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind};
use crate::permissions;
use crate::validation::{Errors, FieldError};

/// A named set of permissions. Users hold one or more.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SecurityProfile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Permission names from `GET /api/v1/permissions`.
    #[serde(default)]
    pub permissions: Vec<String>,
}

impl ConfigSpec for SecurityProfile {
    const KIND: ObjectKind = ObjectKind::SecurityProfile;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.name("name", &self.name);
        e.description("description", &self.description);
        for (i, p) in self.permissions.iter().enumerate() {
            e.check(
                permissions::is_known(p),
                format!("permissions[{i}]"),
                format!("unknown permission '{p}' (see GET /api/v1/permissions)"),
            );
            e.check(
                !self.permissions[..i].contains(p),
                format!("permissions[{i}]"),
                format!("'{p}' is listed twice"),
            );
        }
        e.finish()
    }
}
