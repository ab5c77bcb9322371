//! The `switchboard` command.
//!
//! `switchboard serve` runs a whole contact centre from one process. With no
//! options it keeps everything under `./data` (an SQLite database and a blob
//! folder) and listens on 127.0.0.1:8080; `--database-url postgres://...`
//! and a TOML `--config` file move it onto production parts.

mod bot_cli;
mod config;
mod flow_cli;
mod redact;

use std::path::PathBuf;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use switchboard_runtime::{AppState, Settings};
use switchboard_server::bootstrap;
use switchboard_store::{Blobs, Store};

#[derive(Parser)]
#[command(
    name = "switchboard",
    version,
    about = "A self-hosted omni-channel contact centre"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server.
    Serve(ServeArgs),
    /// Work with contact flow files: validate, simulate.
    #[command(subcommand)]
    Flow(flow_cli::FlowCommand),
}

#[derive(Args, Debug, Default)]
pub struct ServeArgs {
    /// TOML configuration file; command-line options override it.
    #[arg(long, env = "SWITCHBOARD_CONFIG")]
    pub config: Option<PathBuf>,
    /// Folder for the SQLite database and stored files [default: ./data].
    #[arg(long, env = "SWITCHBOARD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    /// Database URL: sqlite://... or postgres://... [default: SQLite in the data folder].
    #[arg(long, env = "SWITCHBOARD_DATABASE_URL")]
    pub database_url: Option<String>,
    /// Address for HTTP [default: 127.0.0.1:8080].
    #[arg(long, env = "SWITCHBOARD_LISTEN")]
    pub listen: Option<String>,
    /// Address for SIP, UDP and TCP [default: 127.0.0.1:5060].
    #[arg(long, env = "SWITCHBOARD_SIP_LISTEN")]
    pub sip_listen: Option<String>,
    /// Seed a demo centre: a number, an inbound flow, two queues, a routing profile, two agents.
    #[arg(long)]
    pub demo: bool,
}

