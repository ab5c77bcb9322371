//! Who is calling, and what they may do.
//!
//! People sign in with a username and password (hashed with argon2) and get a
//! session token; machines use API keys. Both travel as
//! `Authorization: Bearer <token>`. Session tokens start `sbs_`, API keys
//! `sbk_`; both are 256 random bits, stored only as SHA-256 hashes. A fast
//! hash is right for them, unlike for passwords: with 256 bits of entropy
//! there is nothing to guess, so the hash only has to be one-way.

use axum::extract::FromRequestParts;
use axum::http::{header, request::Parts};
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};
use switchboard_model::permissions::{self, PermissionSet};
use switchboard_model::{SecurityProfile, User};
use switchboard_store::{Actor, Record};

use crate::error::ApiError;
use switchboard_runtime::AppState;

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

/// Password hashing off the async threads, bounded.
///
/// An argon2id check takes about 19 MiB and tens of milliseconds (on
/// purpose). Run unbounded, a storm of wrong sign-ins (no account needed)
/// took the server's memory: 200 at once raised it by 3.5 GB, and glibc kept
/// it, one arena per blocking thread. So checks run on a fixed set of
/// threads, one per core (at most 4), fed by a short queue; when the queue is
/// full a check is refused at once with 503 and Retry-After instead of
/// waiting. The memory is then bounded by the threads, and a correct sign-in
/// still gets through a storm once it is in the queue.
mod hashing {
    use std::sync::mpsc::{sync_channel, SyncSender, TrySendError};
    use std::sync::{LazyLock, Mutex};

    use crate::error::ApiError;

    type Job = Box<dyn FnOnce() + Send>;

    /// Checks waiting per hashing thread before new ones are refused.
    const QUEUE_PER_THREAD: usize = 4;

    struct Pool {
        jobs: Mutex<SyncSender<Job>>,
        threads: usize,
    }

    static POOL: LazyLock<Pool> = LazyLock::new(|| {
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 4);
        let (tx, rx) = sync_channel::<Job>(threads * QUEUE_PER_THREAD);
        let rx = std::sync::Arc::new(Mutex::new(rx));
        for i in 0..threads {
            let rx = rx.clone();
            std::thread::Builder::new()
                .name(format!("password-check-{i}"))
                .spawn(move || loop {
                    // The lock is held only to take the next job.
                    let job = match rx.lock().unwrap_or_else(|e| e.into_inner()).recv() {
                        Ok(job) => job,
                        Err(_) => return,
                    };
                    // A panic fails that one check (its caller sees the
                    // answer channel closed), never the thread.
                    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                })
                .expect("start a password-check thread");
        }
        Pool {
            jobs: Mutex::new(tx),
            threads,
        }
    });

    /// How many checks run at once (the hashing threads).
    pub(super) fn threads() -> usize {
        POOL.threads
    }

    /// Runs `work` on a hashing thread, or refuses at once (saying `busy`)
    /// when too many checks are waiting already.
    pub(super) async fn run<T: Send + 'static>(
        busy: &'static str,
        work: impl FnOnce() -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            // The client went away while this waited: skip the work.
            if tx.is_closed() {
                return;
            }
            let _ = tx.send(work());
        });
        let sent = POOL
            .jobs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .try_send(job);
        match sent {
            Ok(()) => rx.await.map_err(ApiError::internal),
            Err(TrySendError::Full(_)) => Err(ApiError::busy("password", busy, 1)),
            Err(TrySendError::Disconnected(_)) => {
                Err(ApiError::internal("the password-check threads are gone"))
            }
        }
    }
}

/// How many password checks run at once.
pub fn password_check_threads() -> usize {
    hashing::threads()
}

/// Hashes a password with argon2id (its default parameters), on a hashing
/// thread (bounded: see the `hashing` module).
pub async fn hash_password(password: String) -> Result<String, ApiError> {
    hashing::run(
        "too many passwords are being hashed; try again in a moment",
        move || argon::hash(password.as_bytes()),
    )
    .await?
    .map_err(ApiError::internal)
}

