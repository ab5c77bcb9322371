//! Lex V2's export format ("LexJson"): the files of the zip Lex exports
//! (`Manifest.json`, `<Bot>/Bot.json`, `BotLocales/<locale>/BotLocale.json`,
//! `Intents/<I>/Intent.json`, `Intents/<I>/Slots/<S>/Slot.json`,
//! `SlotTypes/<T>/SlotType.json`), read into a [`Bot`] with a report of what
//! was mapped and what was not, and written back.
//!
//! Real exports differ from Lex's documentation (`Manifest.json` with
//! `metaData`, `messageGroupsList`, `TOP_RESOLUTION`), write every key even
//! when null, and grow new keys over time; the reader takes null and
//! missing alike and reports keys it does not map instead of refusing them.
//! The zip itself is the server's business: this module sees paths and bytes.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{json, Map, Value};

use crate::builtin::BuiltIn;
use crate::model::{Bot, Confirmation, Intent, Locale, Resolution, Slot, SlotType, SlotTypeValue};

/// Most files an export may hold.
pub const MAX_FILES: usize = 20_000;
/// Most bytes of one file.
pub const MAX_FILE_BYTES: usize = 2 << 20;

/// Why an export could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ImportError {
    /// No `Bot.json` and no `BotLocale.json`: not a Lex V2 export.
    #[error("not a Lex V2 export: no Bot.json or BotLocale.json in it")]
    NotAnExport,
    /// A file is not JSON.
    #[error("{path}: not JSON: {message}")]
    NotJson {
        /// The file.
        path: String,
        /// What the parser said.
        message: String,
    },
    /// Too many or too large files.
    #[error("the export is too large: {0}")]
    TooLarge(String),
    /// Not a zip file, or a broken one.
    #[error("not a zip file: {0}")]
    NotAZip(String),
    /// The bot it describes cannot run here.
    #[error("the imported bot has problems: {}", .0.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))]
    Invalid(Vec<crate::model::Problem>),
}

/// The most an export may hold unzipped (a zip bomb stops here).
pub const MAX_UNZIPPED_BYTES: u64 = 32 << 20;

/// The files of a zip (path to bytes), bounded in number and size whatever
/// the zip's headers claim. In memory: no file system is touched.
pub fn unzip(bytes: &[u8]) -> Result<BTreeMap<String, Vec<u8>>, ImportError> {
    use std::io::Read;
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .map_err(|e| ImportError::NotAZip(e.to_string()))?;
    if archive.len() > MAX_FILES {
        return Err(ImportError::TooLarge(format!(
            "{} entries (at most {MAX_FILES})",
            archive.len()
        )));
    }
    let mut files = BTreeMap::new();
    let mut total = 0u64;
    for i in 0..archive.len() {
        let entry = archive
            .by_index(i)
            .map_err(|e| ImportError::NotAZip(format!("entry {i}: {e}")))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().to_string();
        // One byte past the limit tells a file that is too large.
        let mut data = Vec::new();
        entry
            .take(MAX_FILE_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .map_err(|e| ImportError::NotAZip(format!("{name}: {e}")))?;
        if data.len() > MAX_FILE_BYTES {
            return Err(ImportError::TooLarge(format!(
                "{name} is larger than {MAX_FILE_BYTES} bytes"
            )));
        }
        total += data.len() as u64;
        if total > MAX_UNZIPPED_BYTES {
            return Err(ImportError::TooLarge(format!(
                "more than {MAX_UNZIPPED_BYTES} bytes unzipped"
            )));
        }
        files.insert(name, data);
    }
    Ok(files)
}

/// Files (path to bytes) as a zip, in memory.
pub fn zip(files: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, String> {
    use std::io::Write;
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, bytes) in files {
        zip.start_file(name.as_str(), options)
            .map_err(|e| e.to_string())?;
        zip.write_all(bytes).map_err(|e| e.to_string())?;
    }
    Ok(zip.finish().map_err(|e| e.to_string())?.into_inner())
}

/// What an import took and what it left.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Report {
    /// What became part of the bot ("intent OrderFlowers: 5 utterances, 3 slots").
    pub mapped: Vec<String>,
    /// What the bot here does not use, by file and key.
    pub unmapped: Vec<String>,
}