fn main() -> std::process::ExitCode {
    match run() {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

#[tokio::main]
async fn run() -> anyhow::Result<()> {
    // The SIP stack logs whole messages at info: they stay out unless asked for.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| "info,sqlx=warn,rsipstack=warn,tower_http=info".into());
    let writer = || redact::Redacting;
    // SWITCHBOARD_LOG_FORMAT=json: one JSON object per line, for log shippers.
    if std::env::var("SWITCHBOARD_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        tracing_subscriber::fmt()
            .json()
            .with_env_filter(filter)
            .with_writer(writer)
            .init();
    } else {
        tracing_subscriber::fmt()
            .with_env_filter(filter)
            .with_writer(writer)
            .init();
    }
    match Cli::parse().command {
        Command::Serve(args) => serve(args).await,
        Command::Flow(cmd) => flow_cli::run(cmd),
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let cfg = config::Config::resolve(&args)?;
    // Calls, chats and the CCP hold many sockets: take every descriptor
    // allowed, and give HTTP at most half of them (SIP over TCP and TLS an eighth).
    let descriptors = switchboard_runtime::limits::raise_descriptor_limit();
    let mut http_limits = switchboard_runtime::limits::Limits::for_descriptors(descriptors);
    if let Some(n) = cfg.http_connections_per_address {
        http_limits.per_address = n.min(http_limits.total);
    }
    tracing::info!(descriptors, ?http_limits, "connection limits");
    std::fs::create_dir_all(&cfg.data_dir)
        .with_context(|| format!("creating the data folder {}", cfg.data_dir.display()))?;
    let store = Store::connect(&cfg.database_url)
        .await
        .with_context(|| format!("opening the database {}", config::redact(&cfg.database_url)))?;
    let blobs = match &cfg.s3 {
        Some(s3) => {
            let blobs = Blobs::s3(s3).context("opening blob storage")?;
            blobs.check().await.context("reaching blob storage")?;
            blobs
        }
        None => Blobs::local(&cfg.blob_dir)
            .with_context(|| format!("opening blob storage at {}", cfg.blob_dir.display()))?,
    };

    bootstrap::ensure_defaults(&store).await?;
    bootstrap::ensure_connect_prompts(&store, &blobs).await?;
    let admin_password = std::env::var("SWITCHBOARD_ADMIN_PASSWORD")
        .ok()
        .filter(|p| !p.is_empty());
    if let Some(account) = bootstrap::ensure_admin(&store, admin_password).await? {
        announce(&account, "administrator");
    }
    if args.demo {
        for account in bootstrap::seed_demo(&store).await? {
            announce(&account, "demo agent");
        }
        println!(
            "Demo centre ready: calls to {} run the flow '{}'.",
            bootstrap::DEMO_NUMBER,
            bootstrap::DEMO_FLOW
        );
    }

    let state = AppState {
        store: store.clone(),
        blobs,
        functions: Default::default(),
        login_throttle: Default::default(),
        routing: switchboard_runtime::routing::start_with(
            store.clone(),
            std::time::Duration::from_secs(cfg.offer_timeout_seconds),
        )
        .await
        .map_err(|e| anyhow::anyhow!("starting the router: {e}"))?,
        settings: std::sync::Arc::new(Settings {
            session_ttl: chrono::Duration::hours(cfg.session_hours),
            rate_card: cfg.rate_card.clone(),
            instance_name: cfg.instance_name.clone(),
            ..Settings::default()
        }),
        metrics: Default::default(),
        trunk_registrations: Default::default(),
    };
    let chat = switchboard_webchat::ChatHub::new(switchboard_webchat::ChatSettings {
        starts_per_minute: cfg.chat_starts_per_minute,
        allowed_origins: cfg.chat_allowed_origins.clone(),
        limits: switchboard_webchat::Limits {
            idle_warning_ms: cfg.chat_idle_warning_seconds * 1000,
            idle_disconnect_ms: cfg.chat_idle_disconnect_seconds * 1000,
            ..Default::default()
        },
        default_duration: std::time::Duration::from_secs(cfg.chat_duration_minutes * 60),
        ..Default::default()
    });
    let mut voice_config = switchboard_voice::VoiceConfig::local(cfg.sip_listen);
    voice_config.media_ip = cfg.media_ip;
    voice_config.media_ip_other = cfg.media_ip_other;
    voice_config.sip_listen_other = cfg.sip_listen_other;
    voice_config.dns_servers = cfg.dns_servers.clone();
    voice_config.tls = cfg.sip_tls.clone();
    voice_config.rtp_ports = cfg.rtp_ports;
    voice_config.ccp_grace = std::time::Duration::from_secs(cfg.ccp_grace_seconds);
    voice_config.metrics_token = cfg.metrics_token.clone();
    voice_config.registration = cfg.sip_registration;
    voice_config.feature_codes = cfg.feature_codes.clone();
    voice_config.speech = cfg.speech.clone();
    voice_config.media_streaming = cfg.media_streaming.clone();
    voice_config.stream_limits =
        switchboard_voice::transport::StreamLimits::for_descriptors(descriptors);
    if let Some(n) = cfg.sip_connections_per_address {
        voice_config.stream_limits.per_address = n.min(voice_config.stream_limits.total);
    }
    let voice = switchboard_voice::start(state.clone(), voice_config)
        .await
        .map_err(|e| anyhow::anyhow!("starting SIP: {e}"))?;
    println!(
        "SIP (trunks and desk phones) on {} UDP and TCP",
        voice.local_sip()
    );
    if let Err(e) = voice.library().speech_ready().await {
        eprintln!(
            "warning: text-to-speech is not available: {e}.\n  \
             Flows cannot speak text (Text and SSML prompts, queue positions): \
             calls take the flow's error branch there instead.\n  \
             Install espeak-ng (Debian/Ubuntu: apt-get install espeak-ng) and restart."
        );
        tracing::warn!("text-to-speech not available: {e}");
    }
    match voice.recogniser() {
        None => println!("Speech recognition is off: bots talk in chats only"),
        Some(recogniser) => {
            if let Err(e) = recogniser.ready().await {
                eprintln!(
                    "warning: speech recognition is not available: {e}.\n  \
                     Calls that reach a bot take the flow's error branch.\n  \
                     Install PocketSphinx (Debian/Ubuntu: apt-get install libpocketsphinx3 \
                     pocketsphinx-en-us), or configure [speech] engine = \"openai-compatible\"."
                );
                tracing::warn!("speech recognition not available: {e}");
            }
        }
    }
    let listener = tokio::net::TcpListener::bind(&cfg.listen)
        .await
        .with_context(|| format!("listening on {}", cfg.listen))?;
    let addr = listener.local_addr()?;
    // Printed before the "listening" line: whoever waits for that line may stop reading.
    println!("Start here: http://{addr}/ (console, flow designer, Contact Control Panel, reports, chat sample)");
    println!("Agents: the Contact Control Panel is at http://{addr}/ccp");
    println!("Switchboard is listening on http://{addr} (API: http://{addr}/api/v1, OpenAPI: http://{addr}/api/v1/openapi.json)");
    tracing::info!(%addr, database = ?store.backend(), data_dir = %cfg.data_dir.display(), "serving");
    let app = switchboard_server::app(state, chat.clone())
        .merge(switchboard_ccp::routes(voice.clone(), chat))
        .merge(switchboard_voice::metrics::routes(voice.clone()));
    switchboard_server::listen::serve(listener, app, http_limits, shutdown_signal()).await;
    voice.shutdown();
    store.close().await;
    Ok(())
}

/// Prints a new account's password once; it is never shown again.
fn announce(account: &bootstrap::NewAccount, what: &str) {
    match &account.generated_password {
        Some(pw) => println!(
            "Created {what} '{}' with password: {pw}  (shown once; change it after signing in)",
            account.username
        ),
        None => println!(
            "Created {what} '{}' with the password from SWITCHBOARD_ADMIN_PASSWORD",
            account.username
        ),
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            s.recv().await;
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
    tracing::info!("shutting down");
}