/// Checks a password against a stored hash. With no hash (unknown user) it
/// still does the work of a check, so timing does not reveal which usernames exist.
pub async fn verify_password(password: String, hash: Option<String>) -> Result<bool, ApiError> {
    hashing::run(
        "too many passwords are being checked; try again in a moment",
        move || match hash {
            Some(stored) => argon::verify(password.as_bytes(), &stored),
            None => {
                let _ = argon::hash(password.as_bytes());
                false
            }
        },
    )
    .await
}

/// argon2id with one working memory per hashing thread, reused.
///
/// `Argon2::hash_password` allocates its ~19 MiB afresh for every check; glibc
/// then raises its mmap threshold and keeps such blocks in its arenas, so a
/// burst of checks left hundreds of MiB behind even with two threads. Here
/// each thread keeps one block of memory for all its checks: the cost is
/// fixed at threads x 19 MiB. The hashes are the standard PHC strings
/// `Argon2::default()` makes and reads.
mod argon {
    use std::cell::RefCell;

    use argon2::password_hash::{rand_core::OsRng, Output, ParamsString, PasswordHash, SaltString};
    use argon2::{Algorithm, Argon2, Block, Params, Version};

    /// The most a stored hash may ask for: 64 MiB of memory, 10 passes, 8
    /// lanes. A hash with larger costs is refused rather than allowed to take
    /// the server's memory or a hashing thread for long.
    const MAX_BLOCKS: usize = 64 * 1024;
    const MAX_PASSES: u32 = 10;
    const MAX_LANES: u32 = 8;

    thread_local! {
        static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
    }

    /// The argon2 hash of `password` with `salt` into `out`, in this thread's memory.
    fn compute(
        argon: &Argon2<'_>,
        params: &Params,
        password: &[u8],
        salt: &[u8],
        out: &mut [u8],
    ) -> Result<(), argon2::Error> {
        if params.block_count() > MAX_BLOCKS {
            return Err(argon2::Error::MemoryTooMuch);
        }
        // argon2 has no "too many passes" error; "too much memory" is the
        // nearest (the cost is what is refused either way).
        if params.t_cost() > MAX_PASSES {
            return Err(argon2::Error::MemoryTooMuch);
        }
        if params.p_cost() > MAX_LANES {
            return Err(argon2::Error::ThreadsTooMany);
        }
        MEMORY.with(|memory| {
            let mut memory = memory.borrow_mut();
            memory.resize(params.block_count(), Block::default());
            let result = argon.hash_password_into_with_memory(
                password,
                salt,
                out,
                &mut memory[..params.block_count()],
            );
            // Keep only what the default parameters need, so an unusual
            // stored hash does not leave its memory behind.
            let usual = Params::DEFAULT.block_count();
            if memory.len() > usual {
                memory.truncate(usual);
                memory.shrink_to_fit();
            }
            result
        })
    }

