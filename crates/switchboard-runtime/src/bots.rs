//! The shell side of ConnectParticipantWithLexBot: find the bot a flow
//! names, compile the locale for the contact's language, and call the
//! bot's code hook function. The conversation itself is the contact's
//! (`switchboard-contact` runs `switchboard-nlu`'s dialog).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use switchboard_flow::simulate::name_of;
use switchboard_model::{Bot, ExternalFunction};
use switchboard_nlu::Engine;

use crate::AppState;

/// How long a code hook function may take (Lex allows a Lambda 30 s; a
/// customer waiting in a chat or on a call should not).
pub const HOOK_TIMEOUT: Duration = Duration::from_secs(8);

/// The names a flow's reference may mean: the reference, the last part of
/// an ARN, and the bot id of a Lex V2 alias ARN (`.../bot-alias/BOTID/ALIASID`).
fn candidates(reference: &str) -> Vec<String> {
    let mut out = vec![reference.to_string(), name_of(reference)];
    if let Some((_, rest)) = reference.split_once("bot-alias/") {
        if let Some(bot) = rest.split('/').next() {
            out.push(bot.to_string());
        }
    }
    out.dedup();
    out
}

/// The bot's locale for a language (`en-US` takes `en_US`, else the first
/// locale of the same language, else the first), compiled.
pub fn engine_for(bot: &Bot, language: &str) -> Result<Engine, String> {
    let wanted = language.replace('-', "_");
    let base = wanted.split('_').next().unwrap_or("");
    let locale = bot
        .locales
        .iter()
        .find(|l| l.locale_id.eq_ignore_ascii_case(&wanted))
        .or_else(|| {
            bot.locales
                .iter()
                .find(|l| l.locale_id.split('_').next() == Some(base))
        })
        .or_else(|| bot.locales.first())
        .ok_or_else(|| format!("bot '{}' has no locale", bot.name))?;
    let mut engine = Engine::new(locale).map_err(|problems| {
        format!(
            "bot '{}' cannot run: {}",
            bot.name,
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        )
    })?;
    engine.bot_name = bot.name.clone();
    Ok(engine)
}

/// Compiled bots by (id, version, language): a bot is compiled once per
/// edit, not once per contact. Bounded; emptied when full (a few dozen bots
/// in use is many).
static COMPILED: std::sync::Mutex<Option<HashMap<CompiledKey, Arc<Engine>>>> =
    std::sync::Mutex::new(None);
/// A bot's id, its version and the language compiled.
type CompiledKey = (String, i64, String);
const MOST_COMPILED: usize = 64;

fn compiled(key: &CompiledKey) -> Option<Arc<Engine>> {
    COMPILED.lock().ok()?.as_ref()?.get(key).cloned()
}

fn keep_compiled(key: CompiledKey, engine: Arc<Engine>) {
    if let Ok(mut cache) = COMPILED.lock() {
        let cache = cache.get_or_insert_with(HashMap::new);
        if cache.len() >= MOST_COMPILED {
            cache.clear();
        }
        cache.insert(key, engine);
    }
}

/// Finds and compiles the bot a flow names.
pub async fn load(app: &AppState, reference: &str, language: &str) -> Result<Arc<Engine>, String> {
    for name in candidates(reference) {
        match app.store.get::<Bot>(&name).await {
            Ok(Some(bot)) => {
                let key = (bot.id.clone(), bot.version, language.to_string());
                if let Some(engine) = compiled(&key) {
                    return Ok(engine);
                }
                // Compiling is CPU work (about 5 ms for the demo bot's 140 utterances).
                let spec = bot.spec;
                let language = language.to_string();
                let engine = tokio::task::spawn_blocking(move || engine_for(&spec, &language))
                    .await
                    .map_err(|e| format!("compiling the bot failed: {e}"))?
                    .map(Arc::new)?;
                keep_compiled(key, engine.clone());
                return Ok(engine);
            }
            Ok(None) => continue,
            Err(e) => {
                tracing::warn!("loading bot '{reference}': {e}");
                return Err("the store could not be read".into());
            }
        }
    }
    Err(format!("no bot '{}'", name_of(reference)))
}

/// Calls the code hook function (by id or name) with Lex V2's request.
pub async fn call_hook(app: &AppState, function: &str, payload: &Value) -> Result<Value, String> {
    let url = match app.store.get::<ExternalFunction>(function).await {
        Ok(Some(f)) => f.spec.url,
        Ok(None) => {
            return Err(format!(
                "no external function '{function}' for the bot's code hook"
            ))
        }
        Err(e) => {
            tracing::warn!("loading function '{function}': {e}");
            return Err("the store could not be read".into());
        }
    };
    app.functions
        .invoke_json(&url, payload, HOOK_TIMEOUT)
        .await
        .map_err(|e| format!("code hook '{function}': {e}"))
}

/// [`load`] in a spawned task; the answer goes to `reply`.
pub fn load_later(
    app: &AppState,
    reference: String,
    language: String,
    reply: impl FnOnce(Result<Arc<Engine>, String>) + Send + 'static,
) {
    let app = app.clone();
    tokio::spawn(async move { reply(load(&app, &reference, &language).await) });
}

/// [`call_hook`] in a spawned task; the answer goes to `reply`.
pub fn hook_later(
    app: &AppState,
    function: String,
    payload: Box<switchboard_nlu::hook::Request>,
    reply: impl FnOnce(Result<Value, String>) + Send + 'static,
) {
    let app = app.clone();
    tokio::spawn(async move {
        let answer = match serde_json::to_value(&payload) {
            Ok(body) => call_hook(&app, &function, &body).await,
            Err(e) => Err(e.to_string()),
        };
        reply(answer);
    });
}
