//! Where settings come from: command line, then environment (clap reads
//! both), then the TOML file, then the embedded defaults.

use std::path::{Path, PathBuf};

use anyhow::Context;
use serde::Deserialize;

use crate::ServeArgs;

/// The TOML file's shape. Every key is optional.
///
/// ```toml
/// listen = "0.0.0.0:8080"
/// data_dir = "/var/lib/switchboard"
/// database_url = "postgres://switchboard@db/switchboard"
/// blob_dir = "/srv/switchboard/blobs"          # files (prompts, recordings), unless [s3] is set
/// instance_name = "Acme support"       # what the pages call this instance (default: Switchboard)
/// session_hours = 12
/// offer_timeout_seconds = 20
/// sip_listen = "0.0.0.0:5060"          # UDP and TCP
/// sip_listen_other = "[::]"             # SIP in the other IP family too (dual stack), same port
/// media_ip = "203.0.113.10"             # RTP sockets and SDP
/// media_ip_other = "2001:db8::10"       # media address of the other IP family (dual stack)
/// dns_servers = ["192.0.2.53"]          # DNS for carriers' SIP servers, "ip" or "ip:port" (default: the system's)
/// sip_tls_listen = "0.0.0.0:5061"       # SIP over TLS (all three keys or none)
/// sip_tls_cert = "/etc/switchboard/sip.pem"
/// sip_tls_key = "/etc/switchboard/sip.key"
/// rtp_port_min = 10000                  # RTP port range for firewalls
/// rtp_port_max = 20000
/// ccp_grace_seconds = 30                # an agent's CCP away this long: unroutable
/// chat_starts_per_minute = 30           # chats one address may start (raise behind a proxy)
/// http_connections_per_address = 512    # open HTTP connections one client address may hold
/// sip_connections_per_address = 200     # open SIP TCP/TLS connections one address may hold (phones behind one NAT)
/// sip_registration_min_seconds = 60     # shorter REGISTER intervals get 423 Interval Too Brief
/// sip_registration_max_seconds = 3600   # longer ones are cut to this
/// sip_devices_per_agent = 10            # phones one agent may register at once (all ring)
/// feature_codes = { "*1" = "Available", "*0" = "Offline" }  # desk-phone codes -> agent status
/// metrics_token = "a long random secret" # /metrics then needs Authorization: Bearer <token>
/// chat_allowed_origins = ["https://www.example.com"]  # sites that may embed the chat widget (default: any)
/// chat_idle_warning_seconds = 300       # a customer who owes a reply this long is warned...
/// chat_idle_disconnect_seconds = 600    # ...and disconnected once it has been this long
/// chat_duration_minutes = 1500          # a chat's longest life when the start request does not say
///
/// [s3]                                  # files in an S3-compatible bucket instead of blob_dir
/// bucket = "switchboard-recordings"
/// region = "eu-west-2"                  # default: AWS_REGION, else us-east-1
/// endpoint = "http://127.0.0.1:9000"    # another S3-compatible service; default Amazon S3
/// path_style = true                     # bucket in the path, as most self-hosted services want
/// # access_key_id / secret_access_key: default AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY
///
/// [speech]                              # the speech recogniser bots on calls use
/// engine = "on-box"                     # default: PocketSphinx (Debian's libpocketsphinx3, pocketsphinx-en-us);
///                                       # or "openai-compatible" (with url), or "off" (calls cannot talk to bots)
/// # model_dir = "/usr/share/pocketsphinx/model/en-us"
/// url = "http://127.0.0.1:8178"         # an OpenAI-compatible server: POST /v1/audio/transcriptions
/// model = "whisper-1"                   # its model field (local servers often ignore it)
/// language = "en"
/// # api_key = "..."                     # a bearer token, for hosted services
/// timeout_seconds = 10                  # one utterance's longest wait
/// max_concurrent = 8                    # recognitions at once; more callers are asked again
///
/// [media_streaming]                     # where UpdateContactMediaStreamingBehavior streams calls' audio (README: Media streaming)
/// url = "ws://127.0.0.1:9100/stream"    # ws:// or wss://; none: the block takes its error branch
/// # token = "..."                       # sent as Authorization: Bearer
/// sample_rate = 8000                    # or 16000
/// max_streams = 100                     # at once on this node
/// connect_timeout_seconds = 5
///
/// [rate_card]                           # prices for usage reports (default: Connect's UK rates)
/// currency = "USD"
/// voice_service_per_minute = 0.0018
/// chat_per_message = 0.004
/// numbers = [
///   { country = "GB", number_type = "DID", inbound_per_minute = 0.004, per_day = 0.03 },
///   # and, say, your carrier's prices: { country = "US", number_type = "TOLL_FREE", inbound_per_minute = ..., per_day = ... },
/// ]
/// ```
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listen: Option<String>,
    data_dir: Option<PathBuf>,
    database_url: Option<String>,
    blob_dir: Option<PathBuf>,
    session_hours: Option<i64>,
    offer_timeout_seconds: Option<u64>,
    sip_listen: Option<String>,
    sip_listen_other: Option<String>,
    media_ip: Option<String>,
    media_ip_other: Option<String>,
    #[serde(default)]
    dns_servers: Vec<String>,
    /// SIP over TLS: all three or none.
    sip_tls_listen: Option<String>,
    sip_tls_cert: Option<PathBuf>,
    sip_tls_key: Option<PathBuf>,
    /// RTP ports, inclusive (both or neither).
    rtp_port_min: Option<u16>,
    rtp_port_max: Option<u16>,
    ccp_grace_seconds: Option<u64>,
    chat_starts_per_minute: Option<usize>,
    http_connections_per_address: Option<usize>,
    sip_connections_per_address: Option<usize>,
    sip_registration_min_seconds: Option<u32>,
    sip_registration_max_seconds: Option<u32>,
    sip_devices_per_agent: Option<usize>,
    feature_codes: Option<std::collections::BTreeMap<String, String>>,
    metrics_token: Option<String>,
    chat_allowed_origins: Option<Vec<String>>,
    chat_idle_warning_seconds: Option<u64>,
    chat_idle_disconnect_seconds: Option<u64>,
    chat_duration_minutes: Option<u64>,
    rate_card: Option<switchboard_reports::usage::RateCard>,
    instance_name: Option<String>,
    s3: Option<switchboard_store::S3Config>,
    speech: Option<SpeechFile>,
    media_streaming: Option<StreamingFile>,
}

