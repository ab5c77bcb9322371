//! Who is calling, and what they may do.
//!
//! People sign in with a username and password (hashed with argon2) and get a
//! session token; machines use API keys. Both travel as
//! `Authorization: Bearer <token>`. Session tokens start `sbs_`, API keys
//! `sbk_`; both are 256 random bits, stored only as SHA-256 hashes. A fast
//! hash is right for them, unlike for passwords: with 256 bits of entropy
//! there is nothing to guess, so the hash only has to be one-way.

use argon2::password_hash::{
    rand_core::OsRng, PasswordHash, PasswordHasher, PasswordVerifier, SaltString,
};
use argon2::Argon2;
use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use switchboard_model::permissions::{self, PermissionSet};
use switchboard_model::{SecurityProfile, User};
use switchboard_store::{Actor, Record};

use crate::error::ApiError;
use crate::AppState;

pub const SESSION_PREFIX: &str = "sbs_";
pub const API_KEY_PREFIX: &str = "sbk_";

/// A new secret token with the given prefix.
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Hashes a password with argon2id (its default parameters). Slow on
/// purpose: call it off the async threads.
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    tokio::task::spawn_blocking(move || {
        let salt = SaltString::generate(&mut OsRng);
        Argon2::default()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
    })
    .await
    .map_err(ApiError::internal)?
    .map_err(ApiError::internal)
}

/// Checks a password against a stored hash. With no hash (unknown user) it
/// still does the work of a check, so timing does not reveal which usernames exist.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    tokio::task::spawn_blocking(move || {
        let argon = Argon2::default();
        match hash.as_deref().map(PasswordHash::new) {
            Some(Ok(parsed)) => argon.verify_password(password.as_bytes(), &parsed).is_ok(),
            _ => {
                let salt = SaltString::generate(&mut OsRng);
                let _ = argon.hash_password(password.as_bytes(), &salt);
                false
            }
        }
    })
    .await
    .map_err(ApiError::internal)
}

/// A random password that meets the password rules, for first-start accounts.
pub fn generate_password() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789";
    let mut rng = rand::thread_rng();
    loop {
        let pw: String = (0..20)
            .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
            .collect();
        if switchboard_model::objects::user::check_password(&pw).is_ok() {
            return pw;
        }
    }
}

/// How the caller authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Via {
    Session { token_hash: String },
    ApiKey { id: String, name: String },
}

/// The authenticated caller: the user, their effective permissions, and how they came.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user: Record<User>,
    pub permissions: PermissionSet,
    pub via: Via,
}

impl Principal {
    /// Refuses with 403 unless the caller holds `permission`.
    pub fn require(&self, permission: &str) -> Result<(), ApiError> {
        if self.permissions.has(permission) {
            Ok(())
        } else {
            Err(ApiError::forbidden(permission))
        }
    }

    /// Refuses with 403 unless the caller holds at least one of `permissions`;
    /// the error names the first.
    pub fn require_any(&self, permissions: &[&str]) -> Result<(), ApiError> {
        if permissions.iter().any(|p| self.permissions.has(p)) {
            Ok(())
        } else {
            Err(ApiError::forbidden(permissions[0]))
        }
    }

    pub fn actor(&self) -> Actor {
        Actor {
            user_id: Some(self.user.id.clone()),
            name: self.user.spec.username.clone(),
            via: match &self.via {
                Via::Session { .. } => "session".into(),
                Via::ApiKey { name, .. } => format!("api_key:{name}"),
            },
        }
    }
}

/// The permissions a set of security profiles grants. The built-in Admin
/// profile always grants every permission, including ones added in later
/// versions of Switchboard.
pub fn permissions_of(profiles: &[Record<SecurityProfile>]) -> PermissionSet {
    let mut set = PermissionSet::default();
    for p in profiles {
        if p.builtin && p.spec.name == permissions::ADMIN {
            set.extend(
                permissions::CATALOGUE
                    .iter()
                    .map(|(name, _)| name.to_string()),
            );
        } else {
            set.extend(p.spec.permissions.iter().cloned());
        }
    }
    set
}

pub async fn load_profiles(
    app: &AppState,
    user: &User,
) -> Result<Vec<Record<SecurityProfile>>, ApiError> {
    let mut out = Vec::new();
    for id in &user.security_profiles {
        if let Some(p) = app.store.get::<SecurityProfile>(id).await? {
            out.push(p);
        }
    }
    Ok(out)
}

fn bearer(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| ApiError::unauthenticated("sign in: send Authorization: Bearer <token>"))?;
    let text = value
        .to_str()
        .map_err(|_| ApiError::unauthenticated("the Authorization header is not text"))?;
    text.strip_prefix("Bearer ").map(str::trim).ok_or_else(|| {
        ApiError::unauthenticated("the Authorization header must be 'Bearer <token>'")
    })
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &AppState) -> Result<Self, ApiError> {
        let token = bearer(parts)?;
        Principal::authenticate(app, token).await
    }
}

impl Principal {
    /// Who holds `token` (a session token or an API key), for transports
    /// without an Authorization header, such as the CCP's WebSocket.
    pub async fn authenticate(app: &AppState, token: &str) -> Result<Principal, ApiError> {
        let hash = token_hash(token);
        let (user_id, via) = if token.starts_with(API_KEY_PREFIX) {
            let key = app
                .store
                .use_api_key(&hash)
                .await?
                .ok_or_else(|| ApiError::unauthenticated("unknown or revoked API key"))?;
            (
                key.user_id,
                Via::ApiKey {
                    id: key.id,
                    name: key.name,
                },
            )
        } else {
            let session = app.store.session(&hash).await?.ok_or_else(|| {
                ApiError::unauthenticated("the session has expired or ended; sign in again")
            })?;
            (session.user_id, Via::Session { token_hash: hash })
        };
        let user = app
            .store
            .get::<User>(&user_id)
            .await?
            .ok_or_else(|| ApiError::unauthenticated("the user no longer exists"))?;
        let profiles = load_profiles(app, &user.spec).await?;
        Ok(Principal {
            permissions: permissions_of(&profiles),
            user,
            via,
        })
    }
}
