//! Checking a phone number typed on a keypad (GetParticipantInput with
//! PhoneNumberValidation), with libphonenumber's rules.

/// The E.164 form of `digits`: typed with the country code (`local_country`
/// `None`) or as a national number of that ISO country. `None` if invalid.
pub(crate) fn normalise(digits: &str, local_country: Option<&str>) -> Option<String> {
    if digits.is_empty() || !digits.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let parsed = match local_country {
        None => phonenumber::parse(None, format!("+{digits}")).ok()?,
        Some(country) => {
            let id: phonenumber::country::Id = country.parse().ok()?;
            phonenumber::parse(Some(id), digits).ok()?
        }
    };
    phonenumber::is_valid(&parsed)
        .then(|| parsed.format().mode(phonenumber::Mode::E164).to_string())
}

#[cfg(test)]
mod tests {
    use super::normalise;

    #[test]
    fn typed_numbers() {
        assert_eq!(
            normalise("442079460123", None).as_deref(),
            Some("+442079460123")
        );
        assert_eq!(
            normalise("02079460123", Some("GB")).as_deref(),
            Some("+442079460123")
        );
        assert_eq!(
            normalise("2125550143", Some("US")).as_deref(),
            Some("+12125550143")
        );
        assert_eq!(normalise("12345", None), None);
        assert_eq!(normalise("", Some("GB")), None);
    }
}
