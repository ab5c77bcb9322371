//! What is wrong with a flow, said precisely enough to fix it.

use std::fmt;

use serde::Serialize;

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The flow cannot be published or run.
    Error,
    /// Worth knowing; the flow still runs (e.g. a parameter Switchboard ignores).
    Warning,
}

/// One thing wrong with a flow: where it is and what to fix.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// Whether it stops the flow (error) or is only worth knowing (warning).
    pub severity: Severity,
    /// JSON path in the flow, e.g. `Actions[3].Parameters.InputTimeLimitSeconds`.
    pub path: String,
    /// The action's Identifier, when the problem is inside one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// What is wrong, e.g. `missing: name the first action`.
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
    /// Records an error at `path`, in the action with Identifier `action` if given.
    pub fn error(
        &mut self,
        path: impl Into<String>,
        action: Option<&str>,
        message: impl Into<String>,
    ) {
        self.push(Severity::Error, path, action, message);
    }

    /// Records a warning at `path`, in the action with Identifier `action` if given.
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

    /// Whether any problem is an error, so the flow cannot be published or run.
    pub fn has_errors(&self) -> bool {
        self.0.iter().any(|p| p.severity == Severity::Error)
    }
}
