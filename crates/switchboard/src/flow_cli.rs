//! `switchboard flow validate` and `switchboard flow simulate`: the flow
//! language from the command line, with no server or database.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use serde_json::Value;
use std::io::Write;

use switchboard_flow::simulate::{simulate, FeatureAnswer, Keypress, Report, Script};
use switchboard_flow::{
    check, ContactData, Effect, Flow, FlowType, Outcome, Problem, Rendered, Severity,
};
use switchboard_model::HoursOfOperation;

#[derive(Subcommand)]
pub(crate) enum FlowCommand {
    /// Check flow files; exits non-zero if any has an error, listing every problem.
    Validate {
        /// Flow JSON files (bare, or Connect's export wrapper).
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Flow type for files that do not say (bare flows).
        #[arg(long = "type", default_value = "CONTACT_FLOW")]
        flow_type: String,
    },
    /// Run a flow against scripted answers and print the path it takes.
    Simulate(Box<SimulateArgs>),
}

#[derive(Args)]
pub(crate) struct SimulateArgs {
    /// The flow file.
    file: PathBuf,
    /// Flow type, if the file does not say.
    #[arg(long = "type", default_value = "CONTACT_FLOW")]
    flow_type: String,
    /// Keys pressed at each input in turn (`timeout` for none). Repeatable.
    #[arg(long = "digits")]
    digits: Vec<String>,
    /// Intents the bot recognises in turn, without a real bot. Repeatable.
    #[arg(long = "intent")]
    intents: Vec<String>,
    /// A bot to talk to: a Lex V2 export (its .zip or its unzipped
    /// folder) or a Switchboard bot (JSON, as the API takes it).
    #[arg(long)]
    bot: Option<PathBuf>,
    /// What the customer says to the bot, turn by turn. Repeatable.
    #[arg(long = "say")]
    says: Vec<String>,
    /// A contact attribute, `key=value`. Repeatable.
    #[arg(long = "attr")]
    attrs: Vec<String>,
    /// An external function's answer: `NAME=response.json`, or `NAME=fail`. Repeatable.
    #[arg(long = "function")]
    functions: Vec<String>,
    /// The time of the call (RFC 3339) for hours checks [default: now].
    #[arg(long)]
    now: Option<String>,
    /// Hours of operation (JSON, as the API takes them) that hours checks use.
    #[arg(long)]
    hours: Option<PathBuf>,
    /// Answer every hours check "closed" (without --hours: "open").
    #[arg(long)]
    closed: bool,
    /// A queue that is full. Repeatable.
    #[arg(long = "full")]
    full: Vec<String>,
    /// A metric's value, `NAME=number`. Repeatable.
    #[arg(long = "metric")]
    metrics: Vec<String>,
    /// A flow module file the flow may invoke (named by its Name or file stem). Repeatable.
    #[arg(long = "module")]
    modules: Vec<PathBuf>,
    /// The caller's number.
    #[arg(long, default_value = "+447700900123")]
    from: String,
    /// The number called.
    #[arg(long, default_value = "+442079460123")]
    to: String,
    /// VOICE or CHAT.
    #[arg(long, default_value = "VOICE")]
    channel: String,
    /// Seed for DistributeByPercentage.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// What a ShowView returns (the view's action the agent picks, e.g. `Next`).
    #[arg(long = "view-action")]
    view_action: Option<String>,
    /// How customer-profile actions answer: `found`, `none` or `multiple`
    /// [default: Customer Profiles is not enabled: their error branch].
    #[arg(long)]
    profile: Option<String>,
    /// How a feature's action answers as if the feature ran: `TYPE=ok`,
    /// `TYPE=result:<what its conditions test>` or `TYPE=error:<ErrorType>`
    /// [default: not enabled, its error branch]. Repeatable.
    #[arg(long = "feature")]
    features: Vec<String>,
    /// Print the report as JSON.
    #[arg(long)]
    json: bool,
}

/// Writes to stdout; a reader that went away (`| head`) ends the output
/// quietly instead of a panic.
fn out(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => Err(e).context("writing to stdout"),
    }
}

fn flow_type(s: &str) -> anyhow::Result<FlowType> {
    FlowType::parse(s).with_context(|| {
        let all: Vec<_> = FlowType::ALL.iter().map(|t| t.as_str()).collect();
        format!("unknown flow type '{s}'; use one of {}", all.join(", "))
    })
}