/// The `[media_streaming]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct StreamingFile {
    url: String,
    token: Option<String>,
    sample_rate: Option<u32>,
    max_streams: Option<usize>,
    connect_timeout_seconds: Option<u64>,
}

/// The `[media_streaming]` table checked.
fn streaming_config(
    file: Option<StreamingFile>,
) -> anyhow::Result<Option<switchboard_voice::streaming::StreamingConfig>> {
    let Some(f) = file else { return Ok(None) };
    let url = f.url.trim().to_string();
    if !(url.starts_with("ws://") || url.starts_with("wss://")) || url.len() > 2048 {
        anyhow::bail!("media_streaming.url must be a ws:// or wss:// URL");
    }
    let sample_rate = f.sample_rate.unwrap_or(8_000);
    if sample_rate != 8_000 && sample_rate != 16_000 {
        anyhow::bail!("media_streaming.sample_rate must be 8000 or 16000");
    }
    let max_streams = f.max_streams.unwrap_or(100);
    if !(1..=10_000).contains(&max_streams) {
        anyhow::bail!("media_streaming.max_streams must be 1 to 10000");
    }
    let connect = f.connect_timeout_seconds.unwrap_or(5);
    if !(1..=60).contains(&connect) {
        anyhow::bail!("media_streaming.connect_timeout_seconds must be 1 to 60");
    }
    Ok(Some(switchboard_voice::streaming::StreamingConfig {
        url,
        token: f.token,
        sample_rate,
        max_streams,
        connect_timeout: std::time::Duration::from_secs(connect),
    }))
}

/// The `[speech]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SpeechFile {
    /// `on-box` (PocketSphinx, the default), `openai-compatible` (needs
    /// `url`), or `off`.
    engine: Option<String>,
    url: Option<String>,
    /// PocketSphinx's model folder (Debian's `pocketsphinx-en-us` by default).
    model_dir: Option<PathBuf>,
    #[serde(default = "default_speech_model")]
    model: String,
    #[serde(default = "default_speech_language")]
    language: String,
    api_key: Option<String>,
    timeout_seconds: Option<u64>,
    max_concurrent: Option<usize>,
}

