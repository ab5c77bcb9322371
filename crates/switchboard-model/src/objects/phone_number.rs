use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::kind::{optional_ref, ConfigSpec, ObjectKind, RefSlot};
use crate::validation::{Errors, FieldError};

/// A number customers call, linked to the flow that answers it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PhoneNumber {
    /// E.164, e.g. `+442079460123`. Spaces, dashes and brackets are accepted
    /// and removed; the country code is required.
    pub number: String,
    #[serde(default)]
    pub description: String,
    /// Flow (id or name) that answers calls to this number.
    #[serde(default)]
    pub flow: Option<String>,
    /// ISO 3166 country of the number, derived from it.
    #[serde(default)]
    #[schema(read_only)]
    pub country_code: String,
    /// Derived from the number: TOLL_FREE for freephone ranges, DID otherwise.
    #[serde(default)]
    #[schema(read_only)]
    pub number_type: PhoneNumberType,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum PhoneNumberType {
    #[default]
    Did,
    TollFree,
}

/// A number that passed libphonenumber's rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct E164 {
    pub number: String,
    pub country_code: String,
    pub number_type: PhoneNumberType,
}

/// Why a text is not a phone number in international form. The text is
/// fit to show a person, after the field's name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum E164Error {
    /// It does not start with `+`.
    #[error("must be in E.164 form: + then the country code and number")]
    NotInternational,
    /// The phone-number library cannot read it; its reason.
    #[error("is not a phone number ({0})")]
    Unreadable(String),
    /// Well formed, but no such number exists in that country's plan.
    #[error("'{number}' is not a valid number for country code +{country_code}")]
    Invalid {
        /// The text as given (trimmed).
        number: String,
        /// The country calling code it starts with.
        country_code: u16,
    },
}

/// Parses and checks a number written in international form.
pub fn parse_e164(input: &str) -> Result<E164, E164Error> {
    let trimmed = input.trim();
    if !trimmed.starts_with('+') {
        return Err(E164Error::NotInternational);
    }
    let parsed =
        phonenumber::parse(None, trimmed).map_err(|err| E164Error::Unreadable(err.to_string()))?;
    if !phonenumber::is_valid(&parsed) {
        return Err(E164Error::Invalid {
            number: trimmed.to_string(),
            country_code: parsed.code().value(),
        });
    }
    let number = parsed.format().mode(phonenumber::Mode::E164).to_string();
    let country_code = parsed
        .country()
        .id()
        .map(|id| id.as_ref().to_string())
        .unwrap_or_else(|| "001".to_string()); // non-geographic (+800, +882...)
    let number_type = match parsed.number_type(&phonenumber::metadata::DATABASE) {
        phonenumber::Type::TollFree => PhoneNumberType::TollFree,
        _ => PhoneNumberType::Did,
    };
    Ok(E164 {
        number,
        country_code,
        number_type,
    })
}

impl ConfigSpec for PhoneNumber {
    const KIND: ObjectKind = ObjectKind::PhoneNumber;

    fn name(&self) -> &str {
        &self.number
    }

    fn validate(&mut self) -> Result<(), Vec<FieldError>> {
        let mut e = Errors::new();
        e.description("description", &self.description);
        match parse_e164(&self.number) {
            Ok(parsed) => {
                self.number = parsed.number;
                self.country_code = parsed.country_code;
                self.number_type = parsed.number_type;
            }
            Err(reason) => e.add("number", reason.to_string()),
        }
        e.finish()
    }

    fn references_mut(&mut self) -> Vec<RefSlot<'_>> {
        let mut slots = Vec::new();
        optional_ref(&mut slots, "flow", ObjectKind::Flow, &mut self.flow);
        slots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn real_numbers_of_several_countries() {
        let cases = [
            // (input, E.164, country, type)
            (
                "+44 20 7946 0123",
                "+442079460123",
                "GB",
                PhoneNumberType::Did,
            ),
            (
                "+44 800 123 4567",
                "+448001234567",
                "GB",
                PhoneNumberType::TollFree,
            ),
            (
                "+1 212-555-0123",
                "+12125550123",
                "US",
                PhoneNumberType::Did,
            ),
            (
                "+1 (800) 555-0199",
                "+18005550199",
                "US",
                PhoneNumberType::TollFree,
            ),
            (
                "+33 1 42 68 53 00",
                "+33142685300",
                "FR",
                PhoneNumberType::Did,
            ),
            ("+49 30 901820", "+4930901820", "DE", PhoneNumberType::Did),
            (
                "+61 2 9374 4000",
                "+61293744000",
                "AU",
                PhoneNumberType::Did,
            ),
            (
                "+81 3-3224-2000",
                "+81332242000",
                "JP",
                PhoneNumberType::Did,
            ),
            (
                "+353 1 234 5678",
                "+35312345678",
                "IE",
                PhoneNumberType::Did,
            ),
            (
                "+34 900 123 456",
                "+34900123456",
                "ES",
                PhoneNumberType::TollFree,
            ),
        ];
        for (input, e164, country, ty) in cases {
            let got = parse_e164(input).unwrap_or_else(|e| panic!("{input}: {e}"));
            assert_eq!(got.number, e164, "{input}");
            assert_eq!(got.country_code, country, "{input}");
            assert_eq!(got.number_type, ty, "{input}");
        }
    }

    #[test]
    fn refuses_what_is_not_e164() {
        for bad in [
            "020 7946 0123",       // national form, no country code
            "+44 20 7946",         // too short for the UK
            "+1 212 555 01234567", // too long
            "+999 1234",           // no such country code
            "hello",
            "",
        ] {
            assert!(parse_e164(bad).is_err(), "{bad} should be refused");
        }
    }
}