/// A value, with JSON's `null` taken as missing.
fn get<'a>(v: &'a Value, key: &str) -> Option<&'a Value> {
    v.get(key).filter(|x| !x.is_null())
}

fn text(v: &Value, key: &str) -> Option<String> {
    get(v, key).and_then(Value::as_str).map(str::to_string)
}

/// A `PromptSpecification` or `ResponseSpecification`: its first message as text.
fn message(spec: &Value, at: &str, report: &mut Report) -> Option<String> {
    let groups = get(spec, "messageGroupsList")
        .or_else(|| get(spec, "messageGroups"))
        .or_else(|| get(spec, "messageGroupList"))?;
    let groups = groups.as_array()?;
    let mut first = None;
    for (g, group) in groups.iter().enumerate() {
        let Some(m) = get(group, "message") else {
            continue;
        };
        let said = get(m, "plainTextMessage")
            .and_then(|p| text(p, "value"))
            .or_else(|| get(m, "ssmlMessage").and_then(|p| text(p, "value")));
        match said {
            Some(s) if first.is_none() => first = Some(s),
            Some(_) => report.unmapped.push(format!(
                "{at}.messageGroupsList[{g}]: only the first message group is said"
            )),
            None => {
                let kind = if get(m, "imageResponseCard").is_some() {
                    "image response card"
                } else {
                    "custom payload"
                };
                report
                    .unmapped
                    .push(format!("{at}.messageGroupsList[{g}]: {kind}"));
            }
        }
        if get(group, "variations")
            .and_then(Value::as_array)
            .is_some_and(|v| !v.is_empty())
        {
            report.unmapped.push(format!(
                "{at}.messageGroupsList[{g}].variations: the first message is always said"
            ));
        }
    }
    first
}

/// Reports every non-null key of `v` not in `known`.
fn unmapped_keys(v: &Value, known: &[&str], at: &str, report: &mut Report) {
    if let Some(map) = v.as_object() {
        for (k, x) in map {
            if !x.is_null() && !known.contains(&k.as_str()) && !is_empty_container(x) {
                report.unmapped.push(format!("{at}.{k}"));
            }
        }
    }
}

fn is_empty_container(v: &Value) -> bool {
    matches!(v, Value::Array(a) if a.is_empty()) || matches!(v, Value::Object(o) if o.is_empty())
}

/// The JSON in a file.
fn parse(path: &str, bytes: &[u8]) -> Result<Value, ImportError> {
    serde_json::from_slice(bytes).map_err(|e| ImportError::NotJson {
        path: path.to_string(),
        message: e.to_string(),
    })
}