    /// A new PHC string for `password` (argon2id, default parameters, random salt).
    pub(super) fn hash(password: &[u8]) -> Result<String, argon2::password_hash::Error> {
        let params = Params::default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params.clone());
        let salt = SaltString::generate(&mut OsRng);
        let mut raw = [0u8; 64];
        let salt_bytes = salt.as_salt().decode_b64(&mut raw)?;
        let len = params.output_len().unwrap_or(Params::DEFAULT_OUTPUT_LEN);
        let output = Output::init_with(len, |out| {
            Ok(compute(&argon, &params, password, salt_bytes, out)?)
        })?;
        Ok(PasswordHash {
            algorithm: Algorithm::Argon2id.ident(),
            version: Some(Version::V0x13.into()),
            params: ParamsString::try_from(&params)?,
            salt: Some(salt.as_salt()),
            hash: Some(output),
        }
        .to_string())
    }

    /// Whether `password` matches the PHC string `stored` (compared in constant time).
    pub(super) fn verify(password: &[u8], stored: &str) -> bool {
        let Ok(parsed) = PasswordHash::new(stored) else {
            return false;
        };
        let (Some(salt), Some(expected)) = (parsed.salt, parsed.hash) else {
            return false;
        };
        let Ok(algorithm) = Algorithm::try_from(parsed.algorithm) else {
            return false;
        };
        let version = match parsed.version.map(Version::try_from) {
            Some(Ok(v)) => v,
            Some(Err(_)) => return false,
            None => Version::default(),
        };
        let Ok(params) = Params::try_from(&parsed) else {
            return false;
        };
        let argon = Argon2::new(algorithm, version, params.clone());
        let mut raw = [0u8; 64];
        let Ok(salt_bytes) = salt.decode_b64(&mut raw) else {
            return false;
        };
        let Ok(actual) = Output::init_with(expected.len(), |out| {
            Ok(compute(&argon, &params, password, salt_bytes, out)?)
        }) else {
            return false;
        };
        // Output's equality is constant-time.
        actual == expected
    }

    #[cfg(test)]
    mod tests {
        use argon2::password_hash::{PasswordHasher, PasswordVerifier};

        use super::*;

        #[test]
        fn hashes_are_the_standard_phc_strings_both_ways() {
            let ours = hash(b"Correct-Horse-1").unwrap();
            assert!(
                ours.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
                "{ours}"
            );
            let parsed = PasswordHash::new(&ours).unwrap();
            assert!(Argon2::default()
                .verify_password(b"Correct-Horse-1", &parsed)
                .is_ok());
            let salt = SaltString::generate(&mut OsRng);
            let theirs = Argon2::default()
                .hash_password(b"Correct-Horse-1", &salt)
                .unwrap()
                .to_string();
            assert!(verify(b"Correct-Horse-1", &theirs));
            assert!(!verify(b"Correct-Horse-2", &theirs));
            assert!(!verify(b"Correct-Horse-1", "not a hash"));
        }

        #[test]
        fn a_stored_hash_asking_for_too_much_memory_or_time_is_refused() {
            let hash = "aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaGhhc2g";
            for costs in [
                "m=4194304,t=1,p=1",
                "m=19456,t=1000,p=1",
                "m=19456,t=2,p=64",
            ] {
                let greedy = format!("$argon2id$v=19${costs}$c29tZXNhbHRzb21lc2FsdA${hash}");
                let started = std::time::Instant::now();
                assert!(!verify(b"whatever", &greedy), "{costs}");
                assert!(started.elapsed().as_secs() < 5, "{costs} was computed");
            }
        }
    }
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

/// A password check under the sign-in guard: refused while this username
/// from this address (or this address) is locked; counted as a failure
/// before the check (so checks at the same moment cannot all slip past),
/// forgotten if it passes; a lock a failure starts is logged once (for
/// fail2ban).
pub async fn guarded_check(
    app: &switchboard_runtime::AppState,
    attempt: switchboard_runtime::throttle::Attempt<'_>,
    field: &str,
    check: impl std::future::Future<Output = Result<bool, ApiError>>,
) -> Result<bool, ApiError> {
    let pending = app
        .login_throttle
        .begin(attempt, std::time::Instant::now())
        .map_err(|wait| ApiError::throttled(field, wait))?;
    let ok = match check.await {
        Ok(ok) => ok,
        Err(e) => {
            // Not checked (the pool was full): not a failure either.
            app.login_throttle.cancel(attempt, pending);
            return Err(e);
        }
    };
    for lock in app.login_throttle.passed(attempt, pending, ok) {
        switchboard_runtime::throttle::log_lock("HTTP sign-in", attempt, lock);
    }
    Ok(ok)
}
