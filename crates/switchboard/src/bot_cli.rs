//! Bots in the flow simulator: `switchboard flow simulate FLOW --bot BOT
//! --say "..." --say "..."` holds the conversation the flow hands the
//! customer to, with the real NLU, and prints it.

use std::collections::{BTreeMap, VecDeque};
use std::path::Path;
use std::sync::{Arc, Mutex};

use anyhow::{bail, Context};
use switchboard_flow::simulate::BotRule;
use switchboard_flow::Event;
use switchboard_nlu::dialog::{Dialog, Effect, Input, MAX_TURNS};
use switchboard_nlu::hook::InputMode;
use switchboard_nlu::{lexv2, Bot, Engine};

/// A bot from a Lex V2 export (zip or folder) or a Switchboard bot (JSON), compiled.
pub(crate) fn load_engine(path: &Path) -> anyhow::Result<Engine> {
    let bot: Bot = if path.is_dir() {
        let mut files = BTreeMap::new();
        read_tree(path, path, &mut files)?;
        lexv2::import(&files)
            .with_context(|| format!("reading the Lex export {}", path.display()))?
            .0
    } else {
        let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        if bytes.starts_with(b"PK") {
            let files =
                lexv2::unzip(&bytes).with_context(|| format!("unzipping {}", path.display()))?;
            lexv2::import(&files)
                .with_context(|| format!("reading the Lex export {}", path.display()))?
                .0
        } else {
            serde_json::from_slice(&bytes).with_context(|| {
                format!("{} is not a bot (JSON) or a Lex V2 export", path.display())
            })?
        }
    };
    let locale = bot
        .locales
        .iter()
        .find(|l| l.locale_id == "en_US")
        .or_else(|| bot.locales.first())
        .context("the bot has no locale")?;
    match Engine::new(locale) {
        Ok(engine) => Ok(engine),
        Err(problems) => bail!(
            "the bot has problems: {}",
            problems
                .iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ),
    }
}

fn read_tree(dir: &Path, root: &Path, out: &mut BTreeMap<String, Vec<u8>>) -> anyhow::Result<()> {
    for entry in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_dir() {
            read_tree(&path, root, out)?;
        } else if out.len() < lexv2::MAX_FILES {
            let rel = path
                .strip_prefix(root)
                .unwrap_or(&path)
                .to_string_lossy()
                .replace('\\', "/");
            out.insert(rel, std::fs::read(&path)?);
        }
    }
    Ok(())
}

/// Answers StartBot by talking to the bot: each `--say` in turn, silence
/// when they run out; code hooks do not run (they answer with an error).
/// Every line said goes to `transcript`.
pub(crate) fn conversation(
    engine: Engine,
    says: Vec<String>,
    today: chrono::NaiveDate,
    transcript: Arc<Mutex<Vec<String>>>,
) -> BotRule {
    let mut says: VecDeque<String> = says.into();
    Box::new(move |_bot, session_attributes| {
        let cx = switchboard_nlu::Context { today };
        let log = |line: String| {
            if let Ok(mut t) = transcript.lock() {
                t.push(line);
            }
        };
        let mut effects = Vec::new();
        let mut dialog = Dialog::start(
            "simulated",
            &engine.locale.locale_id,
            InputMode::Text,
            session_attributes.clone(),
            &mut effects,
        );
        // Every turn the dialog takes answers one input; it ends within MAX_TURNS of them.
        for _ in 0..(4 * MAX_TURNS) {
            let mut next = None;
            for effect in std::mem::take(&mut effects) {
                match effect {
                    Effect::Say(text) => log(format!("bot: {text}")),
                    Effect::Listen(_) => {
                        next = Some(match says.pop_front() {
                            Some(text) => {
                                log(format!("customer: {text}"));
                                Input::Said(text)
                            }
                            None => {
                                log("customer: (says nothing)".into());
                                Input::Silence
                            }
                        })
                    }
                    Effect::CallHook { function, .. } => {
                        log(format!(
                            "(code hook {function} does not run in the simulator)"
                        ));
                        next = Some(Input::HookAnswered(Err(
                            "code hooks do not run in the simulator".into(),
                        )));
                    }
                    Effect::Finished(outcome) => {
                        log(format!(
                            "bot ends: intent {} {:?}, slots {:?}",
                            outcome.intent, outcome.state, outcome.slots
                        ));
                        return match outcome.error {
                            Some(e) => Event::Failed(e),
                            None => Event::BotResult {
                                intent: outcome.intent,
                                slots: outcome.slots,
                                session_attributes: outcome.session_attributes,
                            },
                        };
                    }
                }
            }
            match next {
                Some(input) => dialog.handle(&engine, &cx, input, &mut effects),
                None => break,
            }
        }
        Event::Failed("the conversation did not end".into())
    })
}