/// Reads, parses and validates a flow file, printing its problems.
fn load(path: &Path, default_type: FlowType) -> anyhow::Result<(Option<Flow>, Vec<Problem>)> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(check(&text, default_type))
}

fn print_problems(path: &Path, problems: &[Problem]) -> anyhow::Result<()> {
    for p in problems {
        out(&format!("{}: {p}\n", path.display()))?;
    }
    Ok(())
}

pub(crate) fn run(cmd: FlowCommand) -> anyhow::Result<()> {
    match cmd {
        FlowCommand::Validate {
            files,
            flow_type: ft,
        } => {
            let ft = flow_type(&ft)?;
            let mut failed = 0;
            for file in &files {
                let (_, problems) = load(file, ft)?;
                print_problems(file, &problems)?;
                let errors = problems
                    .iter()
                    .filter(|p| p.severity == Severity::Error)
                    .count();
                if errors > 0 {
                    failed += 1;
                } else {
                    out(&format!("{}: valid\n", file.display()))?;
                }
            }
            if failed > 0 {
                bail!("{failed} of {} flows have errors", files.len());
            }
            Ok(())
        }
        FlowCommand::Simulate(args) => simulate_cmd(*args),
    }
}

fn pair<'a>(s: &'a str, what: &str) -> anyhow::Result<(&'a str, &'a str)> {
    s.split_once('=')
        .with_context(|| format!("{what} '{s}' must be NAME=VALUE"))
}

fn simulate_cmd(args: SimulateArgs) -> anyhow::Result<()> {
    let ft = flow_type(&args.flow_type)?;
    let (flow, problems) = load(&args.file, ft)?;
    if problems.iter().any(|p| p.severity == Severity::Error) || flow.is_none() {
        print_problems(&args.file, &problems)?;
        bail!("the flow has errors; fix them before simulating");
    }
    let flow = Arc::new(flow.expect("checked above"));

    let mut script = Script {
        keypresses: args.digits.iter().map(|d| Keypress::parse(d)).collect(),
        intents: args.intents.iter().cloned().collect(),
        full_queues: args.full.iter().cloned().collect(),
        ..Script::default()
    };
    for f in &args.functions {
        let (name, source) = pair(f, "--function")?;
        let response = if source == "fail" {
            None
        } else {
            let text =
                std::fs::read_to_string(source).with_context(|| format!("reading {source}"))?;
            let value: Value =
                serde_json::from_str(&text).with_context(|| format!("{source} is not JSON"))?;
            let Value::Object(map) = value else {
                bail!("{source} must hold a JSON object of key/value pairs")
            };
            Some(map.into_iter().collect::<BTreeMap<_, _>>())
        };
        script.functions.insert(name.to_string(), response);
    }
    for m in &args.metrics {
        let (name, value) = pair(m, "--metric")?;
        script.metrics.insert(
            name.to_string(),
            value
                .parse()
                .with_context(|| format!("--metric {name}: not a number"))?,
        );
    }
    for path in &args.modules {
        let (module, problems) = load(path, FlowType::Module)?;
        let Some(module) =
            module.filter(|_| !problems.iter().any(|p| p.severity == Severity::Error))
        else {
            print_problems(path, &problems)?;
            bail!("the module {} has errors", path.display());
        };
        let name = module.name.clone().unwrap_or_else(|| {
            path.file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .to_string()
        });
        script.modules.insert(name, Arc::new(module));
    }
    let now = match &args.now {
        Some(t) => chrono::DateTime::parse_from_rfc3339(t)
            .with_context(|| format!("--now '{t}' is not an RFC 3339 time"))?
            .with_timezone(&chrono::Utc),
        None => chrono::Utc::now(),
    };
    if let Some(path) = &args.hours {
        let text =
            std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut hours: HoursOfOperation = serde_json::from_str(&text)
            .with_context(|| format!("{} is not hours of operation", path.display()))?;
        if let Err(errors) = switchboard_model::ConfigSpec::validate(&mut hours) {
            bail!("{}: {errors:?}", path.display());
        }
        let open = hours.is_open(now) && !args.closed;
        script.hours = Some(Box::new(move |_| open));
    } else if args.closed {
        script.hours = Some(Box::new(|_| false));
    }

    let mut contact = ContactData::voice("simulated", &args.from, &args.to);
    contact.channel = args.channel.to_uppercase();
    for a in &args.attrs {
        let (k, v) = pair(a, "--attr")?;
        contact.attributes.insert(k.to_string(), v.to_string());
    }
    feature_answers(&args, &mut script)?;
    let conversation = Arc::new(std::sync::Mutex::new(Vec::new()));
    if let Some(path) = &args.bot {
        let engine = crate::bot_cli::load_engine(path)?;
        script.bot = Some(crate::bot_cli::conversation(
            engine,
            args.says.clone(),
            now.date_naive(),
            conversation.clone(),
        ));
    } else if !args.says.is_empty() {
        bail!("--say needs --bot: the bot to say it to");
    }
    let report = simulate(flow, contact, &mut script, args.seed);
    if args.json {
        out(&format!("{}\n", serde_json::to_string_pretty(&report)?))
    } else {
        let lines = conversation.lock().map(|l| l.clone()).unwrap_or_default();
        let mut text = String::new();
        for line in lines {
            text.push_str(&line);
            text.push('\n');
        }
        out(&(text + &text_report(&report)))
    }
}