/// The file's name, case-insensitive: `BotLocale.json`.
fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// Reads an export's files (path inside the zip to bytes).
pub fn import(files: &BTreeMap<String, Vec<u8>>) -> Result<(Bot, Report), ImportError> {
    if files.len() > MAX_FILES {
        return Err(ImportError::TooLarge(format!(
            "{} files (at most {MAX_FILES})",
            files.len()
        )));
    }
    if let Some((p, b)) = files.iter().find(|(_, b)| b.len() > MAX_FILE_BYTES) {
        return Err(ImportError::TooLarge(format!(
            "{p} is {} bytes (at most {MAX_FILE_BYTES})",
            b.len()
        )));
    }
    let mut report = Report::default();
    let files: BTreeMap<String, &Vec<u8>> = files
        .iter()
        .map(|(k, v)| (k.replace('\\', "/").trim_start_matches("./").to_string(), v))
        .collect();
    let bot_file = files
        .iter()
        .find(|(p, _)| file_name(p).eq_ignore_ascii_case("Bot.json"));
    let locale_files: Vec<(&String, &&Vec<u8>)> = files
        .iter()
        .filter(|(p, _)| file_name(p).eq_ignore_ascii_case("BotLocale.json"))
        .collect();
    if locale_files.is_empty() {
        return Err(ImportError::NotAnExport);
    }
    let mut bot = Bot {
        name: String::new(),
        description: String::new(),
        idle_session_ttl_seconds: 300,
        locales: Vec::new(),
    };
    match bot_file {
        Some((path, bytes)) => {
            let v = parse(path, bytes)?;
            bot.name = text(&v, "name").unwrap_or_default();
            bot.description = text(&v, "description").unwrap_or_default();
            if let Some(ttl) = get(&v, "idleSessionTTLInSeconds").and_then(Value::as_u64) {
                bot.idle_session_ttl_seconds = ttl.clamp(60, 86_400) as u32;
            }
            unmapped_keys(
                &v,
                &[
                    "name",
                    "description",
                    "idleSessionTTLInSeconds",
                    "identifier",
                    "version",
                    "dataPrivacy",
                ],
                "Bot.json",
                &mut report,
            );
        }
        None => report
            .unmapped
            .push("Bot.json: none (a locale export); name the bot".into()),
    }
    for (path, bytes) in locale_files {
        let dir = path.rsplit_once('/').map_or("", |(d, _)| d);
        let v = parse(path, bytes)?;
        let locale_id = text(&v, "identifier")
            .unwrap_or_else(|| dir.rsplit('/').next().unwrap_or("en_US").to_string());
        let at = format!("BotLocales/{locale_id}");
        unmapped_keys(
            &v,
            &[
                "name",
                "identifier",
                "version",
                "description",
                "voiceSettings",
                "nluConfidenceThreshold",
            ],
            &format!("{at}/BotLocale.json"),
            &mut report,
        );
        let mut locale = Locale {
            locale_id: locale_id.clone(),
            nlu_confidence_threshold: get(&v, "nluConfidenceThreshold")
                .and_then(Value::as_f64)
                .unwrap_or(0.4),
            voice_id: get(&v, "voiceSettings").and_then(|s| text(s, "voiceId")),
            code_hook_function: None,
            intents: Vec::new(),
            slot_types: Vec::new(),
        };
        let under = |sub: &str| -> Vec<(&String, &&Vec<u8>)> {
            let prefix = if dir.is_empty() {
                format!("{sub}/")
            } else {
                format!("{dir}/{sub}/")
            };
            files
                .iter()
                .filter(|(p, _)| p.starts_with(&prefix))
                .collect()
        };
        // Slot types first: slots refer to them by name.
        let mut alphanumeric_aliases = BTreeSet::new();
        for (p, b) in under("SlotTypes")
            .into_iter()
            .filter(|(p, _)| file_name(p).eq_ignore_ascii_case("SlotType.json"))
        {
            let t = parse(p, b)?;
            let name = text(&t, "name").unwrap_or_default();
            let tat = format!("{at}/SlotTypes/{name}");
            unmapped_keys(
                &t,
                &[
                    "name",
                    "identifier",
                    "description",
                    "slotTypeValues",
                    "parentSlotTypeSignature",
                    "valueSelectionSetting",
                ],
                &tat,
                &mut report,
            );
            let selection = get(&t, "valueSelectionSetting");
            let strategy = selection
                .and_then(|s| text(s, "resolutionStrategy"))
                .unwrap_or_default();
            let values: Vec<SlotTypeValue> = get(&t, "slotTypeValues")
                .and_then(Value::as_array)
                .map(|vs| {
                    vs.iter()
                        .filter_map(|v| {
                            let value = get(v, "sampleValue").and_then(|s| text(s, "value"))?;
                            let synonyms = get(v, "synonyms")
                                .and_then(Value::as_array)
                                .map(|s| s.iter().filter_map(|x| text(x, "value")).collect())
                                .unwrap_or_default();
                            Some(SlotTypeValue { value, synonyms })
                        })
                        .collect()
                })
                .unwrap_or_default();
            if let Some(pattern) = selection
                .and_then(|s| get(s, "regexFilter"))
                .and_then(|r| text(r, "pattern"))
            {
                report.unmapped.push(format!(
                    "{tat}.valueSelectionSetting.regexFilter: pattern {pattern} is not checked"
                ));
            }
            if values.is_empty() {
                // Lex's AlphaNumeric-based types (a pattern, no values).
                if text(&t, "parentSlotTypeSignature").as_deref() == Some("AMAZON.AlphaNumeric") {
                    alphanumeric_aliases.insert(name.clone());
                    report
                        .mapped
                        .push(format!("slot type {name}: as AMAZON.AlphaNumeric"));
                } else {
                    report.unmapped.push(format!(
                        "{tat}: no values (composite or grammar types are not supported)"
                    ));
                }
                continue;
            }
            let resolution = match strategy.as_str() {
                "TOP_RESOLUTION" | "TopResolution" => Resolution::TopResolution,
                "CONCATENATION" | "Concatenation" => {
                    report.unmapped.push(format!(
                        "{tat}: concatenation resolution is taken as original value"
                    ));
                    Resolution::OriginalValue
                }
                _ => Resolution::OriginalValue,
            };
            report
                .mapped
                .push(format!("slot type {name}: {} values", values.len()));
            locale.slot_types.push(SlotType {
                name,
                description: text(&t, "description").unwrap_or_default(),
                values,
                resolution,
            });
        }
        let intent_files: Vec<_> = under("Intents")
            .into_iter()
            .filter(|(p, _)| file_name(p).eq_ignore_ascii_case("Intent.json"))
            .collect();
        for (p, b) in intent_files {
            let intent_dir = p.rsplit_once('/').map_or("", |(d, _)| d).to_string();
            let iv = parse(p, b)?;
            let name = text(&iv, "name")
                .unwrap_or_else(|| intent_dir.rsplit('/').next().unwrap_or("").to_string());
            let iat = format!("{at}/Intents/{name}");
            let parent = text(&iv, "parentIntentSignature");
            let fallback = parent.as_deref() == Some("AMAZON.FallbackIntent");
            if let Some(parent) = parent.as_deref().filter(|_| !fallback) {
                report.unmapped.push(format!(
                    "{iat}: built-in intent {parent} is imported as a plain intent"
                ));
            }
            unmapped_keys(
                &iv,
                &[
                    "name",
                    "identifier",
                    "description",
                    "parentIntentSignature",
                    "sampleUtterances",
                    "intentConfirmationSetting",
                    "intentClosingSetting",
                    "dialogCodeHook",
                    "fulfillmentCodeHook",
                    "slotPriorities",
                ],
                &iat,
                &mut report,
            );
            let sample_utterances: Vec<String> = get(&iv, "sampleUtterances")
                .and_then(Value::as_array)
                .map(|u| u.iter().filter_map(|x| text(x, "utterance")).collect())
                .unwrap_or_default();
            // Slots: files under this intent, in slotPriorities order.
            let slot_prefix = format!("{intent_dir}/Slots/");
            let mut slots: Vec<Slot> = Vec::new();
            for (sp, sb) in files.iter().filter(|(q, _)| {
                q.starts_with(&slot_prefix) && file_name(q).eq_ignore_ascii_case("Slot.json")
            }) {
                let sv = parse(sp, sb)?;
                let sname = text(&sv, "name").unwrap_or_default();
                let sat = format!("{iat}/Slots/{sname}");
                unmapped_keys(
                    &sv,
                    &[
                        "name",
                        "identifier",
                        "description",
                        "slotTypeName",
                        "valueElicitationSetting",
                        "obfuscationSetting",
                    ],
                    &sat,
                    &mut report,
                );
                let elicit = get(&sv, "valueElicitationSetting")
                    .or_else(|| get(&sv, "slotValueElicitationSetting"))
                    .cloned()
                    .unwrap_or(Value::Null);
                unmapped_keys(
                    &elicit,
                    &["promptSpecification", "slotConstraint"],
                    &format!("{sat}.valueElicitationSetting"),
                    &mut report,
                );
                let prompt_spec = get(&elicit, "promptSpecification")
                    .cloned()
                    .unwrap_or(Value::Null);
                unmapped_keys(
                    &prompt_spec,
                    &[
                        "messageGroupsList",
                        "messageGroups",
                        "maxRetries",
                        "allowInterrupt",
                        "messageSelectionStrategy",
                        "promptAttemptsSpecification",
                    ],
                    &format!("{sat}.promptSpecification"),
                    &mut report,
                );
                let mut slot_type = text(&sv, "slotTypeName").unwrap_or_default();
                if alphanumeric_aliases.contains(&slot_type) {
                    slot_type = BuiltIn::AlphaNumeric.name().into();
                } else if slot_type.starts_with("AMAZON.")
                    && BuiltIn::from_name(&slot_type).is_none()
                {
                    report.unmapped.push(format!("{sat}.slotTypeName: {slot_type} is not built in here; taken as AMAZON.FreeFormInput"));
                    slot_type = BuiltIn::FreeForm.name().into();
                }
                slots.push(Slot {
                    name: sname,
                    slot_type,
                    required: text(&elicit, "slotConstraint").as_deref() == Some("Required"),
                    prompt: message(
                        &prompt_spec,
                        &format!("{sat}.promptSpecification"),
                        &mut report,
                    ),
                    max_retries: get(&prompt_spec, "maxRetries")
                        .and_then(Value::as_u64)
                        .map_or(2, |r| r.min(u64::from(crate::model::MAX_RETRIES)) as u32),
                });
            }
            let priorities: BTreeMap<String, i64> = get(&iv, "slotPriorities")
                .and_then(Value::as_array)
                .map(|ps| {
                    ps.iter()
                        .filter_map(|p| Some((text(p, "slotName")?, get(p, "priority")?.as_i64()?)))
                        .collect()
                })
                .unwrap_or_default();
            slots.sort_by_key(|s| {
                (
                    priorities.get(&s.name).copied().unwrap_or(i64::MAX),
                    s.name.clone(),
                )
            });
            let confirmation = get(&iv, "intentConfirmationSetting")
                .filter(|c| get(c, "isActive").and_then(Value::as_bool).unwrap_or(true))
                .and_then(|c| {
                    let cat = format!("{iat}.intentConfirmationSetting");
                    unmapped_keys(
                        c,
                        &["isActive", "promptSpecification", "declinationResponse"],
                        &cat,
                        &mut report,
                    );
                    let spec = get(c, "promptSpecification")?;
                    Some(Confirmation {
                        prompt: message(spec, &cat, &mut report)?,
                        declination_response: get(c, "declinationResponse").and_then(|d| {
                            message(d, &format!("{cat}.declinationResponse"), &mut report)
                        }),
                        max_retries: get(spec, "maxRetries")
                            .and_then(Value::as_u64)
                            .map_or(2, |r| r.min(u64::from(crate::model::MAX_RETRIES)) as u32),
                    })
                });
            let closing_response = get(&iv, "intentClosingSetting")
                .filter(|c| get(c, "isActive").and_then(Value::as_bool).unwrap_or(true))
                .and_then(|c| {
                    unmapped_keys(
                        c,
                        &["isActive", "closingResponse"],
                        &format!("{iat}.intentClosingSetting"),
                        &mut report,
                    );
                    get(c, "closingResponse")
                        .and_then(|r| message(r, &format!("{iat}.closingResponse"), &mut report))
                });
            let fulfillment = get(&iv, "fulfillmentCodeHook");
            let status = fulfillment.and_then(|f| get(f, "postFulfillmentStatusSpecification"));
            let failure_response = status
                .and_then(|s| get(s, "failureResponse"))
                .and_then(|r| message(r, &format!("{iat}.failureResponse"), &mut report));
            // Lex says the success response after fulfilment; here it is the closing response if there is none.
            let closing_response = closing_response.or_else(|| {
                status
                    .and_then(|s| get(s, "successResponse"))
                    .and_then(|r| message(r, &format!("{iat}.successResponse"), &mut report))
            });
            let dialog_code_hook = get(&iv, "dialogCodeHook")
                .and_then(|d| get(d, "enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            let fulfillment_code_hook = fulfillment
                .and_then(|f| get(f, "enabled"))
                .and_then(Value::as_bool)
                .unwrap_or(false);
            if dialog_code_hook || fulfillment_code_hook {
                report.unmapped.push(format!("{iat}: uses a code hook; name the locale's code hook function (the alias's Lambda is not in an export)"));
            }
            report.mapped.push(format!(
                "intent {name}: {} utterances, {} slots",
                sample_utterances.len(),
                slots.len()
            ));
            locale.intents.push(Intent {
                name,
                description: text(&iv, "description").unwrap_or_default(),
                fallback,
                sample_utterances,
                slots,
                confirmation,
                closing_response,
                failure_response,
                dialog_code_hook,
                fulfillment_code_hook,
            });
        }
        for (p, _) in files
            .iter()
            .filter(|(p, _)| p.starts_with(&format!("{dir}/")) && !p.ends_with(".json"))
        {
            report.unmapped.push(format!("{p}: not read"));
        }
        for (p, _) in files.iter().filter(|(p, _)| {
            file_name(p).eq_ignore_ascii_case("ConversationFlow.json")
                || p.contains("CustomVocabulary")
        }) {
            report.unmapped.push(format!("{p}: not read"));
        }
        locale.intents.sort_by(|a, b| a.name.cmp(&b.name));
        locale.slot_types.sort_by(|a, b| a.name.cmp(&b.name));
        bot.locales.push(locale);
    }
    bot.locales.sort_by(|a, b| a.locale_id.cmp(&b.locale_id));
    report.unmapped.sort();
    report.unmapped.dedup();
    let problems = bot.problems();
    if !problems.is_empty() {
        return Err(ImportError::Invalid(problems));
    }
    Ok((bot, report))
}

fn messages(text: &str) -> Value {
    json!({"messageGroupsList": [{"message": {"plainTextMessage": {"value": text}, "ssmlMessage": null, "customPayload": null, "imageResponseCard": null}, "variations": null}], "allowInterrupt": true})
}

fn pretty(v: &Value) -> Vec<u8> {
    serde_json::to_vec_pretty(v).unwrap_or_default()
}

/// Writes a bot as Lex V2's export files (path inside the zip to bytes).
/// Our own built-in types, which Lex lacks, are written as the nearest Lex type.
pub fn export(bot: &Bot) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let root = &bot.name;
    out.insert("Manifest.json".to_string(), pretty(&json!({"metaData": {"schemaVersion": "1", "fileFormat": "LexJson", "resourceType": "BOT"}})));
    out.insert(
        format!("{root}/Bot.json"),
        pretty(&json!({"name": bot.name, "version": "DRAFT", "description": bot.description, "identifier": null, "dataPrivacy": {"childDirected": false}, "idleSessionTTLInSeconds": bot.idle_session_ttl_seconds})),
    );
    for locale in &bot.locales {
        let dir = format!("{root}/BotLocales/{}", locale.locale_id);
        out.insert(
            format!("{dir}/BotLocale.json"),
            pretty(&json!({"name": locale.locale_id, "identifier": locale.locale_id, "version": null, "description": null,
                "voiceSettings": locale.voice_id.as_ref().map(|v| json!({"voiceId": v, "engine": "neural"})),
                "nluConfidenceThreshold": locale.nlu_confidence_threshold})),
        );
        for t in &locale.slot_types {
            let values: Vec<Value> = t
                .values
                .iter()
                .map(|v| json!({"sampleValue": {"value": v.value}, "synonyms": if v.synonyms.is_empty() { Value::Null } else { Value::Array(v.synonyms.iter().map(|s| json!({"value": s})).collect()) }}))
                .collect();
            let strategy = match t.resolution {
                Resolution::TopResolution => "TOP_RESOLUTION",
                Resolution::OriginalValue => "ORIGINAL_VALUE",
            };
            out.insert(
                format!("{dir}/SlotTypes/{}/SlotType.json", t.name),
                pretty(&json!({"name": t.name, "identifier": null, "description": t.description, "slotTypeValues": values, "parentSlotTypeSignature": null,
                    "valueSelectionSetting": {"regexFilter": null, "resolutionStrategy": strategy}})),
            );
        }
        for i in &locale.intents {
            let idir = format!("{dir}/Intents/{}", i.name);
            let mut intent = Map::new();
            intent.insert("name".into(), json!(i.name));
            intent.insert(
                "identifier".into(),
                if i.fallback {
                    json!("FALLBCKINT")
                } else {
                    Value::Null
                },
            );
            intent.insert("description".into(), json!(i.description));
            intent.insert(
                "parentIntentSignature".into(),
                if i.fallback {
                    json!("AMAZON.FallbackIntent")
                } else {
                    Value::Null
                },
            );
            intent.insert(
                "sampleUtterances".into(),
                if i.fallback {
                    Value::Null
                } else {
                    Value::Array(
                        i.sample_utterances
                            .iter()
                            .map(|u| json!({"utterance": u}))
                            .collect(),
                    )
                },
            );
            intent.insert(
                "intentConfirmationSetting".into(),
                i.confirmation.as_ref().map_or(Value::Null, |c| {
                    let mut prompt = messages(&c.prompt);
                    prompt["maxRetries"] = json!(c.max_retries);
                    json!({"isActive": true, "promptSpecification": prompt, "declinationResponse": c.declination_response.as_deref().map(messages)})
                }),
            );
            intent.insert(
                "intentClosingSetting".into(),
                i.closing_response.as_deref().map_or(
                    Value::Null,
                    |c| json!({"isActive": true, "closingResponse": messages(c)}),
                ),
            );
            intent.insert(
                "dialogCodeHook".into(),
                if i.fallback {
                    Value::Null
                } else {
                    json!({"enabled": i.dialog_code_hook})
                },
            );
            intent.insert(
                "fulfillmentCodeHook".into(),
                json!({"enabled": i.fulfillment_code_hook, "postFulfillmentStatusSpecification": i.failure_response.as_deref().map(|f| json!({"successResponse": null, "failureResponse": messages(f), "timeoutResponse": null}))}),
            );
            intent.insert(
                "slotPriorities".into(),
                Value::Array(
                    i.slots
                        .iter()
                        .enumerate()
                        .map(|(n, s)| json!({"priority": n + 1, "slotName": s.name}))
                        .collect(),
                ),
            );
            out.insert(
                format!("{idir}/Intent.json"),
                pretty(&Value::Object(intent)),
            );
            for s in &i.slots {
                let lex_type = match BuiltIn::from_name(&s.slot_type) {
                    Some(BuiltIn::Digits) => BuiltIn::AlphaNumeric.name(),
                    Some(BuiltIn::Currency) => BuiltIn::Number.name(),
                    _ => s.slot_type.as_str(),
                };
                let mut prompt = s.prompt.as_deref().map(messages).unwrap_or(Value::Null);
                if !prompt.is_null() {
                    prompt["maxRetries"] = json!(s.max_retries);
                }
                out.insert(
                    format!("{idir}/Slots/{}/Slot.json", s.name),
                    pretty(&json!({"name": s.name, "identifier": null, "description": null, "slotTypeName": lex_type, "obfuscationSetting": null,
                        "valueElicitationSetting": {"promptSpecification": prompt, "slotConstraint": if s.required { "Required" } else { "Optional" },
                            "defaultValueSpecification": null, "sampleUtterances": null, "waitAndContinueSpecification": null},
                        "multipleValuesSetting": null})),
                );
            }
        }
    }
    out
}
