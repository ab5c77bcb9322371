//! What is wrong with a flow, said precisely enough to fix it.

use std::fmt;

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The flow cannot be published or run.
    Error,
    /// Worth knowing; the flow still runs (e.g. a parameter Switchboard ignores).
    Warning,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub severity: Severity,
    /// JSON path in the flow, e.g. `Actions[3].Parameters.InputTimeLimitSeconds`.
    pub path: String,
    /// The action's Identifier, when the problem is inside one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}", self.path)?;
        if let Some(a) = &self.action {
            write!(f, " (action '{a}')")?;
        }
        write!(f, ": {}", self.message)
    }
}

/// Collects problems while parsing or validating.
#[derive(Debug, Default)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    pub fn error(
        &mut self,
        path: impl Into<String>,
        action: Option<&str>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, path, action, message);
    }

    pub fn warning(
        &mut self,
        path: impl Into<String>,
        action: Option<&str>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Warning, path, action, message);
    }

    fn push(
        &mut self,
        severity: Severity,
        path: impl Into<String>,
        action: Option<&str>,
        message: impl Into<String>,
    ) {
        self.0.push(Problem {
            severity,
            path: path.into(),
            action: action.map(str::to_string),
            message: message.into(),
        });
    }

    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|p| p.severity == Severity::Error)
    }
}