/// The actions of Customer Profiles, which `--profile` answers.
const PROFILE_ACTIONS: &[&str] = &[
    "GetCustomerProfile",
    "CreateCustomerProfile",
    "UpdateCustomerProfile",
    "AssociateContactToCustomerProfile",
    "GetCustomerProfileObject",
    "GetCalculatedAttributesForCustomerProfile",
];

fn feature_answers(args: &SimulateArgs, script: &mut Script) -> anyhow::Result<()> {
    if let Some(action) = &args.view_action {
        script.features.insert(
            "ShowView".into(),
            FeatureAnswer::Ran {
                result: Some(action.clone()),
                data: Some(serde_json::json!({"Action": action, "ViewResultData": {}})),
            },
        );
    }
    if let Some(profile) = &args.profile {
        for action in PROFILE_ACTIONS {
            let answer = match profile.as_str() {
                "found" => FeatureAnswer::Ran {
                    result: None,
                    data: Some(serde_json::json!({"ProfileId": "simulated-profile"})),
                },
                "none" if action.starts_with("Get") => {
                    FeatureAnswer::Error("NoneFoundError".into())
                }
                "multiple" if *action == "GetCustomerProfile" => {
                    FeatureAnswer::Error("MultipleFoundError".into())
                }
                "none" | "multiple" => FeatureAnswer::Ran {
                    result: None,
                    data: None,
                },
                other => bail!("--profile '{other}': use found, none or multiple"),
            };
            script.features.insert((*action).into(), answer);
        }
    }
    for f in &args.features {
        let (action, answer) = pair(f, "--feature")?;
        let answer = if answer == "ok" {
            FeatureAnswer::Ran {
                result: None,
                data: None,
            }
        } else if let Some(result) = answer.strip_prefix("result:") {
            FeatureAnswer::Ran {
                result: Some(result.into()),
                data: None,
            }
        } else if let Some(error) = answer.strip_prefix("error:") {
            FeatureAnswer::Error(error.into())
        } else {
            bail!("--feature {action}: answer ok, result:<value> or error:<ErrorType>")
        };
        script.features.insert(action.into(), answer);
    }
    Ok(())
}

fn rendered(m: &Rendered) -> String {
    match m {
        Rendered::Text(t) => format!("\"{t}\""),
        Rendered::Ssml(s) => format!("SSML {s}"),
        Rendered::Prompt(p) => format!("prompt {p}"),
    }
}

