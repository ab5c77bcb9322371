//! Bots as configuration objects: the definition is `switchboard-nlu`'s
//! (Lex V2's terms); here it gets a kind, validation in the API's words and
//! its reference to the code hook function.

use crate::kind::{optional_ref, ConfigSpec, ObjectKind, RefSlot};
use crate::validation::FieldError;

pub use switchboard_nlu::Bot;

impl ConfigSpec for Bot {
    const KIND: ObjectKind = ObjectKind::Bot;

    fn name(&self) -> &str {
        &self.name
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let problems = self.problems();
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems
                .into_iter()
                .map(|p| FieldError::new(p.path, p.message))
                .collect())
        }
    }

    fn references_mut(&mut self) -> Vec<RefSlot<'_>> {
        let mut slots = Vec::new();
        for (n, locale) in self.locales.iter_mut().enumerate() {
            optional_ref(
                &mut slots,
                &format!("locales[{n}].codeHookFunction"),
                ObjectKind::ExternalFunction,
                &mut locale.code_hook_function,
            );
        }
        slots
    }
}