/// The `[speech]` table checked: on the box unless it says otherwise.
fn speech_config(
    file: Option<SpeechFile>,
) -> anyhow::Result<Option<switchboard_voice::speech::SpeechConfig>> {
    use switchboard_voice::speech::{openai::OpenAiConfig, sphinx::SphinxConfig, SpeechConfig};
    let Some(sp) = file else {
        return Ok(Some(SpeechConfig::OnBox(SphinxConfig::default())));
    };
    let engine = match (sp.engine.as_deref(), &sp.url) {
        (Some(e), _) => e.to_string(),
        // A URL alone means the endpoint (how the table was first written).
        (None, Some(_)) => "openai-compatible".into(),
        (None, None) => "on-box".into(),
    };
    let timeout = sp.timeout_seconds.unwrap_or(10);
    if !(1..=120).contains(&timeout) {
        anyhow::bail!("speech.timeout_seconds must be 1 to 120");
    }
    let timeout = std::time::Duration::from_secs(timeout);
    match engine.as_str() {
        "off" => Ok(None),
        "on-box" => {
            if sp.url.is_some() {
                anyhow::bail!("speech.url is for engine = \"openai-compatible\"");
            }
            let mut c = SphinxConfig::default();
            if let Some(dir) = sp.model_dir {
                c.model_dir = dir;
            }
            if let Some(n) = sp.max_concurrent {
                if !(1..=64).contains(&n) {
                    anyhow::bail!("speech.max_concurrent must be 1 to 64 on the box (a core each)");
                }
                c.max_concurrent = n;
            }
            c.timeout = timeout;
            Ok(Some(SpeechConfig::OnBox(c)))
        }
        "openai-compatible" => {
            let url = sp
                .url
                .unwrap_or_default()
                .trim()
                .trim_end_matches('/')
                .to_string();
            if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 2048 {
                anyhow::bail!("speech.url must be an http:// or https:// URL");
            }
            let max_concurrent = sp.max_concurrent.unwrap_or(8);
            if !(1..=1000).contains(&max_concurrent) {
                anyhow::bail!("speech.max_concurrent must be 1 to 1000");
            }
            Ok(Some(SpeechConfig::OpenAi(OpenAiConfig {
                base_url: url,
                model: sp.model,
                api_key: sp.api_key,
                language: sp.language,
                timeout,
                max_concurrent,
            })))
        }
        other => anyhow::bail!(
            "speech.engine must be \"on-box\", \"openai-compatible\" or \"off\", not \"{other}\""
        ),
    }
}

fn default_speech_model() -> String {
    "whisper-1".into()
}

fn default_speech_language() -> String {
    "en".into()
}

/// The settings in force.
#[derive(Debug)]
pub(crate) struct Config {
    pub listen: String,
    pub data_dir: PathBuf,
    pub database_url: String,
    pub blob_dir: PathBuf,
    /// Files in this S3-compatible bucket instead of `blob_dir`.
    pub s3: Option<switchboard_store::S3Config>,
    /// The speech recogniser for bots on calls; none: off.
    pub speech: Option<switchboard_voice::speech::SpeechConfig>,
    /// Where calls' audio is streamed; none: not at all.
    pub media_streaming: Option<switchboard_voice::streaming::StreamingConfig>,
    pub session_hours: i64,
    /// How long an agent has to accept an offered contact.
    pub offer_timeout_seconds: u64,
    /// SIP (UDP and TCP) for trunks and desk phones.
    pub sip_listen: std::net::SocketAddr,
    /// SIP in the other IP family as well, on `sip_listen`'s port.
    pub sip_listen_other: Option<std::net::SocketAddr>,
    /// The address RTP binds to and SDP advertises [default: the SIP address].
    pub media_ip: std::net::IpAddr,
    /// A media address of the other IP family, for peers there.
    pub media_ip_other: Option<std::net::IpAddr>,
    /// DNS servers for carriers' SIP servers (none: the system's).
    pub dns_servers: Vec<std::net::SocketAddr>,
    pub sip_tls: Option<switchboard_voice::TlsListen>,
    pub rtp_ports: Option<(u16, u16)>,
    /// How long an agent's CCP may be away (reload, network) before they are made unroutable.
    pub ccp_grace_seconds: u64,
    /// Chats one client address may start per minute.
    pub chat_starts_per_minute: usize,
    /// Open HTTP connections one client address may hold (default: 512, at
    /// most the HTTP share of the descriptor limit). Raise it behind a proxy.
    pub http_connections_per_address: Option<usize>,
    /// Open SIP connections over TCP and TLS one source address may hold
    /// (default: 200, at most SIP's share of the descriptor limit). Raise
    /// it for many desk phones behind one NAT.
    pub sip_connections_per_address: Option<usize>,
    /// Desk phones' registrations: interval bounds and devices per agent.
    pub sip_registration: switchboard_voice::registrar::ExpiryPolicy,
    /// What desk phones dial to set their agent's status.
    pub feature_codes: switchboard_voice::feature_codes::FeatureCodes,
    /// When set, `/metrics` needs it as a bearer token.
    pub metrics_token: Option<String>,
    /// The sites whose pages may run the chat widget.
    pub chat_allowed_origins: switchboard_webchat::origins::AllowedOrigins,
    /// An idle customer who owes a reply is warned after this long...
    pub chat_idle_warning_seconds: u64,
    /// ...and disconnected once the reply has been owed this long.
    pub chat_idle_disconnect_seconds: u64,
    /// A chat's longest life when its start request names none.
    pub chat_duration_minutes: u64,
    /// Prices for usage reports.
    pub rate_card: switchboard_reports::usage::RateCard,
    /// What the pages call this instance.
    pub instance_name: String,
}