fn effect_line(e: &Effect) -> String {
    match e {
        Effect::Play { message, voice } => format!("play {} (voice {voice})", rendered(message)),
        Effect::GetInput {
            prompt,
            timeout_seconds,
            max_digits,
            terminator,
            ..
        } => format!(
            "collect up to {max_digits} digit(s){} within {timeout_seconds}s{}",
            terminator
                .as_ref()
                .map(|t| format!(" ending with {t}"))
                .unwrap_or_default(),
            prompt
                .as_ref()
                .map(|p| format!(", after {}", rendered(p)))
                .unwrap_or_default()
        ),
        Effect::PlayLoop {
            messages,
            interrupt_seconds,
            ..
        } => format!(
            "play in a loop: {}{}",
            messages.iter().map(rendered).collect::<Vec<_>>().join(", "),
            interrupt_seconds
                .map(|s| format!(" (interrupt every {s}s)"))
                .unwrap_or_default()
        ),
        Effect::StartBot { bot, .. } => format!("start bot {bot}"),
        Effect::InvokeFunction {
            function,
            parameters,
            timeout_seconds,
            ..
        } => format!("invoke function {function} {parameters:?} (timeout {timeout_seconds}s)"),
        Effect::CheckHours { hours, queue } => format!(
            "check hours {}",
            hours
                .clone()
                .or(queue.clone().map(|q| format!("of queue {q}")))
                .unwrap_or_default()
        ),
        Effect::QueryMetric { metric, queue } => {
            format!("read {metric} of {}", queue.clone().unwrap_or_default())
        }
        Effect::ResolveQueue { queue, agent } => format!(
            "set target queue {}",
            queue.clone().or(agent.clone()).unwrap_or_default()
        ),
        Effect::Enqueue {
            queue, priority, ..
        } => format!(
            "enqueue in {}{}",
            queue.name,
            priority
                .map(|p| format!(" (priority {p})"))
                .unwrap_or_default()
        ),
        Effect::TransferToNumber { number, .. } => format!("call {number}"),
        Effect::TransferToFlow { flow } => format!("transfer to flow {flow}"),
        Effect::LoadModule { module } => format!("run module {module}"),
        Effect::StartTimer { seconds, .. } => format!("wait {seconds}s"),
        Effect::SetVoice { voice } => format!("set voice {voice}"),
        Effect::SetRecording { participants } => format!(
            "record {}",
            if participants.is_empty() {
                "nobody".into()
            } else {
                participants.join(" and ")
            }
        ),
        Effect::SetMediaStreaming { directions } => match directions {
            None => "stop media streaming".into(),
            Some(d) => format!(
                "stream {}",
                match (d.from_customer, d.to_customer) {
                    (true, true) => "what the customer says and hears",
                    (true, false) => "what the customer says",
                    _ => "what the customer hears",
                }
            ),
        },
        Effect::SetEventHook { hook, flow } => format!("set {hook} flow to {flow}"),
        Effect::SetRoutingBehavior {
            priority,
            time_adjustment_seconds,
        } => format!("routing: priority {priority:?}, time adjustment {time_adjustment_seconds:?}"),
        Effect::SetLogging { enabled } => {
            format!("flow logging {}", if *enabled { "on" } else { "off" })
        }
        Effect::GetMetrics { queue, agent, .. } => format!(
            "read queue metrics of {}",
            queue.clone().or(agent.clone()).unwrap_or_default()
        ),
        Effect::Feature {
            action_type,
            feature,
            ..
        } => format!("{action_type} ({feature})"),
        Effect::ContactDataChanged => "contact data changed".into(),
        Effect::Disconnect => "disconnect".into(),
        Effect::End => "end flow".into(),
    }
}

/// The human-readable report.
pub(crate) fn text_report(r: &Report) -> String {
    let mut out = String::from("Path:\n");
    for (i, s) in r.path.iter().enumerate() {
        out.push_str(&format!(
            "  {:>2}. {} [{}] -> {}\n",
            i + 1,
            s.action,
            s.action_type,
            s.branch
        ));
    }
    out.push_str("Effects:\n");
    for e in &r.effects {
        out.push_str(&format!("  - {}\n", effect_line(e)));
    }
    let outcome = match (&r.outcome, &r.stopped) {
        (Some(Outcome::Queued { queue }), _) => format!("queued in {}", queue.name),
        (Some(Outcome::Disconnected), _) => "disconnected".into(),
        (Some(Outcome::Ended), _) => "flow ended".into(),
        (Some(Outcome::TransferredToNumber { number }), _) => format!("transferred to {number}"),
        (Some(Outcome::TransferredToFlow { flow }), _) => format!("transferred to flow {flow}"),
        (Some(Outcome::CustomerHungUp), _) => "customer hung up".into(),
        (Some(Outcome::Failed { action, reason }), _) => {
            format!("failed at {}: {reason}", action.clone().unwrap_or_default())
        }
        (None, Some(why)) => format!("still running ({why})"),
        (None, None) => "still running".into(),
    };
    out.push_str(&format!("Outcome: {outcome}\n"));
    if !r.contact.attributes.is_empty() {
        out.push_str(&format!("Attributes: {:?}\n", r.contact.attributes));
    }
    out
}
