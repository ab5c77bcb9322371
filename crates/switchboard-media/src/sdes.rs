//! SDES key exchange for SRTP (RFC 4568): the `a=crypto` attribute of an
//! `RTP/SAVP` stream, read and written. Each side sends the key it
//! encrypts with; the answer picks one of the offer's lines (its tag and
//! suite) and gives its own key.
//!
//! We take the two suites every SDES phone and carrier speaks,
//! AES_CM_128_HMAC_SHA1_80 and _32, with one inline key and no MKI or
//! session parameters; a line asking for anything else is passed over, as
//! RFC 4568 section 6.1 says of lines an answerer does not understand.

use base64::Engine;

/// Master key (16 bytes) then master salt (14 bytes), as `inline:` carries them.
pub const KEY_SALT_LEN: usize = 30;

/// A crypto suite we speak.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suite {
    /// AES counter mode, 128-bit key, 80-bit HMAC-SHA1 tag (RFC 4568 default).
    AesCm128HmacSha1_80,
    /// The same with a 32-bit tag.
    AesCm128HmacSha1_32,
}

impl Suite {
    /// Its name in SDP.
    pub fn name(self) -> &'static str {
        match self {
            Suite::AesCm128HmacSha1_80 => "AES_CM_128_HMAC_SHA1_80",
            Suite::AesCm128HmacSha1_32 => "AES_CM_128_HMAC_SHA1_32",
        }
    }

    fn parse(name: &str) -> Option<Suite> {
        match name {
            "AES_CM_128_HMAC_SHA1_80" => Some(Suite::AesCm128HmacSha1_80),
            "AES_CM_128_HMAC_SHA1_32" => Some(Suite::AesCm128HmacSha1_32),
            _ => None,
        }
    }
}

/// One `a=crypto` line.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Crypto {
    /// The line's tag: the answer repeats the offer's.
    pub tag: u32,
    /// How the stream is encrypted and authenticated.
    pub suite: Suite,
    /// The master key and salt the line's sender encrypts with.
    pub key: [u8; KEY_SALT_LEN],
}

// Keys stay out of logs.
impl std::fmt::Debug for Crypto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Crypto")
            .field("tag", &self.tag)
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

/// Why an `a=crypto` line is passed over.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// Not `tag suite key-params` (the line's start, cut short).
    #[error("a=crypto: '{0}' is not a tag, a suite and key parameters")]
    Shape(String),
    /// A suite we do not speak.
    #[error("a=crypto: suite {0} is not one we speak")]
    Suite(String),
    /// Not one inline key of 30 bytes, or with an MKI.
    #[error("a=crypto: the key is not one inline key of 30 bytes without MKI")]
    Key,
    /// A session parameter (we honour none).
    #[error("a=crypto: session parameter '{0}' is not supported")]
    SessionParameter(String),
}

impl Crypto {
    /// Reads an `a=crypto` attribute's value (`1 AES_CM_128_HMAC_SHA1_80
    /// inline:KEY[|lifetime]`).
    pub fn parse(value: &str) -> Result<Crypto, CryptoError> {
        let shape = || CryptoError::Shape(value.chars().take(80).collect());
        let mut parts = value.split_whitespace();
        let tag = parts
            .next()
            .and_then(|t| t.parse::<u32>().ok())
            .filter(|t| *t < 1_000_000_000)
            .ok_or_else(shape)?;
        let suite_name = parts.next().ok_or_else(shape)?;
        let suite =
            Suite::parse(suite_name).ok_or_else(|| CryptoError::Suite(suite_name.into()))?;
        let key_params = parts.next().ok_or_else(shape)?;
        if let Some(param) = parts.next() {
            return Err(CryptoError::SessionParameter(
                param.chars().take(40).collect(),
            ));
        }
        // One key: several (`;`-separated) would need MKIs to tell apart.
        let inline = key_params
            .strip_prefix("inline:")
            .filter(|k| !k.contains(';'))
            .ok_or(CryptoError::Key)?;
        let mut fields = inline.split('|');
        let encoded = fields.next().unwrap_or_default();
        for field in fields {
            // A lifetime (`2^31` or a number) is fine; an MKI (`1:4`) is not.
            if field.contains(':') {
                return Err(CryptoError::Key);
            }
        }
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .map_err(|_| CryptoError::Key)?;
        let key: [u8; KEY_SALT_LEN] = bytes.try_into().map_err(|_| CryptoError::Key)?;
        Ok(Crypto { tag, suite, key })
    }

    /// The attribute's value, for our SDP.
    pub fn value(&self) -> String {
        format!(
            "{} {} inline:{}",
            self.tag,
            self.suite.name(),
            base64::engine::general_purpose::STANDARD.encode(self.key)
        )
    }
}

/// What an SDES exchange agreed: the suite, and each side's key.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Agreement {
    /// The suite of the offer's line the answer took.
    pub suite: Suite,
    /// What the peer encrypts with: we decrypt with it.
    pub theirs: [u8; KEY_SALT_LEN],
    /// What we encrypt with.
    pub ours: [u8; KEY_SALT_LEN],
}

impl std::fmt::Debug for Agreement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Agreement")
            .field("suite", &self.suite)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "WVNfX19zZW1jdGwgKCkgewkyMjA7fQp9CnVubGVz";

    #[test]
    fn a_crypto_line_is_read_and_written_back() {
        let c = Crypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20")).unwrap();
        assert_eq!((c.tag, c.suite), (1, Suite::AesCm128HmacSha1_80));
        assert_eq!(c.value(), format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}"));
        let c = Crypto::parse(&format!("2 AES_CM_128_HMAC_SHA1_32 inline:{KEY}")).unwrap();
        assert_eq!(c.suite, Suite::AesCm128HmacSha1_32);
        assert!(!format!("{c:?}").contains(KEY), "keys stay out of logs");
    }

    #[test]
    fn lines_we_cannot_honour_are_passed_over_with_the_reason() {
        assert!(matches!(
            Crypto::parse(&format!("1 AES_256_CM_HMAC_SHA1_80 inline:{KEY}")),
            Err(CryptoError::Suite(_))
        ));
        assert!(matches!(
            Crypto::parse(&format!("1 AES_CM_128_HMAC_SHA1_80 inline:{KEY}|2^20|1:4")),
            Err(CryptoError::Key)
        ));
        assert!(matches!(
            Crypto::parse(&format!(
                "1 AES_CM_128_HMAC_SHA1_80 inline:{KEY};inline:{KEY}"
            )),
            Err(CryptoError::Key)
        ));
        assert!(matches!(
            Crypto::parse("1 AES_CM_128_HMAC_SHA1_80 inline:c2hvcnQ="),
            Err(CryptoError::Key)
        ));
        assert!(matches!(
            Crypto::parse(&format!(
                "1 AES_CM_128_HMAC_SHA1_80 inline:{KEY} UNENCRYPTED_SRTP"
            )),
            Err(CryptoError::SessionParameter(_))
        ));
        assert!(matches!(Crypto::parse("x AES"), Err(CryptoError::Shape(_))));
        assert!(matches!(Crypto::parse(""), Err(CryptoError::Shape(_))));
    }
}