impl Config {
    pub(crate) fn resolve(args: &ServeArgs) -> anyhow::Result<Self> {
        let file = match &args.config {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .with_context(|| format!("reading the config file {}", path.display()))?;
                toml::from_str::<FileConfig>(&text)
                    .with_context(|| format!("in the config file {}", path.display()))?
            }
            None => FileConfig::default(),
        };
        let data_dir = args
            .data_dir
            .clone()
            .or(file.data_dir)
            .unwrap_or_else(|| PathBuf::from("data"));
        let database_url = args
            .database_url
            .clone()
            .or(file.database_url)
            .unwrap_or_else(|| sqlite_url(&data_dir.join("switchboard.db")));
        let session_hours = file.session_hours.unwrap_or(12);
        let ccp_grace_seconds = file.ccp_grace_seconds.unwrap_or(30);
        anyhow::ensure!(
            (5..=600).contains(&ccp_grace_seconds),
            "ccp_grace_seconds must be between 5 and 600, got {ccp_grace_seconds}"
        );
        let chat_starts_per_minute = file.chat_starts_per_minute.unwrap_or(30);
        anyhow::ensure!(
            (1..=1_000_000).contains(&chat_starts_per_minute),
            "chat_starts_per_minute must be between 1 and 1000000, got {chat_starts_per_minute}"
        );
        if let Some(n) = file.http_connections_per_address {
            anyhow::ensure!(
                (1..=1_000_000).contains(&n),
                "http_connections_per_address must be between 1 and 1000000, got {n}"
            );
        }
        if let Some(n) = file.sip_connections_per_address {
            anyhow::ensure!(
                (1..=1_000_000).contains(&n),
                "sip_connections_per_address must be between 1 and 1000000, got {n}"
            );
        }
        let default_policy = switchboard_voice::registrar::ExpiryPolicy::default();
        let sip_registration = switchboard_voice::registrar::ExpiryPolicy {
            min: file
                .sip_registration_min_seconds
                .unwrap_or(default_policy.min),
            max: file
                .sip_registration_max_seconds
                .unwrap_or(default_policy.max),
            devices: file.sip_devices_per_agent.unwrap_or(default_policy.devices),
            ..default_policy
        };
        anyhow::ensure!(
            (1..=3600).contains(&sip_registration.min),
            "sip_registration_min_seconds must be between 1 and 3600, got {}",
            sip_registration.min
        );
        anyhow::ensure!(
            (sip_registration.min..=86_400).contains(&sip_registration.max),
            "sip_registration_max_seconds must be between sip_registration_min_seconds ({}) and 86400, got {}",
            sip_registration.min,
            sip_registration.max
        );
        anyhow::ensure!(
            (1..=100).contains(&sip_registration.devices),
            "sip_devices_per_agent must be between 1 and 100, got {}",
            sip_registration.devices
        );
        let feature_codes = match file.feature_codes {
            None => switchboard_voice::feature_codes::FeatureCodes::default(),
            Some(codes) => {
                for (code, status) in &codes {
                    anyhow::ensure!(
                        !code.is_empty()
                            && code.len() <= 16
                            && code
                                .chars()
                                .all(|c| c.is_ascii_digit() || c == '*' || c == '#'),
                        "feature_codes: '{code}' must be 1 to 16 of 0-9, * and #"
                    );
                    anyhow::ensure!(
                        !status.trim().is_empty(),
                        "feature_codes: '{code}' names no agent status"
                    );
                }
                switchboard_voice::feature_codes::FeatureCodes(codes.into_iter().collect())
            }
        };
        if let Some(t) = &file.metrics_token {
            anyhow::ensure!(
                t.len() >= 16 && !t.chars().any(char::is_whitespace),
                "metrics_token must be at least 16 characters with no spaces"
            );
        }
        let chat_allowed_origins = switchboard_webchat::origins::AllowedOrigins::parse(
            file.chat_allowed_origins.as_deref().unwrap_or_default(),
        )?;
        let chat_idle_warning_seconds = file.chat_idle_warning_seconds.unwrap_or(300);
        let chat_idle_disconnect_seconds = file.chat_idle_disconnect_seconds.unwrap_or(600);
        for (name, value) in [
            ("chat_idle_warning_seconds", chat_idle_warning_seconds),
            ("chat_idle_disconnect_seconds", chat_idle_disconnect_seconds),
        ] {
            anyhow::ensure!(
                (10..=86_400).contains(&value),
                "{name} must be between 10 and 86400, got {value}"
            );
        }
        anyhow::ensure!(
            chat_idle_warning_seconds < chat_idle_disconnect_seconds,
            "chat_idle_warning_seconds ({chat_idle_warning_seconds}) must be below chat_idle_disconnect_seconds ({chat_idle_disconnect_seconds})"
        );
        let chat_duration_minutes = file.chat_duration_minutes.unwrap_or(1500);
        // Connect's own range for a chat's duration: 1 hour to 7 days.
        anyhow::ensure!(
            (60..=10_080).contains(&chat_duration_minutes),
            "chat_duration_minutes must be between 60 and 10080, got {chat_duration_minutes}"
        );
        let instance_name = file
            .instance_name
            .map(|n| n.trim().to_string())
            .unwrap_or_else(|| "Switchboard".into());
        anyhow::ensure!(
            !instance_name.is_empty() && instance_name.chars().count() <= 64,
            "instance_name must be 1 to 64 characters"
        );
        let rate_card = file.rate_card.unwrap_or_default();
        if let Some((field, reason)) = rate_card.validate().into_iter().next() {
            anyhow::bail!("rate_card.{field} {reason}");
        }
        let offer_timeout_seconds = file.offer_timeout_seconds.unwrap_or(20);
        anyhow::ensure!(
            (5..=300).contains(&offer_timeout_seconds),
            "offer_timeout_seconds must be between 5 and 300, got {offer_timeout_seconds}"
        );
        anyhow::ensure!(
            (1..=24 * 30).contains(&session_hours),
            "session_hours must be between 1 and 720, got {session_hours}"
        );
        let sip_text = args
            .sip_listen
            .clone()
            .or(file.sip_listen)
            .unwrap_or_else(|| "127.0.0.1:5060".into());
        let sip_listen: std::net::SocketAddr = sip_text
            .parse()
            .with_context(|| format!("sip_listen must be IP:port, got '{sip_text}'"))?;
        let sip_listen_other = match file.sip_listen_other {
            None => None,
            Some(text) => {
                // An address, or an address and port (which must be sip_listen's).
                let address = text
                    .parse::<std::net::SocketAddr>()
                    .or_else(|_| {
                        text.trim_start_matches('[')
                            .trim_end_matches(']')
                            .parse::<std::net::IpAddr>()
                            .map(|ip| std::net::SocketAddr::new(ip, sip_listen.port()))
                    })
                    .with_context(|| {
                        format!("sip_listen_other must be an IP address (or IP:port), got '{text}'")
                    })?;
                anyhow::ensure!(
                    address.is_ipv4() != sip_listen.is_ipv4(),
                    "sip_listen_other ({address}) must be of the other IP family than sip_listen ({sip_listen})"
                );
                anyhow::ensure!(
                    address.port() == sip_listen.port(),
                    "sip_listen_other ({address}) must use sip_listen's port ({})",
                    sip_listen.port()
                );
                // A wildcard names no address for peers to reach us at:
                // media_ip_other says which (Contacts, Vias and SDP use it).
                anyhow::ensure!(
                    !address.ip().is_unspecified()
                        || file
                            .media_ip_other
                            .as_deref()
                            .and_then(|ip| ip.parse::<std::net::IpAddr>().ok())
                            .is_some_and(|ip| !ip.is_unspecified()),
                    "sip_listen_other ({address}) listens on every address of its family: set \
                     media_ip_other to the one peers reach"
                );
                Some(address)
            }
        };
        let media_ip = match file.media_ip {
            Some(ip) => ip
                .parse()
                .with_context(|| format!("media_ip must be an IP address, got '{ip}'"))?,
            None => sip_listen.ip(),
        };
        let media_ip_other: Option<std::net::IpAddr> = match file.media_ip_other {
            Some(ip) => Some(
                ip.parse()
                    .with_context(|| format!("media_ip_other must be an IP address, got '{ip}'"))?,
            ),
            // SIP at an address of the other family: media there too.
            None => sip_listen_other
                .map(|a| a.ip())
                .filter(|ip| !ip.is_unspecified()),
        };
        if let Some(other) = media_ip_other {
            anyhow::ensure!(
                other.is_ipv4() != media_ip.is_ipv4(),
                "media_ip_other ({other}) must be of the other IP family than media_ip ({media_ip})"
            );
        }
        let dns_servers = file
            .dns_servers
            .iter()
            .map(|server| {
                let server = server.trim();
                server
                    .parse::<std::net::SocketAddr>()
                    .or_else(|_| {
                        server
                            .parse::<std::net::IpAddr>()
                            .map(|ip| std::net::SocketAddr::new(ip, 53))
                    })
                    .with_context(|| {
                        format!("dns_servers: '{server}' is not an IP address or IP:port")
                    })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let speech = speech_config(file.speech)?;
        let media_streaming = streaming_config(file.media_streaming)?;
        let sip_tls = match (file.sip_tls_listen, file.sip_tls_cert, file.sip_tls_key) {
            (None, None, None) => None,
            (Some(listen), Some(cert_pem), Some(key_pem)) => Some(switchboard_voice::TlsListen {
                listen: listen
                    .parse()
                    .with_context(|| format!("sip_tls_listen must be IP:port, got '{listen}'"))?,
                cert_pem,
                key_pem,
            }),
            _ => anyhow::bail!("sip_tls_listen, sip_tls_cert and sip_tls_key go together"),
        };
        let rtp_ports = match (file.rtp_port_min, file.rtp_port_max) {
            (None, None) => None,
            (Some(low), Some(high)) if 1024 <= low && low < high => Some((low, high)),
            (Some(low), Some(high)) => anyhow::bail!(
                "rtp_port_min must be at least 1024 and below rtp_port_max, got {low}-{high}"
            ),
            _ => anyhow::bail!("rtp_port_min and rtp_port_max go together"),
        };
        Ok(Self {
            ccp_grace_seconds,
            chat_starts_per_minute,
            http_connections_per_address: file.http_connections_per_address,
            sip_connections_per_address: file.sip_connections_per_address,
            sip_registration,
            feature_codes,
            metrics_token: file.metrics_token,
            chat_allowed_origins,
            chat_idle_warning_seconds,
            chat_idle_disconnect_seconds,
            chat_duration_minutes,
            rate_card,
            instance_name,
            rtp_ports,
            sip_tls,
            sip_listen,
            sip_listen_other,
            media_ip,
            media_ip_other,
            dns_servers,
            listen: args
                .listen
                .clone()
                .or(file.listen)
                .unwrap_or_else(|| "127.0.0.1:8080".into()),
            blob_dir: file.blob_dir.unwrap_or_else(|| data_dir.join("objects")),
            s3: file.s3,
            speech,
            media_streaming,
            database_url,
            data_dir,
            session_hours,
            offer_timeout_seconds,
        })
    }
}

fn sqlite_url(path: &Path) -> String {
    format!("sqlite://{}?mode=rwc", path.display())
}

/// A database URL fit for a log line: the password replaced.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme_end + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The configuration a file of `text` (and no flags) resolves to.
    fn resolve(text: &str) -> anyhow::Result<Config> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sb.toml");
        std::fs::write(&file, text).unwrap();
        Config::resolve(&ServeArgs {
            config: Some(file),
            ..Default::default()
        })
    }

    #[test]
    fn sip_on_both_ip_families_shares_the_port_and_bad_values_are_refused_by_name() {
        let cfg = resolve(
            "sip_listen = \"0.0.0.0:5070\"\nsip_listen_other = \"[::]\"\nmedia_ip_other = \"2001:db8::10\"\n",
        )
        .unwrap();
        assert_eq!(cfg.sip_listen_other, Some("[::]:5070".parse().unwrap()));
        assert_eq!(cfg.media_ip_other, Some("2001:db8::10".parse().unwrap()));
        let cfg = resolve("sip_listen = \"127.0.0.1:5070\"\nsip_listen_other = \"[::1]:5070\"\n")
            .unwrap();
        assert_eq!(cfg.sip_listen_other, Some("[::1]:5070".parse().unwrap()));
        assert_eq!(
            cfg.media_ip_other,
            Some("::1".parse().unwrap()),
            "media follows SIP"
        );
        assert_eq!(resolve("").unwrap().sip_listen_other, None);
        for text in [
            "sip_listen = \"127.0.0.1:5070\"\nsip_listen_other = \"10.0.0.1\"\n",
            "sip_listen = \"127.0.0.1:5070\"\nsip_listen_other = \"[::1]:5080\"\n",
            "sip_listen_other = \"here\"\n",
            // A wildcard with no address to advertise.
            "sip_listen = \"0.0.0.0:5070\"\nsip_listen_other = \"[::]\"\n",
        ] {
            let err = format!("{:#}", resolve(text).unwrap_err());
            assert!(err.contains("sip_listen_other"), "{text}: {err}");
        }
    }

    #[test]
    fn a_speech_table_names_the_recogniser_and_bad_values_are_refused_by_name() {
        use switchboard_voice::speech::SpeechConfig;
        assert!(
            matches!(resolve("").unwrap().speech, Some(SpeechConfig::OnBox(_))),
            "on the box unless configured"
        );
        assert!(resolve("[speech]\nengine = \"off\"\n")
            .unwrap()
            .speech
            .is_none());
        let Some(SpeechConfig::OnBox(onbox)) =
            resolve("[speech]\nmodel_dir = \"/srv/model\"\nmax_concurrent = 3\n")
                .unwrap()
                .speech
        else {
            panic!("on the box");
        };
        assert_eq!(onbox.model_dir, PathBuf::from("/srv/model"));
        assert_eq!(onbox.max_concurrent, 3);
        let cfg =
            resolve("[speech]\nurl = \"http://127.0.0.1:8178/\"\nmax_concurrent = 2\n").unwrap();
        let Some(SpeechConfig::OpenAi(speech)) = cfg.speech else {
            panic!("a URL means the endpoint");
        };
        assert_eq!(speech.base_url, "http://127.0.0.1:8178");
        assert_eq!(speech.model, "whisper-1");
        assert_eq!(speech.language, "en");
        assert_eq!(speech.max_concurrent, 2);
        assert_eq!(speech.timeout, std::time::Duration::from_secs(10));
        for (text, field) in [
            ("[speech]\nurl = \"ftp://x\"\n", "speech.url"),
            (
                "[speech]\nurl = \"http://x\"\ntimeout_seconds = 0\n",
                "speech.timeout_seconds",
            ),
            (
                "[speech]\nurl = \"http://x\"\nmax_concurrent = 0\n",
                "speech.max_concurrent",
            ),
            (
                "[speech]\nurl = \"http://x\"\nengine = \"magic\"\n",
                "speech.engine",
            ),
            (
                "[speech]\nengine = \"on-box\"\nurl = \"http://x\"\n",
                "speech.url",
            ),
            ("[speech]\nmax_concurrent = 65\n", "speech.max_concurrent"),
        ] {
            let err = format!("{:#}", resolve(text).unwrap_err());
            assert!(err.contains(field), "{text}: {err}");
        }
    }

    #[test]
    fn a_media_streaming_table_names_the_endpoint_and_bad_values_are_refused_by_name() {
        assert!(resolve("").unwrap().media_streaming.is_none());
        let s =
            resolve("[media_streaming]\nurl = \"ws://127.0.0.1:9100/s\"\nsample_rate = 16000\n")
                .unwrap()
                .media_streaming
                .unwrap();
        assert_eq!(
            (s.url.as_str(), s.sample_rate, s.max_streams),
            ("ws://127.0.0.1:9100/s", 16_000, 100)
        );
        for (text, field) in [
            (
                "[media_streaming]\nurl = \"http://x\"\n",
                "media_streaming.url",
            ),
            (
                "[media_streaming]\nurl = \"ws://x\"\nsample_rate = 44100\n",
                "media_streaming.sample_rate",
            ),
            (
                "[media_streaming]\nurl = \"ws://x\"\nmax_streams = 0\n",
                "media_streaming.max_streams",
            ),
        ] {
            let err = format!("{:#}", resolve(text).unwrap_err());
            assert!(err.contains(field), "{text}: {err}");
        }
    }

    #[test]
    fn defaults_then_file_then_flags() {
        let cfg = Config::resolve(&ServeArgs::default()).unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:8080");
        assert_eq!(cfg.database_url, "sqlite://data/switchboard.db?mode=rwc");
        assert_eq!(cfg.blob_dir, PathBuf::from("data/objects"));

        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sb.toml");
        std::fs::write(
            &file,
            "listen = \"127.0.0.1:9000\"\ndata_dir = \"/srv/sb\"\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            listen: Some("127.0.0.1:9001".into()),
            ..Default::default()
        };
        let cfg = Config::resolve(&args).unwrap();
        assert_eq!(cfg.listen, "127.0.0.1:9001", "flag beats file");
        assert_eq!(cfg.data_dir, PathBuf::from("/srv/sb"), "file beats default");
        assert_eq!(cfg.database_url, "sqlite:///srv/sb/switchboard.db?mode=rwc");
        assert!(cfg.dns_servers.is_empty(), "the system's DNS by default");

        std::fs::write(&file, "dns_servers = [\"192.0.2.53\", \"[::1]:5353\"]\n").unwrap();
        let cfg = Config::resolve(&ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap();
        let servers: Vec<String> = cfg.dns_servers.iter().map(|s| s.to_string()).collect();
        assert_eq!(servers, ["192.0.2.53:53", "[::1]:5353"]);
        std::fs::write(&file, "dns_servers = [\"dns.example\"]\n").unwrap();
        let err = Config::resolve(&ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        })
        .unwrap_err();
        assert!(format!("{err:#}").contains("dns_servers"), "{err:#}");

        std::fs::write(&file, "offer_timeout_seconds = 1\n").unwrap();
        let err = format!(
            "{:#}",
            Config::resolve(&ServeArgs {
                config: Some(file.clone()),
                ..Default::default()
            })
            .unwrap_err()
        );
        assert!(
            err.contains("offer_timeout_seconds must be between 5 and 300"),
            "{err}"
        );

        std::fs::write(&file, "listne = \"oops\"\n").unwrap();
        let err = format!(
            "{:#}",
            Config::resolve(&ServeArgs {
                config: Some(file.clone()),
                ..Default::default()
            })
            .unwrap_err()
        );
        assert!(err.contains("unknown field `listne`"), "{err}");

        std::fs::write(
            &file,
            "chat_idle_warning_seconds = 60\nchat_idle_disconnect_seconds = 90\nchat_duration_minutes = 120\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let cfg = Config::resolve(&args).unwrap();
        assert_eq!(
            (
                cfg.chat_idle_warning_seconds,
                cfg.chat_idle_disconnect_seconds,
                cfg.chat_duration_minutes
            ),
            (60, 90, 120)
        );
        std::fs::write(&file, "chat_idle_warning_seconds = 700\n").unwrap();
        let err = format!("{:#}", Config::resolve(&args).unwrap_err());
        assert!(
            err.contains("must be below chat_idle_disconnect_seconds"),
            "{err}"
        );
        std::fs::write(&file, "chat_duration_minutes = 5\n").unwrap();
        let err = format!("{:#}", Config::resolve(&args).unwrap_err());
        assert!(
            err.contains("chat_duration_minutes must be between 60 and 10080"),
            "{err}"
        );

        // A rate card from the file replaces the default; a bad price is refused.
        let card = "[rate_card]\ncurrency = \"EUR\"\nvoice_service_per_minute = 0.002\nchat_per_message = 0.003\nnumbers = [{ country = \"DE\", number_type = \"DID\", inbound_per_minute = 0.005, per_day = 0.04 }]\n";
        std::fs::write(&file, card).unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let cfg = Config::resolve(&args).unwrap();
        assert_eq!(cfg.rate_card.currency, "EUR");
        assert_eq!(cfg.rate_card.numbers[0].per_day, Some(0.04));
        std::fs::write(&file, card.replace("0.003", "-1")).unwrap();
        let err = format!("{:#}", Config::resolve(&args).unwrap_err());
        assert!(
            err.contains("rate_card.chat_per_message must be a price"),
            "{err}"
        );
    }

    #[test]
    fn desk_phone_settings_are_read_and_checked() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sb.toml");
        let args = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        std::fs::write(
            &file,
            "sip_registration_min_seconds = 120\nsip_devices_per_agent = 3\nfeature_codes = { \"*55\" = \"Lunch\" }\n",
        )
        .unwrap();
        let cfg = Config::resolve(&args).unwrap();
        assert_eq!(cfg.sip_registration.min, 120);
        assert_eq!(cfg.sip_registration.max, 3600);
        assert_eq!(cfg.sip_registration.devices, 3);
        assert_eq!(cfg.feature_codes.status_for("*55"), Some("Lunch"));
        assert_eq!(cfg.feature_codes.status_for("*1"), None);
        for (bad, says) in [
            (
                "sip_registration_max_seconds = 30\n",
                "sip_registration_max_seconds must be between",
            ),
            (
                "sip_devices_per_agent = 0\n",
                "sip_devices_per_agent must be between 1 and 100",
            ),
            (
                "feature_codes = { \"*9x\" = \"Available\" }\n",
                "feature_codes: '*9x' must be",
            ),
        ] {
            std::fs::write(&file, bad).unwrap();
            let err = format!("{:#}", Config::resolve(&args).unwrap_err());
            assert!(err.contains(says), "{bad}: {err}");
        }
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            redact("postgres://sb:secret@db:5432/sb"),
            "postgres://sb:***@db:5432/sb"
        );
        assert_eq!(redact("sqlite://data/sb.db"), "sqlite://data/sb.db");
    }
}
