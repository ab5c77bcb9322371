//! Which web sites may run the chat widget: the answer to the browser's
//! CORS preflight on the public chat API and the participant WebSocket's
//! `Origin` check (a WebSocket has no preflight: the server must look).
//!
//! Only the public chat API is open across origins; the staff API and the
//! CCP are never answered for another site.

use reqwest::Url;

/// `chat_allowed_origins`: any site (the default, as a public widget), or
/// only these origins (`https://www.example.com`, scheme, host and port).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum AllowedOrigins {
    #[default]
    Any,
    Only(Vec<String>),
}

/// Why a configured origin was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OriginError {
    #[error("chat_allowed_origins: {0:?} is not an origin like https://www.example.com")]
    NotAnOrigin(String),
    #[error("chat_allowed_origins: {0:?} has a path, query or fragment; give scheme, host and port only")]
    HasPath(String),
    #[error("chat_allowed_origins: \"*\" stands for any site and cannot be listed with others")]
    StarWithOthers,
}

/// `Url::origin` serialises as `scheme://host[:port]`, lower case, default
/// port left out: the form browsers send in `Origin`.
fn canonical(origin: &str) -> Option<String> {
    let url = Url::parse(origin.trim()).ok()?;
    if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
        return None;
    }
    Some(url.origin().ascii_serialization())
}

impl AllowedOrigins {
    /// From the configured list: `["*"]` (or nothing) for any site.
    pub fn parse<S: AsRef<str>>(list: &[S]) -> Result<Self, OriginError> {
        if list.is_empty() || (list.len() == 1 && list[0].as_ref().trim() == "*") {
            return Ok(AllowedOrigins::Any);
        }
        let mut origins = Vec::with_capacity(list.len());
        for item in list {
            let item = item.as_ref();
            if item.trim() == "*" {
                return Err(OriginError::StarWithOthers);
            }
            let Some(origin) = canonical(item) else {
                return Err(OriginError::NotAnOrigin(item.to_string()));
            };
            // "https://example.com/" is an origin with its root path; anything
            // longer would be silently ignored by the comparison: refuse it.
            let url = Url::parse(item.trim()).map_err(|_| OriginError::NotAnOrigin(item.into()))?;
            if url.path() != "/" || url.query().is_some() || url.fragment().is_some() {
                return Err(OriginError::HasPath(item.to_string()));
            }
            if !origins.contains(&origin) {
                origins.push(origin);
            }
        }
        Ok(AllowedOrigins::Only(origins))
    }

    /// Whether a page whose `Origin` header is `origin` may use the chat API.
    /// `null` (sandboxed frames, file pages) is allowed only when any site is.
    pub fn allows(&self, origin: &[u8]) -> bool {
        match self {
            AllowedOrigins::Any => true,
            AllowedOrigins::Only(list) => std::str::from_utf8(origin)
                .ok()
                .and_then(canonical)
                .is_some_and(|o| list.contains(&o)),
        }
    }

    /// The `frame-ancestors` sources for the widget's own page.
    pub fn frame_ancestors(&self) -> String {
        match self {
            AllowedOrigins::Any => "*".into(),
            AllowedOrigins::Only(list) => {
                let mut sources = vec!["'self'".to_string()];
                sources.extend(list.iter().cloned());
                sources.join(" ")
            }
        }
    }
}

/// Whether `origin` is the server's own site, as the `Host` the browser
/// used names it (the CCP opens chat sockets from there).
pub fn same_site(origin: &[u8], host: Option<&[u8]>) -> bool {
    let (Some(origin), Some(host)) = (
        std::str::from_utf8(origin)
            .ok()
            .and_then(|o| Url::parse(o).ok()),
        host.and_then(|h| std::str::from_utf8(h).ok()),
    ) else {
        return false;
    };
    let Some(origin_host) = origin.host_str() else {
        return false;
    };
    let with_port = match origin.port() {
        Some(port) => format!("{origin_host}:{port}"),
        None => origin_host.to_string(),
    };
    with_port.eq_ignore_ascii_case(host)
        || origin
            .port_or_known_default()
            .is_some_and(|port| format!("{origin_host}:{port}").eq_ignore_ascii_case(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_or_a_star_allows_any_site() {
        assert_eq!(AllowedOrigins::parse::<&str>(&[]), Ok(AllowedOrigins::Any));
        assert_eq!(AllowedOrigins::parse(&["*"]), Ok(AllowedOrigins::Any));
        assert!(AllowedOrigins::Any.allows(b"https://anything.example"));
        assert!(AllowedOrigins::Any.allows(b"null"));
    }

    #[test]
    fn listed_origins_compare_as_browsers_send_them() {
        let allowed =
            AllowedOrigins::parse(&["HTTPS://Shop.Example.com:443/", "http://127.0.0.1:8081"])
                .unwrap();
        assert!(allowed.allows(b"https://shop.example.com"));
        assert!(allowed.allows(b"http://127.0.0.1:8081"));
        assert!(
            !allowed.allows(b"http://shop.example.com"),
            "scheme differs"
        );
        assert!(
            !allowed.allows(b"https://shop.example.com:8443"),
            "port differs"
        );
        assert!(!allowed.allows(b"https://evil.example"));
        assert!(!allowed.allows(b"null"));
        assert!(!allowed.allows(b"https://shop.example.com.evil.example"));
        assert!(!allowed.allows(&[0xff, 0xfe]));
    }

    #[test]
    fn a_bad_entry_is_refused_naming_the_setting() {
        for bad in [
            "shop.example.com",
            "ftp://x.example",
            "https://x.example/chat",
            "*x",
        ] {
            let e = AllowedOrigins::parse(&[bad]).unwrap_err();
            assert!(e.to_string().starts_with("chat_allowed_origins"), "{e}");
        }
        assert_eq!(
            AllowedOrigins::parse(&["*", "https://x.example"]),
            Err(OriginError::StarWithOthers)
        );
    }

    #[test]
    fn the_servers_own_site_is_recognised_from_the_host_header() {
        assert!(same_site(b"http://127.0.0.1:8080", Some(b"127.0.0.1:8080")));
        assert!(same_site(
            b"https://cc.example.com",
            Some(b"cc.example.com")
        ));
        assert!(same_site(
            b"https://cc.example.com",
            Some(b"cc.example.com:443")
        ));
        assert!(!same_site(
            b"http://127.0.0.1:8081",
            Some(b"127.0.0.1:8080")
        ));
        assert!(!same_site(b"http://127.0.0.1:8080", None));
    }
}
