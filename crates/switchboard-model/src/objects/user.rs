use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{ConfigSpec, ObjectKind, RefSlot};
use crate::objects::phone_number::parse_e164;
use crate::validation::{Errors, FieldError};

/// A person who signs in: an agent, a supervisor, an administrator.
/// The password is never part of the object; it is set on creation and
/// changed through its own endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct User {
    /// Sign-in name: letters, digits and `. _ - @ +`, at most 64 characters.
    pub username: String,
    #[serde(default)]
    pub first_name: String,
    #[serde(default)]
    pub last_name: String,
    #[serde(default)]
    pub email: Option<String>,
    /// Security profiles (ids or names); at least one.
    pub security_profiles: Vec<String>,
    /// Routing profile (id or name).
    pub routing_profile: String,
    #[serde(default)]
    pub phone_config: PhoneConfig,
}

/// How the agent takes calls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneConfig {
    #[serde(default)]
    pub phone_type: PhoneType,
    /// Connect offered calls without the agent pressing accept.
    #[serde(default)]
    pub auto_accept: bool,
    /// Seconds of after-contact work before the agent is made available again;
    /// 0 keeps them in after-contact work until they close it.
    #[serde(default)]
    pub after_contact_work_timeout_seconds: u32,
    /// For DESK_PHONE: an E.164 number to forward calls to. Absent: the
    /// user's registered SIP phone.
    #[serde(default)]
    pub desk_phone_number: Option<String>,
    /// For DESK_PHONE: the password the agent's SIP phone registers with
    /// (digest authentication, username = the user's username). At least
    /// 12 characters; absent: the phone cannot register.
    #[serde(default)]
    pub sip_password: Option<String>,
}

impl Default for PhoneConfig {
    fn default() -> Self {
        Self {
            phone_type: PhoneType::SoftPhone,
            auto_accept: false,
            after_contact_work_timeout_seconds: 0,
            desk_phone_number: None,
            sip_password: None,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PhoneType {
    /// The browser softphone in the Contact Control Panel.
    #[default]
    SoftPhone,
    /// A SIP desk phone or an external number.
    DeskPhone,
}

/// Most seconds of after-contact work that can be configured (Connect's limit).
pub const MAX_ACW_SECONDS: u32 = 2_000_000;

fn valid_username(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@+".contains(c))
}

/// Password rules (Connect's): 8-64 characters with an upper-case letter, a
/// lower-case letter and a digit. Returns the reason when the password fails.
pub fn check_password(password: &str) -> Result<(), &'static str> {
    let len = password.chars().count();
    if !(8..=64).contains(&len) {
        return Err("must be 8 to 64 characters");
    }
    let has = |f: fn(&char) -> bool| password.chars().any(|c| f(&c));
    if !(has(char::is_ascii_uppercase)
        && has(char::is_ascii_lowercase)
        && has(char::is_ascii_digit))
    {
        return Err("must contain an upper-case letter, a lower-case letter and a digit");
    }
    Ok(())
}

impl ConfigSpec for User {
    const KIND: ObjectKind = ObjectKind::User;

    fn hide_secrets(&mut self) {
        self.phone_config.sip_password = None;
    }

    fn keep_server_fields(&mut self, stored: &Self) {
        if self.phone_config.sip_password.is_none() {
            self.phone_config.sip_password = stored.phone_config.sip_password.clone();
        }
    }

    fn name(&self) -> &str {
        &self.username
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.check(
            valid_username(&self.username),
            "username",
            "must be 1-64 letters, digits or . _ - @ +",
        );
        e.check(
            !crate::validation::looks_like_id(&self.username),
            "username",
            crate::validation::ID_SHAPED,
        );
        e.check(
            self.first_name.chars().count() <= 100,
            "first_name",
            "must be at most 100 characters",
        );
        e.check(
            self.last_name.chars().count() <= 100,
            "last_name",
            "must be at most 100 characters",
        );
        if let Some(email) = &self.email {
            let ok = email.len() <= 254
                && email
                    .split_once('@')
                    .is_some_and(|(local, domain)| !local.is_empty() && domain.contains('.'))
                && !email.chars().any(char::is_whitespace);
            e.check(ok, "email", "is not an email address");
        }
        e.check(
            !self.security_profiles.is_empty(),
            "security_profiles",
            "must name at least one security profile",
        );
        let pc = &mut self.phone_config;
        e.check(
            pc.after_contact_work_timeout_seconds <= MAX_ACW_SECONDS,
            "phone_config.after_contact_work_timeout_seconds",
            format!("must be at most {MAX_ACW_SECONDS}"),
        );
        if let Some(number) = &pc.desk_phone_number {
            match parse_e164(number) {
                Ok(parsed) => pc.desk_phone_number = Some(parsed.number),
                Err(reason) => e.add("phone_config.desk_phone_number", reason.to_string()),
            }
        }
        if let Some(password) = &pc.sip_password {
            e.check(
                (12..=128).contains(&password.chars().count())
                    && password.chars().all(|c| c.is_ascii_graphic()),
                "phone_config.sip_password",
                "must be 12 to 128 printable ASCII characters without spaces",
            );
        }
        e.finish()
    }

    fn references_mut(&mut self) -> Vec<RefSlot<'_>> {
        let mut slots = vec![RefSlot::new(
            "routing_profile",
            ObjectKind::RoutingProfile,
            &mut self.routing_profile,
        )];
        for (i, p) in self.security_profiles.iter_mut().enumerate() {
            slots.push(RefSlot::new(
                format!("security_profiles[{i}]"),
                ObjectKind::SecurityProfile,
                p,
            ));
        }
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_rules() {
        assert!(check_password("Secr3tPass").is_ok());
        assert!(check_password("short1A").is_err());
        assert!(check_password("alllowercase1").is_err());
        assert!(check_password("NoDigitsHere").is_err());
    }

    #[test]
    fn usernames() {
        assert!(valid_username("jane.doe@example.com"));
        assert!(!valid_username("jane doe"));
        assert!(!valid_username(""));
        assert!(!valid_username(&"a".repeat(65)));
    }
}
